//! CI mode (--leaks) and the exit report (--report), with the real binary:
//! what a command leaves behind is named, the leak code replaces only a
//! success, orphans are counted by name, and the report validates against
//! docs/exit-report.schema.json.

use crate::common::*;
use crate::needs::Need::*;
use std::process::Command;

/// A shell function: `wait_for 'sleep 999'` returns once a process runs
/// exactly that command line (exec'd, not a fork still named sh).
const WAIT_FOR: &str = r#"wait_for() { until (for p in /proc/[0-9]*/cmdline; do [ "$(tr '\0' ' ' < $p 2>/dev/null)" = "$1 " ] && exit 0; done; exit 1); do sleep 0.01; done; }"#;

/// rinit ARGS as PID 1 or as a subreaper (both modes run every check).
fn both(args: &[&str]) -> [(&'static str, Command); 2] {
    [("pid1", pid1(args)), ("subreaper", subreaper(args))]
}

/// A test suite that starts a server in the background and exits 0: the
/// server is named with its command line, how it ended is said, and with
/// `fail` rinit exits with the leak code (99), with `warn` with 0.
fn a_forgotten_server_is_reported_and_fails_the_build() {
    // Until the server has exec'd, rinit would see a forked sh.
    let suite = r#"sleep 1000 & until [ "$(cat /proc/$!/comm)" = sleep ]; do sleep 0.01; done; echo tests-passed; exit 0"#;
    for mode in ["warn", "fail"] {
        for (how, cmd) in both(&["--leaks", mode, "--", "sh", "-c", suite]) {
            let out = run(cmd, secs(30.0));
            let expected = if mode == "fail" { 99 } else { 0 };
            let code = if how == "pid1" {
                out.code
            } else {
                rinit_exit(&out.stderr)
            };
            assert_eq!(code, Some(expected), "{mode} {how}: {out:?}");
            assert!(out.stdout.contains("tests-passed"), "{out:?}");
            let warned: Vec<&str> = out
                .stderr
                .lines()
                .filter(|l| l.contains("still running after the main child exited"))
                .collect();
            assert_eq!(warned.len(), 1, "{mode} {how}: {out:?}");
            assert!(warned[0].contains(": sleep 1000 (running for "), "{out:?}");
            assert!(warned[0].contains("re-parented to rinit"), "{out:?}");
            assert!(
                out.stderr.contains("(sleep) ended on SIGTERM after "),
                "{out:?}"
            );
            assert!(
                out.stderr.contains(
                    "leak summary: main child exited with code 0; no orphan reaped during the run; 1 process(es) left behind"
                ),
                "{mode} {how}: {out:?}"
            );
        }
    }
}

/// `--leaks-exit-code` and RINIT_LEAKS: the variable works like the flag.
fn the_leak_code_is_configurable_by_environment() {
    let mut cmd = pid1(&["sh", "-c", "sleep 1000 & exit 0"]);
    cmd.env("RINIT_LEAKS", "fail")
        .env("RINIT_LEAKS_EXIT_CODE", "42");
    let out = run(cmd, secs(30.0));
    assert_eq!(out.code, Some(42), "{out:?}");
}

/// A double-forked daemon (its parent exited) is named as re-parented to
/// rinit; a worker that still has its daemon parent is named as its child.
fn a_double_forked_daemon_is_named_as_reparented() {
    let script = format!(
        "{WAIT_FOR}; (sh -c 'sleep 1000 & exec sleep 999' &); wait_for 'sleep 999'; wait_for 'sleep 1000'; exit 0"
    );
    for (how, cmd) in both(&["--leaks", "warn", "--", "sh", "-c", &script]) {
        let out = run(cmd, secs(30.0));
        let line = |needle: &str| {
            out.stderr
                .lines()
                .find(|l| l.contains("still running") && l.contains(needle))
                .unwrap_or_else(|| panic!("{how}: no warning for {needle}: {out:?}"))
                .to_string()
        };
        assert!(
            line("sleep 999").contains("re-parented to rinit"),
            "{how}: {out:?}"
        );
        assert!(
            line("sleep 1000").contains("still a child of pid "),
            "{how}: {out:?}"
        );
        assert!(line("sleep 1000").contains("(sleep)"), "{how}: {out:?}");
    }
}

/// A program that makes exactly 100 orphans: the summary says 100, with
/// their command name, and the report lists them.
fn a_hundred_orphans_are_counted_by_name() {
    let dir = TempDir::new("orphans");
    let report = dir.file("report.json");
    for (how, cmd) in both(&[
        "--leaks",
        "warn",
        "-v",
        "--report",
        &report,
        "--",
        "python3",
        &helper("orphan_maker.py"),
        "100",
        "orphan-x",
    ]) {
        let out = run(cmd, secs(60.0));
        assert!(out.stdout.contains("LEFT 0"), "{how}: {out:?}");
        assert!(
            out.stderr.contains(
                "leak summary: main child exited with code 0; 100 orphan(s) reaped during the run (orphan-x x100); 0 process(es) left behind"
            ),
            "{how}: {out:?}"
        );
        let facts = report_facts(&report);
        assert!(
            facts.contains("ORPHANS count=100 names=orphan-x:100\n"),
            "{how}: {facts}"
        );
        assert!(
            facts.contains("EXIT code=0 main=0 mode=warn"),
            "{how}: {facts}"
        );
    }
}

/// A main child that fails keeps its code, leftovers or not.
fn a_failing_command_keeps_its_code() {
    for (how, cmd) in both(&["--leaks", "fail", "--", "sh", "-c", "sleep 1000 & exit 3"]) {
        let out = run(cmd, secs(30.0));
        let code = if how == "pid1" {
            out.code
        } else {
            rinit_exit(&out.stderr)
        };
        assert_eq!(code, Some(3), "{how}: {out:?}");
        assert!(out.stderr.contains("1 process(es) left behind"), "{out:?}");
    }
}

/// Nothing left behind: no warning at all, and the command's code.
fn no_leftovers_no_warning() {
    for (how, cmd) in both(&["--leaks", "fail", "--", "sh", "-c", "sleep 0.01; exit 0"]) {
        let out = run(cmd, secs(30.0));
        let code = if how == "pid1" {
            out.code
        } else {
            rinit_exit(&out.stderr)
        };
        assert_eq!(code, Some(0), "{how}: {out:?}");
        assert!(!out.stderr.contains("rinit:"), "{how}: {out:?}");
    }
}

/// `off`, set or not, prints nothing new: the same stderr as before.
fn off_prints_nothing_new() {
    let script = "sleep 1000 & exit 0";
    let mut unset = pid1(&["sh", "-c", script]);
    unset.env_remove("RINIT_LEAKS");
    let mut off = pid1(&["sh", "-c", script]);
    off.env("RINIT_LEAKS", "off");
    let (unset, off) = (run(unset, secs(30.0)), run(off, secs(30.0)));
    assert_eq!(unset.code, Some(0), "{unset:?}");
    assert_eq!(off.code, Some(0), "{off:?}");
    assert_eq!(unset.stderr, "", "{unset:?}");
    assert_eq!(off.stderr, unset.stderr);
}

/// The report is written at every exit, not only after a stuck one, and a
/// real one validates against the schema docs/exit-report.md documents: here with
/// a leftover that ignores SIGTERM and is SIGKILLed after the grace.
fn the_exit_report_validates_against_the_schema() {
    let dir = TempDir::new("exitreport");
    let report = dir.file("report.json");
    let script = r#"f=$(mktemp -u); sh -c 'trap "" TERM; touch "$0"; while :; do sleep 0.05; done' "$f" & until [ -e "$f" ]; do sleep 0.01; done; rm -f "$f"; exit 0"#;
    for (how, cmd) in both(&[
        "--leaks", "fail", "--grace", "300ms", "--report", &report, "--", "sh", "-c", script,
    ]) {
        let _ = std::fs::remove_file(&report);
        let out = run(cmd, secs(30.0));
        assert!(
            out.stderr
                .contains("ignored SIGTERM for the grace (300 ms): killed by SIGKILL"),
            "{how}: {out:?}"
        );
        let facts = report_facts(&report);
        assert!(
            facts.contains("EXIT code=99 main=0 mode=fail oom=0 stuck=None"),
            "{how}: {facts}"
        );
        assert!(
            facts.contains("comm=sh reparented=True end=killed after_ms=None code=None signal=9"),
            "{how}: {facts}"
        );
    }
    // --leaks off: the report is still written, leftovers listed.
    let out = run(
        pid1(&["--report", &report, "--", "sh", "-c", "exit 5"]),
        secs(30.0),
    );
    assert_eq!(out.code, Some(5), "{out:?}");
    let facts = report_facts(&report);
    assert!(facts.contains("EXIT code=5 main=5 mode=off"), "{facts}");
}

/// A background job is still a forked `sh leak.sh` when the main child
/// exits, and `sleep 300` by the time the grace is over (it waits on a fifo
/// that the test opens only after the leak warning): the ending line and
/// the exit report name both, the warning at the exit what it was then.
fn a_leftover_is_named_by_what_it_became() {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = TempDir::new("became");
    let report = dir.file("report.json");
    let fifo = dir.file("go");
    let script = dir.file("leak.sh");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    // TERM ignored before the fork: the job outlives the teardown's SIGTERM.
    std::fs::write(
        &script,
        format!("trap '' TERM\n(read go < {fifo}; exec sleep 300) &\nexit 0\n"),
    )
    .unwrap();
    for (how, cmd) in both(&[
        "--leaks", "warn", "--grace", "3s", "--report", &report, "--", "sh", &script,
    ]) {
        let _ = std::fs::remove_file(&report);
        let run = start(cmd, secs(30.0));
        let warned = run.wait_stderr("still running after the main child exited", secs(10.0));
        assert!(
            warned.contains(&format!(": sh {script} (running for ")),
            "{how}: {warned}"
        );
        // Non-blocking: with no reader (the job gone) this fails rather than
        // hangs.
        wait_until("the job reading the fifo", secs(10.0), || {
            std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&fifo)
                .and_then(|mut f| std::io::Write::write_all(&mut f, b"go\n"))
                .is_ok()
        });
        let out = run.finish();
        assert!(
            out.stderr.contains(&format!(
                "(sh {script}, now sleep 300) ignored SIGTERM for the grace (3000 ms): killed by SIGKILL"
            )),
            "{how}: {out:?}"
        );
        let facts = report_facts(&report);
        assert!(
            facts.contains("comm=sh reparented=True end=killed"),
            "{how}: {facts}"
        );
        let json = std::fs::read_to_string(&report).unwrap();
        assert!(
            json.contains(r#""now_comm":"sleep","now_cmdline":["sleep","300"]"#),
            "{how}: {json}"
        );
    }
}

/// A leftover with a megabyte of argv that ignores SIGTERM: every line
/// that names it (the leak warning, the grace's survivors) shows a bounded
/// part of its command line with the whole length, so that no line reaches
/// the 16 KiB where Docker's json-file and CRI split lines (and the
/// continuation would start with its text); the report's cmdline is
/// capped as docs/exit-report.md says. A leftover whose name and argv
/// hold a bidi override (U+202E) shows it escaped.
fn a_megabyte_of_argv_makes_bounded_lines() {
    let dir = TempDir::new("longargv");
    let report = dir.file("report.json");
    // The interpreter itself, not a wrapper that execs it with another
    // argv[0]: the length the lines name is known.
    let python = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .unwrap();
    let python = String::from_utf8(python.stdout).unwrap().trim().to_string();
    // Each renames itself once it is ready, for the script to wait on.
    let ignore_term = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); open('/proc/self/comm', 'w').write('deaf'); time.sleep(300)";
    let rename =
        r"import time; open('/proc/self/comm', 'w').write('evil\u202etxt'); time.sleep(300)";
    // MAX_ARG_STRLEN: one argument holds at most 128 KiB; ten make 1 MB.
    let suite = format!(
        r#"x=$(head -c 100000 /dev/zero | tr '\0' x)
{python} -c "{ignore_term}" $x $x $x $x $x $x $x $x $x $x & long=$!
{python} -c "{rename}" 'gpj.{rlo}exe' & renamed=$!
until [ "$(cat /proc/$long/comm)" = deaf ] && [ "$(cat /proc/$renamed/comm)" = 'evil{rlo}txt' ]; do sleep 0.01; done
exit 0"#,
        rlo = '\u{202e}'
    );
    let total = [python.as_str(), "-c", ignore_term].join(" ").len() + 10 * 100_001;
    for (how, cmd) in both(&[
        "--leaks", "warn", "--grace", "300ms", "--report", &report, "--", "sh", "-c", &suite,
    ]) {
        let _ = std::fs::remove_file(&report);
        let out = run(cmd, secs(30.0));
        let brief = |s: &str| s.chars().take(2000).collect::<String>();
        for line in out.stderr.lines() {
            assert!(
                line.len() <= 1000,
                "{how}: a line of {} bytes: {}",
                line.len(),
                brief(line)
            );
        }
        let naming: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.contains(" -c import signal"))
            .collect();
        assert_eq!(naming.len(), 2, "{how}: {}", brief(&out.stderr));
        for line in naming {
            assert!(
                line.contains(&format!("xxx... ({total} bytes in all)")),
                "{how}: {line}"
            );
        }
        assert!(
            out.stderr
                .contains("(deaf) ignored SIGTERM for the grace (300 ms)"),
            "{how}: {}",
            brief(&out.stderr)
        );
        // The override itself never reaches the log: its escape does.
        assert!(
            !out.stderr.contains('\u{202e}'),
            "{how}: {}",
            brief(&out.stderr)
        );
        assert!(
            out.stderr.contains(r"gpj.\u{202e}exe (running for "),
            "{how}: {}",
            brief(&out.stderr)
        );
        assert!(
            out.stderr.contains(r"(evil\u{202e}txt) ended on SIGTERM"),
            "{how}: {}",
            brief(&out.stderr)
        );
        let facts = report_facts(&report);
        assert!(
            facts.contains(&format!("args=4 bytes=4096 truncated=True total={total}\n")),
            "{how}: {facts}"
        );
    }
}

