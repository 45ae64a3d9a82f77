use crate::common::*;
use crate::needs::Need::*;
use std::process::Command;

const PGRP_PY: &str =
    "import os; print('PGRP', os.getpid(), os.getpgrp(), os.getpgid(os.getppid()))";

/// The child leads a process group of its own, separate from rinit's.
fn child_has_its_own_process_group() {
    for cmd in [
        pid1(&["python3", "-c", PGRP_PY]),
        subreaper(&["python3", "-c", PGRP_PY]),
    ] {
        let out = run(cmd, secs(10.0));
        assert_eq!(out.code, Some(0), "{out:?}");
        let line = out.stdout.lines().find(|l| l.starts_with("PGRP")).unwrap();
        let f: Vec<i32> = line
            .split(' ')
            .skip(1)
            .map(|x| x.parse().unwrap())
            .collect();
        assert_eq!(f[0], f[1], "child is not its group's leader: {line}");
        assert_ne!(f[1], f[2], "child shares rinit's group: {line}");
    }
}

fn in_pty(command: &str) -> Command {
    let mut cmd = Command::new("script");
    cmd.args(["-qefc", command, "/dev/null"]);
    cmd
}

/// When stdin is the controlling terminal, the child's group becomes the
/// foreground group.
fn child_gets_the_terminal() {
    let py = "import os; print('TTY', os.getpgrp(), os.tcgetpgrp(0))";
    let out = run(
        in_pty(&format!("{} python3 -c \"{py}\"", rinit())),
        secs(20.0),
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("TTY"))
        .unwrap_or_else(|| panic!("{out:?}"));
    let f: Vec<&str> = line.trim().split(' ').collect();
    assert_eq!(f[1], f[2], "child is not in the foreground: {line}");
}

/// An interactive bash under rinit has working job control.
fn interactive_bash_has_job_control() {
    let script = "sleep 0.2 & fg %1 >/dev/null; echo fg-status=$?";
    let command = format!("{} bash --norc --noprofile -i -c '{script}'", rinit());
    let out = run(in_pty(&command), secs(20.0));
    assert_eq!(out.code, Some(0), "{out:?}");
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(!all.contains("no job control"), "{out:?}");
    assert!(
        !all.contains("cannot set terminal process group"),
        "{out:?}"
    );
    assert!(all.contains("fg-status=0"), "{out:?}");
}

/// As PID 1 rinit waits at exit for a terminal on stderr to send what it
/// holds (a machine's console loses it at the kernel's panic); a pty holds
/// nothing back, so the exit is not delayed, and the code and output pass.
fn pid1_on_a_terminal_exits_without_delay() {
    let command = format!(
        "unshare --pid --fork --mount-proc {} sh -c 'echo out-line; echo err-line >&2; exit 3'",
        rinit()
    );
    let started = std::time::Instant::now();
    let out = run(in_pty(&command), secs(20.0));
    let took = started.elapsed();
    assert_eq!(out.code, Some(3), "{out:?}");
    assert!(
        out.stdout.contains("out-line") && out.stdout.contains("err-line"),
        "{out:?}"
    );
    assert!(
        took < secs(1.5),
        "took {took:?}: the exit waited on the terminal"
    );
}

fn sig_lines(text: &str, prefix: &str) -> (String, String) {
    let find = |field: &str| {
        text.lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .find_map(|l| l.trim().strip_prefix(field).map(|v| v.trim().to_string()))
            .unwrap_or_else(|| panic!("no {prefix}{field} in {text}"))
    };
    (find("SigBlk:"), find("SigIgn:"))
}

