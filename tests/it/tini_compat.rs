//! rinit in place of tini: tini's README examples, its flags and
//! variables, -w's warning per reaped zombie, and socket activation
//! through LISTEN_PID (podman names the init there; the command must find
//! its own pid).

use crate::common::*;
use crate::needs::Need::*;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::Command;

/// `tini [OPTIONS] -- CMD` (tini's README and ENTRYPOINTs) with the
/// environment `env`, as PID 1 and as a subreaper.
fn both_ways(options: &[&str], env: &[(&str, &str)], command: &[&str]) -> [Finished; 2] {
    let args: Vec<&str> = options
        .iter()
        .chain(&["--"])
        .chain(command)
        .copied()
        .collect();
    [pid1(&args), subreaper(&args)].map(|mut cmd| {
        cmd.envs(env.iter().copied());
        run(cmd, secs(20.0))
    })
}

const EXIT_3: [&str; 3] = ["sh", "-c", "exit 3"];

fn tinis_readme_examples_run_with_their_exit_codes() {
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], i32);
    let cases: &[Case] = &[
        // ENTRYPOINT ["/tini", "--"]
        (&[], &[], 3),
        (&["-s"], &[], 3),
        (&["-g"], &[], 3),
        (&["-w"], &[], 3),
        (&["-v"], &[], 3),
        (&["-s", "-g", "-w", "-vvv"], &[], 3),
        (&["-sgw"], &[], 3),
        // "Remapping exit codes": tini -e 143 -- ...
        (&["-e", "3"], &[], 0),
        (&["-e", "143"], &[], 3),
        // "Process group killing" / "Parent death signal"
        (&["-g", "-p", "SIGTERM"], &[], 3),
        // The variables, set as docker run -e does, empty or not.
        (&[], &[("TINI_SUBREAPER", "")], 3),
        (&[], &[("TINI_SUBREAPER", "1")], 3),
        (&[], &[("TINI_KILL_PROCESS_GROUP", "1")], 3),
        (&[], &[("TINI_VERBOSITY", "3")], 3),
        (&[], &[("TINI_VERBOSITY", "0")], 3),
    ];
    for (options, env, code) in cases {
        for out in both_ways(options, env, &EXIT_3) {
            assert_eq!(out.code, Some(*code), "{options:?} {env:?}: {out:?}");
            if !options.iter().any(|o| o.starts_with("-v")) && !env.iter().any(|e| e.1 == "3") {
                assert_eq!(
                    out.stderr.matches("rinit:").count(),
                    0,
                    "{options:?}: {out:?}"
                );
            }
        }
    }
    // -vvv and TINI_VERBOSITY=3: debug lines.
    for (options, env) in [(&["-vv"][..], &[][..]), (&[], &[("TINI_VERBOSITY", "3")])] {
        for out in both_ways(options, env, &EXIT_3) {
            assert!(out.stderr.contains("rinit: DEBUG "), "{out:?}");
        }
    }
    // -l prints the license; --version is tini's form.
    let out = run(pid1(&["-l"]), secs(10.0));
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.starts_with("MIT License\n"), "{out:?}");
    let out = run(pid1(&["--version"]), secs(10.0));
    assert!(out.stdout.starts_with("tini version "), "{out:?}");
}

/// A contradiction is a usage error, the command not run.
fn signal_group_and_child_only_refuse_each_other() {
    let mut cmd = pid1(&["--signal-child-only", "--", "sh", "-c", "echo ran"]);
    cmd.env("TINI_KILL_PROCESS_GROUP", "1");
    let out = run(cmd, secs(10.0));
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("contradict"), "{out:?}");
    assert!(!out.stdout.contains("ran"), "{out:?}");
}

/// Three orphans that say their pids, then exit while the command still
/// runs: rinit reaps each.
const THREE_ORPHANS: &str =
    "for i in 1 2 3; do (sh -c 'echo orphan $$; exec sleep 0.2' &); done; sleep 1.5; exit 4";

/// The pids of rinit's -w warnings, and of the orphans.
fn warned_and_orphans(out: &Finished) -> (BTreeSet<String>, BTreeSet<String>) {
    let warned = out
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("rinit: WARN reaped zombie process with pid="))
        .map(|rest| rest.split(' ').next().unwrap_or_default().to_string())
        .collect();
    let orphans = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("orphan "))
        .map(str::to_string)
        .collect();
    (warned, orphans)
}