/// Twenty-five leftovers (and their sleeps) that ignore SIGTERM, each with
/// a long command line: the grace warning names twenty and counts the rest, so
/// that its line stays bounded however many there are.
fn the_grace_warning_names_a_bounded_number() {
    let dir = TempDir::new("manyleft");
    let d = dir.path().to_str().unwrap().to_string();
    let script = format!(
        r#"long=$(head -c 200 /dev/zero | tr '\0' y)
for i in $(seq 25); do
    sh -c "trap '' TERM; touch {d}/r.\$1; while :; do sleep 1; done" "$long" $i &
done
until [ "$(ls {d} | grep -c '^r\.')" = 25 ]; do sleep 0.01; done
exit 0"#
    );
    let out = run(
        pid1(&["--grace", "300ms", "--", "sh", "-c", &script]),
        secs(30.0),
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("ignored SIGTERM"))
        .unwrap_or_else(|| panic!("no grace warning: {}", out.stderr));
    // Each sh's sleep ignores TERM too: more than 25 in all.
    assert!(line.contains(" more; sending SIGKILL"), "{line}");
    assert_eq!(line.matches("pid ").count(), 20, "{line}");
    assert!(line.len() < 16 * 1024, "{} bytes", line.len());
}

/// The subreaper wrapper's last line: rinit's own exit code.
fn rinit_exit(stderr: &str) -> Option<i32> {
    stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("rinit-exit=")?.parse().ok())
}

tests! {
    &[Root, PidNs] => [
        a_forgotten_server_is_reported_and_fails_the_build,
        the_leak_code_is_configurable_by_environment,
        a_double_forked_daemon_is_named_as_reparented,
        a_failing_command_keeps_its_code,
        no_leftovers_no_warning,
        off_prints_nothing_new,
    ];
    &[Root, PidNs, Python, JsonSchema] => [
        a_hundred_orphans_are_counted_by_name,
        the_exit_report_validates_against_the_schema,
        a_leftover_is_named_by_what_it_became,

        a_megabyte_of_argv_makes_bounded_lines,
        the_grace_warning_names_a_bounded_number,
    ];
}