/// The child starts with exactly the signal mask and ignored signals that
/// rinit's caller had, whatever rinit blocked for itself (tini's sigconf
/// test). Both with SIGPIPE ignored and with it at its default: Rust
/// programs normally ignore SIGPIPE before main, rinit must not. And with
/// SIGCHLD ignored, which rinit cannot keep for itself (the kernel would
/// reap its child unseen) but must give back to the child.
fn child_gets_the_callers_signal_state() {
    for pipe in ["pipe-default", "pipe-ignored", "pipe-ignored,chld-ignored"] {
        let caller = [
            "python3",
            &helper("sigstate.py"),
            pipe,
            rinit(),
            "grep",
            "^Sig",
            "/proc/self/status",
        ];
        let mut in_ns = Command::new("unshare");
        in_ns
            .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
            .args(caller);
        let mut direct = Command::new(caller[0]);
        direct.args(&caller[1..]);
        for (mode, cmd) in [("pid1", in_ns), ("subreaper", direct)] {
            let out = run(cmd, secs(10.0));
            assert_eq!(out.code, Some(0), "{mode} {pipe}: {out:?}");
            let (caller_blk, caller_ign) = sig_lines(&out.stderr, "CALLER ");
            let (child_blk, child_ign) = sig_lines(&out.stdout, "");
            assert_eq!(child_blk, caller_blk, "{mode} {pipe}: mask differs");
            assert_eq!(child_ign, caller_ign, "{mode} {pipe}: ignored set differs");
            assert_ne!(caller_blk, "0000000000000000");
            let pipe_bit = 1u64 << 12;
            let ign = u64::from_str_radix(&child_ign, 16).unwrap();
            assert_eq!(
                ign & pipe_bit != 0,
                pipe.starts_with("pipe-ignored"),
                "{mode}: SIGPIPE disposition"
            );
            let chld_bit = 1u64 << 16;
            assert_eq!(
                ign & chld_bit != 0,
                pipe.ends_with("chld-ignored"),
                "{mode} {pipe}: SIGCHLD disposition"
            );
        }
    }
}

/// No rinit-private descriptor reaches the child, the child keeps what the
/// caller passed, and rinit itself lets go of those and of its cwd.
fn descriptors_and_cwd() {
    let dir = TempDir::new("fds");
    let caller = [
        "python3",
        &helper("fds.py"),
        "caller",
        rinit(),
        "python3",
        &helper("fds.py"),
        "child",
    ];
    let mut in_ns = Command::new("unshare");
    in_ns
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .args(caller)
        .current_dir(dir.path());
    let mut direct = Command::new(caller[0]);
    direct.args(&caller[1..]).current_dir(dir.path());
    for (mode, cmd) in [("pid1", in_ns), ("subreaper", direct)] {
        let out = run(cmd, secs(10.0));
        assert_eq!(out.code, Some(0), "{mode}: {out:?}");
        let field = |name: &str| {
            out.stdout
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap_or_else(|| panic!("{mode}: {out:?}"))
                .trim()
                .to_string()
        };
        // Whatever the caller passed (7 and anything the test runner had).
        assert_eq!(field("CHILD_FDS "), field("CALLER_FDS "), "{mode}");
        assert!(field("CHILD_FDS ").starts_with("0,1,2,"), "{mode}");
        assert!(field("CHILD_FDS ").split(',').any(|f| f == "7"), "{mode}");
        let rinit_fds = field("RINIT_FDS ");
        let above_2: Vec<&str> = rinit_fds
            .split(',')
            .filter(|e| !["0=", "1=", "2="].iter().any(|p| e.starts_with(p)))
            .collect();
        assert_eq!(above_2.len(), 1, "{mode}: rinit keeps {rinit_fds}");
        assert!(
            above_2[0].ends_with("anon_inode:[signalfd]"),
            "{mode}: {rinit_fds}"
        );
        assert_eq!(field("RINIT_CWD "), "/", "{mode}");
        assert_eq!(
            field("CHILD_CWD "),
            dir.path().canonicalize().unwrap().to_str().unwrap(),
            "{mode}"
        );
    }
}

tests! {
    &[Root, PidNs, Python] => [
        child_has_its_own_process_group,
        child_gets_the_callers_signal_state,
        descriptors_and_cwd,
    ];
    &[Pty, Python] => [child_gets_the_terminal];
    &[Pty] => [interactive_bash_has_job_control];
    &[Root, PidNs, Pty] => [pid1_on_a_terminal_exits_without_delay];
}
