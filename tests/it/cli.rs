use crate::common::*;
use crate::needs::Need::*;
use std::process::Command;

fn rinit_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new(rinit());
    cmd.args(args);
    cmd
}

fn help_goes_to_stdout() {
    let out = run(rinit_cmd(&["--help"]), secs(10.0));
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout
            .starts_with("Usage: rinit [OPTIONS] [--] COMMAND"),
        "{out:?}"
    );
    for flag in [
        "--signal-child-only",
        "--rewrite",
        "--remap-exit",
        "--pdeathsig",
        "--grace",
        "--kill-after",
        "--stuck-timeout",
        "--report",
        "--fuse-abort",
        "--cgroup",
        "--memory-limit",
        "--cgroup-required",
        "RINIT_LOG",
    ] {
        assert!(out.stdout.contains(flag), "help lacks {flag}");
    }
    assert_eq!(out.stderr, "");
}

fn version_has_the_form_dockerd_parses() {
    let out = run(rinit_cmd(&["--version"]), secs(10.0));
    assert_eq!(out.code, Some(0));
    // One line: dockerd reads the whole output.
    assert_eq!(out.stdout.lines().count(), 1, "{out:?}");
    let line = out.stdout.trim_end();
    let rest = line
        .strip_prefix(&format!("tini version {}_rinit", env!("CARGO_PKG_VERSION")))
        .unwrap_or_else(|| panic!("{line}"));
    if !rest.is_empty() {
        let sha = rest
            .strip_prefix(" - git.")
            .unwrap_or_else(|| panic!("{line}"));
        assert!(
            sha.len() >= 7 && sha.chars().all(|c| c.is_ascii_hexdigit()),
            "{line}"
        );
    }
    assert_eq!(run(rinit_cmd(&["-V"]), secs(10.0)).stdout, out.stdout);
}

