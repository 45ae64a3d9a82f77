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

tests! {
    &[Root, PidNs] => [
        exit_codes_pass_through,
        death_by_signal_gives_128_plus_n,
        remap_exit_turns_codes_into_zero,
        missing_program_exits_127_naming_it,
        unexecutable_program_exits_126,
    ];
}