fn warn_on_reap_says_each_reaped_zombie_once() {
    for out in both_ways(&["-w"], &[], &["sh", "-c", THREE_ORPHANS]) {
        assert_eq!(out.code, Some(4), "{out:?}");
        let (warned, orphans) = warned_and_orphans(&out);
        assert_eq!(orphans.len(), 3, "{out:?}");
        assert_eq!(warned, orphans, "{out:?}");
        assert_eq!(out.stderr.matches("reaped zombie").count(), 3, "{out:?}");
    }
    // The variable does the same; without either, not a word.
    let [pid1_run, _] = both_ways(
        &[],
        &[("RINIT_WARN_ON_REAP", "1")],
        &["sh", "-c", THREE_ORPHANS],
    );
    assert_eq!(
        pid1_run.stderr.matches("reaped zombie").count(),
        3,
        "{pid1_run:?}"
    );
    for out in both_ways(&[], &[], &["sh", "-c", THREE_ORPHANS]) {
        assert_eq!(out.code, Some(4), "{out:?}");
        assert!(!out.stderr.contains("rinit:"), "{out:?}");
    }
}

/// Python wraps rinit as podman does (a socket on fd 3, LISTEN_FDS=1,
/// LISTEN_PID) with `listen_pid` (`self`: the pid rinit will have), as PID
/// 1 of a PID namespace or as a subreaper; the command is
/// `socket_activation.py serve`. Returns the answer of the one connection
/// made, and how it all ended.
fn activated(as_pid1: bool, listen_pid: &str) -> (String, Finished) {
    let script = helper("socket_activation.py");
    let args = [
        "python3",
        &script,
        "wrap",
        listen_pid,
        rinit(),
        "--",
        "python3",
        &script,
        "serve",
    ];
    let cmd = if as_pid1 {
        let mut cmd = Command::new("unshare");
        cmd.args(PID_NS).args(args);
        cmd
    } else {
        // Not exec'd by the shell: sh stays PID 1, rinit is a subreaper.
        sh_in(&PID_NS, "\"$@\"\nexit $?", &args)
    };
    let started = start(cmd, secs(20.0));
    let port_line = started.wait_stdout("LISTEN_PID=", secs(10.0));
    let port: u16 = port_line
        .lines()
        .find_map(|l| l.strip_prefix("port "))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {port_line:?}"));
    let mut answer = String::new();
    if let Ok(stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
        stream.set_read_timeout(Some(secs(10.0))).unwrap();
        let _ = BufReader::new(stream).read_line(&mut answer);
    }
    (answer, started.finish())
}

fn listen_pid_naming_rinit_becomes_the_childs_pid() {
    for as_pid1 in [true, false] {
        let (answer, out) = activated(as_pid1, "self");
        assert_eq!(out.code, Some(0), "{out:?}");
        let served_by = answer.strip_prefix("served by ").map(str::trim);
        let child_pid = out
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("LISTEN_PID="))
            .and_then(|l| l.split(' ').next());
        assert!(
            served_by.is_some() && served_by == child_pid,
            "{answer:?} {out:?}"
        );
        if as_pid1 {
            // LISTEN_PID was 1: rinit's.
            assert!(out.stdout.contains(" ppid=1 "), "{out:?}");
        }
    }
}

fn listen_pid_naming_another_process_is_passed_unchanged() {
    let (answer, out) = activated(false, "99999");
    assert_eq!(answer, "", "{out:?}");
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stdout.contains("LISTEN_PID=99999 "), "{out:?}");
    assert!(out.stdout.contains("LISTEN_FDS=1"), "{out:?}");
}

tests! {
    &[Root, PidNs] => [
        tinis_readme_examples_run_with_their_exit_codes,
        signal_group_and_child_only_refuse_each_other,
        warn_on_reap_says_each_reaped_zombie_once,
    ];
    &[Root, PidNs, Python] => [
        listen_pid_naming_rinit_becomes_the_childs_pid,
        listen_pid_naming_another_process_is_passed_unchanged,
    ];
}
