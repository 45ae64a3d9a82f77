use crate::common::*;
use crate::needs::Need::*;

/// Every code 0..=255 passes through, as PID 1 and as a subreaper.
fn exit_codes_pass_through() {
    for code in 0..=255 {
        let script = format!("exit {code}");
        let out = run(pid1(&["sh", "-c", &script]), secs(10.0));
        assert_eq!(out.code, Some(code), "{out:?}");
        assert_eq!(out.stderr, "", "{out:?}");
    }
    for code in [0, 1, 2, 126, 127, 128, 200, 255] {
        let script = format!("exit {code}");
        let out = run(subreaper(&["sh", "-c", &script]), secs(10.0));
        assert_eq!(out.code, Some(code), "{out:?}");
    }
}

/// Death by a signal gives 128+n, real-time signals included (nix's
/// waitpid fails on those; pid1-rs hangs, tino exits 1).
fn death_by_signal_gives_128_plus_n() {
    for sig in [15, 9, 11, 1, 34, 37] {
        let script = format!("kill -{sig} $$; sleep 5");
        for cmd in [
            pid1(&["sh", "-c", &script]),
            subreaper(&["sh", "-c", &script]),
        ] {
            let out = run(cmd, secs(10.0));
            assert_eq!(out.code, Some(128 + sig), "signal {sig}: {out:?}");
        }
    }
}

fn remap_exit_turns_codes_into_zero() {
    let out = run(
        pid1(&["-e", "143", "-e", "3", "sh", "-c", "kill -TERM $$; sleep 5"]),
        secs(10.0),
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    let out = run(
        pid1(&["-e", "143", "-e", "3", "sh", "-c", "exit 3"]),
        secs(10.0),
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    let out = run(pid1(&["-e", "143", "sh", "-c", "exit 4"]), secs(10.0));
    assert_eq!(out.code, Some(4), "{out:?}");
}

fn missing_program_exits_127_naming_it() {
    for cmd in [
        pid1(&["no-such-program-xyz", "a"]),
        subreaper(&["./no/such/path"]),
    ] {
        let out = run(cmd, secs(10.0));
        assert_eq!(out.code, Some(127), "{out:?}");
        let first = out.stderr.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("rinit: ERROR cannot execute '"),
            "{out:?}"
        );
        assert!(first.contains("No such file or directory"), "{out:?}");
    }
}

fn unexecutable_program_exits_126() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("exec");
    let plain = dir.file("plain");
    std::fs::write(&plain, "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
    // Executable, but neither ELF nor #!: glibc's execvp would run it with
    // /bin/sh. rinit must not: 126 and the script's side effect never happens.
    let garbage = dir.file("garbage");
    let marker = dir.file("shell-ran");
    std::fs::write(&garbage, format!("touch {marker}\n")).unwrap();
    std::fs::set_permissions(&garbage, std::fs::Permissions::from_mode(0o755)).unwrap();
    for (path, why) in [
        (plain.as_str(), "Permission denied"),
        (garbage.as_str(), "Exec format error"),
        (dir.path().to_str().unwrap(), "Permission denied"),
    ] {
        let out = run(pid1(&[path]), secs(10.0));
        assert_eq!(out.code, Some(126), "{path}: {out:?}");
        assert!(
            out.stderr.contains(&format!("cannot execute '{path}'")) && out.stderr.contains(why),
            "{out:?}"
        );
    }
    assert!(
        !std::path::Path::new(&marker).exists(),
        "ENOEXEC fell back to a shell"
    );
}

/// A fork that fails (here: RLIMIT_NPROC of a uid that has no other
/// process) made no child, so nothing was found or refused: exit 1 and
/// "cannot fork", not the shell's 126 for an unrunnable program.
fn failed_fork_exits_1() {
    // A uid of this test run's own: its process count is rinit alone.
    let uid = (60_000 + std::process::id() % 5_000).to_string();
    let mut cmd = std::process::Command::new("prlimit");
    cmd.args(["--nproc=1:1", "setpriv", "--reuid", &uid, "--regid", &uid])
        .args(["--clear-groups", rinit(), "true"]);
    let out = run(cmd, secs(10.0));
    assert_eq!(out.code, Some(1), "{out:?}");
    assert_eq!(
        out.stderr, "rinit: ERROR cannot fork: Resource temporarily unavailable\n",
        "{out:?}"
    );
}

/// A caller that left SIGCHLD ignored (`trap '' CHLD`, a Python parent
/// with SIG_IGN) does not make rinit miss its child's exit: with SIGCHLD
/// ignored the kernel reaps children itself, and waitpid never sees them.
fn exit_is_seen_when_the_caller_ignored_sigchld() {
    let ignore_then_exec = "import os, signal, sys\n\
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)\n\
        os.execv(sys.argv[1], sys.argv[1:])";
    let caller = [
        "python3",
        "-c",
        ignore_then_exec,
        rinit(),
        "sh",
        "-c",
        "exit 3",
    ];
    let mut in_ns = std::process::Command::new("unshare");
    in_ns
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .args(caller);
    let mut direct = std::process::Command::new(caller[0]);
    direct.args(&caller[1..]);
    for (mode, cmd) in [("pid1", in_ns), ("subreaper", direct)] {
        let out = run(cmd, secs(10.0));
        assert_eq!(out.code, Some(3), "{mode}: {out:?}");
        assert_eq!(out.stderr, "", "{mode}: {out:?}");
    }
}

/// The program name is the caller's text, echoed in a log line: a newline
/// or an escape sequence in it is shown escaped, never acted on.
fn an_echoed_program_name_stays_one_line() {
    let name = "no-such\nrinit: ERROR forged\x1b[2J";
    let out = run(pid1(&[name]), secs(10.0));
    assert_eq!(out.code, Some(127), "{out:?}");
    assert_eq!(
        out.stderr,
        "rinit: ERROR cannot execute 'no-such\\nrinit: ERROR forged\\x1b[2J': No such file or directory (os error 2)\n",
        "{out:?}"
    );
}

tests! {
    &[Root, PidNs] => [
        exit_codes_pass_through,
        death_by_signal_gives_128_plus_n,
        remap_exit_turns_codes_into_zero,
        missing_program_exits_127_naming_it,
        unexecutable_program_exits_126,
        an_echoed_program_name_stays_one_line,
    ];
    &[Root] => [failed_fork_exits_1];
    &[Root, PidNs, Python] => [exit_is_seen_when_the_caller_ignored_sigchld];
}