/// Usage errors: exit 2, one line naming the problem, command not run.
fn usage_errors_are_one_line_and_run_nothing() {
    let dir = TempDir::new("usage");
    let marker = dir.file("ran");
    let touch = ["touch", marker.as_str()];
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (vec![], vec![], "no command given"),
        (vec!["--bogus"], vec![], "unknown option --bogus"),
        (vec!["-x"], vec![], "unknown option -x"),
        (vec!["--grace", "soon"], vec![], "'soon' for --grace"),
        (
            vec!["--kill-after", "1.5s"],
            vec![],
            "'1.5s' for --kill-after",
        ),
        (
            vec!["--stuck-timeout", "x"],
            vec![],
            "'x' for --stuck-timeout",
        ),
        (vec!["-r", "TERM"], vec![], "--rewrite"),
        (vec!["-r", "NOPE:TERM"], vec![], "'NOPE' is not a signal"),
        (vec!["-e", "256"], vec![], "'256' for --remap-exit"),
        (vec!["-p", "SIGNOPE"], vec![], "'SIGNOPE' for --pdeathsig"),
        (
            vec![],
            vec![("RINIT_SIGNAL_CHILD_ONLY", "maybe")],
            "'maybe' for RINIT_SIGNAL_CHILD_ONLY",
        ),
        (vec![], vec![("RINIT_GRACE", "5 seconds")], "RINIT_GRACE"),
        (
            vec![],
            vec![("RINIT_REMAP_EXIT", "1,x")],
            "RINIT_REMAP_EXIT",
        ),
        (
            vec![],
            vec![("RINIT_REWRITE", "TERM:NOPE")],
            "RINIT_REWRITE",
        ),
        (vec![], vec![("RINIT_PDEATHSIG", "NOPE")], "RINIT_PDEATHSIG"),
        (
            vec![],
            vec![("RINIT_LOG", "rinit=loud")],
            "'rinit=loud' for RINIT_LOG",
        ),
        // Signals rinit could not act on as its parent-death signal.
        (
            vec!["-p", "KILL"],
            vec![],
            "SIGKILL would kill rinit at once",
        ),
        (
            vec!["-p", "STOP"],
            vec![],
            "SIGSTOP would stop rinit for good",
        ),
        (vec!["-p", "SEGV"], vec![], "SIGSEGV is a fault signal"),
        (
            vec![],
            vec![("RINIT_PDEATHSIG", "SYS")],
            "SIGSYS is a fault signal",
        ),
        // An offset that overflows (the debug build used to panic).
        (
            vec!["-r", "RTMIN+2147483647:TERM"],
            vec![],
            "is not a signal",
        ),
        (vec!["-p", "RTMIN+2147483614"], vec![], "for --pdeathsig"),
        // Control characters in a value: escaped, still one line.
        (
            vec!["--grace", "5\nrinit: ERROR forged"],
            vec![],
            "'5\\nrinit: ERROR forged' for --grace",
        ),
        (
            vec!["--bogus\x1b[2J"],
            vec![],
            "unknown option --bogus\\x1b[2J",
        ),
        (
            vec![],
            vec![("RINIT_REWRITE", "TERM:\rNOPE")],
            "'\\rNOPE' is not a signal",
        ),
        // --report: checked before the command runs.
        (vec!["--report", ""], vec![], "'' for --report"),
        (
            vec!["--report", "/no-such-dir-rinit/r.json"],
            vec![],
            "cannot use directory /no-such-dir-rinit: No such file or directory",
        ),
        (
            vec![],
            vec![("RINIT_REPORT", "/etc/passwd/r.json")],
            "for RINIT_REPORT: /etc/passwd is not a directory",
        ),
        (vec!["--report", "/tmp/"], vec![], "not of a directory"),
    ];
    for (args, env, needle) in cases {
        let mut all: Vec<&str> = args.clone();
        if !(args.is_empty() && env.is_empty()) {
            all.extend(touch);
        }
        let mut cmd = rinit_cmd(&all);
        cmd.envs(env.iter().copied());
        let out = run(cmd, secs(10.0));
        assert_eq!(out.code, Some(2), "{all:?} {env:?}: {out:?}");
        assert_eq!(out.stderr.lines().count(), 1, "{all:?}: {out:?}");
        assert!(
            out.stderr.starts_with("rinit: ") && out.stderr.contains(needle),
            "{all:?}: {out:?}"
        );
        assert!(out.stderr.contains("rinit --help"), "no hint: {out:?}");
        assert_eq!(out.stdout, "");
        assert!(
            !std::path::Path::new(&marker).exists(),
            "{all:?} ran the command"
        );
    }
}

fn options_stop_at_the_first_non_option() {
    let out = run(rinit_cmd(&["echo", "-v", "--grace", "x"]), secs(10.0));
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout, "-v --grace x\n");
    let out = run(rinit_cmd(&["-q", "--", "echo", "--", "-q"]), secs(10.0));
    assert_eq!(out.stdout, "-- -q\n");
}

fn a_clean_run_prints_nothing() {
    for cmd in [pid1(&["true"]), subreaper(&["true"])] {
        let out = run(cmd, secs(10.0));
        assert_eq!(out.code, Some(0), "{out:?}");
        assert_eq!(out.stdout, "");
        assert_eq!(out.stderr.replace("rinit-exit=0\n", ""), "", "{out:?}");
    }
}

fn verbose_logs_go_to_stderr_with_level() {
    let out = run(pid1(&["-vv", "sh", "-c", "echo out; exit 3"]), secs(10.0));
    assert_eq!(out.code, Some(3));
    assert_eq!(out.stdout, "out\n");
    assert!(
        out.stderr.lines().all(|l| l.starts_with("rinit: ")),
        "{out:?}"
    );
    assert!(
        out.stderr
            .contains("rinit: INFO main child 2 exited with code 3"),
        "{out:?}"
    );
    assert!(out.stderr.contains("rinit: DEBUG "), "{out:?}");

    let mut cmd = pid1(&["sh", "-c", "exit 0"]);
    cmd.env("RINIT_LOG", "info");
    let out = run(cmd, secs(10.0));
    assert!(
        out.stderr.contains("rinit: INFO ") && !out.stderr.contains("DEBUG"),
        "{out:?}"
    );
    // -q wins over RINIT_LOG.
    let mut cmd = pid1(&["-q", "sh", "-c", "exit 0"]);
    cmd.env("RINIT_LOG", "debug");
    assert_eq!(run(cmd, secs(10.0)).stderr, "");
}

/// stderr a pipe nobody reads: every log write fails with EPIPE. rinit must
/// neither die of it nor pass the SIGPIPE it raises on to the child (which
/// would kill it, and each forwarding is logged again).
fn a_closed_stderr_changes_nothing() {
    let script = "import os, subprocess, sys\n\
                  r, w = os.pipe()\n\
                  os.close(r)\n\
                  print(subprocess.run(sys.argv[1:], stderr=w).returncode)";
    let mut cmd = Command::new("python3");
    cmd.args([
        "-c",
        script,
        "unshare",
        "--pid",
        "--fork",
        "--mount-proc",
        "--kill-child",
    ])
    .args([rinit(), "-vvv", "sh", "-c", "sleep 0.3; exit 3"]);
    let out = run(cmd, secs(10.0));
    assert_eq!(out.stdout, "3\n", "{out:?}");
}

/// A relative --report PATH means the directory rinit was started in, and
/// is checked there at start-up (rinit moves to / before the child runs).
fn relative_report_path_is_checked_in_the_start_directory() {
    let dir = TempDir::new("relative-report");
    let marker = dir.file("ran");
    let mut cmd = rinit_cmd(&["--report", "reports/r.json", "touch", &marker]);
    cmd.current_dir(dir.path());
    let out = run(cmd, secs(10.0));
    assert_eq!(out.code, Some(2), "{out:?}");
    assert_eq!(
        out.stderr,
        format!(
            "rinit: invalid value 'reports/r.json' for --report: cannot use directory {}/reports: No such file or directory (try 'rinit --help')\n",
            dir.path().display()
        )
    );
    assert!(!std::path::Path::new(&marker).exists());
    std::fs::create_dir(dir.path().join("reports")).unwrap();
    let mut cmd = rinit_cmd(&["--report", "reports/r.json", "touch", &marker]);
    cmd.current_dir(dir.path());
    let out = run(cmd, secs(10.0));
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(std::path::Path::new(&marker).exists());
}

/// A flag wins over its variable; a repeatable flag replaces the list.
fn flags_win_over_environment() {
    let mut cmd = rinit_cmd(&["-e", "4", "sh", "-c", "exit 3"]);
    cmd.env("RINIT_REMAP_EXIT", "3");
    assert_eq!(run(cmd, secs(10.0)).code, Some(3));
    let mut cmd = rinit_cmd(&["sh", "-c", "exit 3"]);
    cmd.env("RINIT_REMAP_EXIT", "7,3");
    assert_eq!(run(cmd, secs(10.0)).code, Some(0));
    // A bad variable does not matter when the flag is given.
    let mut cmd = rinit_cmd(&["--grace", "1s", "true"]);
    cmd.env("RINIT_GRACE", "bad");
    assert_eq!(run(cmd, secs(10.0)).code, Some(0));
}

tests! {
    &[] => [
        help_goes_to_stdout,
        version_has_the_form_dockerd_parses,
        usage_errors_are_one_line_and_run_nothing,
        options_stop_at_the_first_non_option,
        flags_win_over_environment,
        relative_report_path_is_checked_in_the_start_directory,
    ];
    &[Root, PidNs] => [a_clean_run_prints_nothing, verbose_logs_go_to_stderr_with_level];
    &[Root, PidNs, Python] => [a_closed_stderr_changes_nothing];
}
