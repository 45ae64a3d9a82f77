//! rinit in real containers: podman with runc (.ci/run installs podman,
//! runc and busybox-static).

use crate::common::*;
use crate::needs::{Need::*, busybox};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// podman's storage does not like concurrent builds; one at a time.
static PODMAN: Mutex<()> = Mutex::new(());

const RUN_FLAGS: [&str; 4] = [
    "--ulimit",
    "nofile=20000:20000",
    "--ulimit",
    "nproc=4096:4096",
];

fn podman() -> Command {
    let mut cmd = Command::new("podman");
    cmd.args(["--runtime", "runc", "--cgroup-manager", "cgroupfs"]);
    cmd
}

fn podman_ok(args: &[&str]) -> String {
    let out = podman().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "podman {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An image built for one test, removed with it, along with any container
/// the test started.
struct Image {
    tag: String,
    containers: Vec<String>,
}

impl Image {
    /// `with_rinit`: the Dockerfile.test image; otherwise a plain busybox
    /// image with no init in it.
    fn build(name: &str, with_rinit: bool) -> Image {
        let tag = format!("localhost/rinit-it-{name}-{}:latest", std::process::id());
        let context = TempDir::new(name);
        let copy = |from: &str, to: &str| {
            std::fs::copy(from, context.path().join(to))
                .unwrap_or_else(|e| panic!("cannot copy {from}: {e}"));
        };
        copy(&busybox(), "busybox");
        let dockerfile = if with_rinit {
            copy(static_rinit(), "rinit");
            copy(
                &format!(
                    "{}/tests/container/scenarios.sh",
                    env!("CARGO_MANIFEST_DIR")
                ),
                "scenarios.sh",
            );
            format!("{}/Dockerfile.test", env!("CARGO_MANIFEST_DIR"))
        } else {
            let path = context.file("Dockerfile");
            std::fs::write(
                &path,
                "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n",
            )
            .unwrap();
            path
        };
        podman_ok(&[
            "build",
            "--quiet",
            "-f",
            &dockerfile,
            "-t",
            &tag,
            context.path().to_str().unwrap(),
        ]);
        Image {
            tag,
            containers: Vec::new(),
        }
    }

    fn container_name(&mut self) -> String {
        // Unique across images too: two tests' first containers must not
        // share a name.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("rinit-it-{}-{n}", std::process::id());
        self.containers.push(name.clone());
        name
    }

    /// Starts `sh -c script` detached in a container of this image, with
    /// extra `podman run` flags; waits until it prints "ready" and times a
    /// `podman stop -t STOP_TIMEOUT`. Returns the container's name and how
    /// long the stop took.
    fn run_and_stop(
        &mut self,
        flags: &[&str],
        script: &str,
        stop_timeout: &str,
    ) -> (String, Duration) {
        let name = self.container_name();
        podman_ok(
            &[
                &["run", "-d", "--name", &name][..],
                flags,
                &RUN_FLAGS,
                &[&self.tag, "sh", "-c", script],
            ]
            .concat(),
        );
        wait_for_log(&name, "ready");
        let started = Instant::now();
        podman_ok(&["stop", "-t", stop_timeout, &name]);
        (name, started.elapsed())
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        for name in &self.containers {
            let _ = podman().args(["rm", "-f", "-t", "0", name]).output();
        }
        let _ = podman().args(["rmi", "-f", &self.tag]).output();
    }
}

/// The static musl rinit: RINIT_TEST_BINARY when CI gives it, else built.
fn static_rinit() -> &'static str {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        if let Ok(path) = std::env::var("RINIT_TEST_BINARY") {
            return path;
        }
        let status = Command::new(option_env!("CARGO").unwrap_or("cargo"))
            .args([
                "build",
                "--quiet",
                "--release",
                "--target",
                "x86_64-unknown-linux-musl",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success(), "cannot build the static rinit");
        format!(
            "{}/target/x86_64-unknown-linux-musl/release/rinit",
            env!("CARGO_MANIFEST_DIR")
        )
    })
}

fn wait_for_log(name: &str, needle: &str) {
    wait_until(
        &format!("'{needle}' in the logs of {name}"),
        secs(20.0),
        || {
            podman()
                .args(["logs", name])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(needle))
        },
    );
}

fn exit_code(name: &str) -> i32 {
    podman_ok(&["wait", name]).trim().parse().unwrap()
}

/// Dockerfile.test builds FROM scratch and every scenario passes inside it,
/// through the project's own script (as a user would run it).
fn dockerfile_test_scenarios_pass() {
    let _lock = PODMAN.lock().unwrap_or_else(|e| e.into_inner());
    let mut cmd = Command::new(format!(
        "{}/scripts/container-test.sh",
        env!("CARGO_MANIFEST_DIR")
    ));
    cmd.env("RINIT", static_rinit())
        .env("BUSYBOX", busybox())
        .env("ENGINE", "podman")
        .env(
            "IMAGE",
            format!("localhost/rinit-it-script-{}:latest", std::process::id()),
        );
    let out = run(cmd, secs(300.0));
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("5 passed, 0 failed"), "{out:?}");
    assert!(!out.stdout.contains("not ok"), "{out:?}");
}

/// `--init --init-path rinit` on an image with no init: podman runs it as
/// `/run/podman-init -- CMD`; it reaps, forwards, and the container's exit
/// code is the command's.
fn init_path_drop_in() {
    let _lock = PODMAN.lock().unwrap_or_else(|e| e.into_inner());
    let image = Image::build("plain", false);
    let script = r#"
        tr '\0' ' ' < /proc/1/cmdline; echo
        echo "parent=$PPID"
        i=0; while [ $i -lt 100 ]; do (usleep 200000 &); i=$((i + 1)); done
        trap 'echo got-usr1' USR1
        kill -USR1 1
        n=0
        while [ $n -lt 50 ]; do
            z=0
            for f in /proc/[0-9]*/stat; do read -r l < $f 2>/dev/null && case "${l##*) }" in Z*) z=$((z + 1));; esac; done
            [ $z = 0 ] && ! pidof usleep >/dev/null && break
            n=$((n + 1)); sleep 0.1
        done
        echo "zombies=$z"
        exit 7"#;
    let mut cmd = podman();
    cmd.args(["run", "--rm"]).args(RUN_FLAGS).args([
        "--init",
        "--init-path",
        static_rinit(),
        &image.tag,
        "sh",
        "-c",
        script,
    ]);
    let out = run(cmd, secs(120.0));
    assert_eq!(out.code, Some(7), "{out:?}");
    assert!(
        out.stdout.starts_with("/run/podman-init -- sh -c"),
        "{out:?}"
    );
    assert!(out.stdout.contains("parent=1\n"), "{out:?}");
    assert!(out.stdout.contains("got-usr1"), "{out:?}");
    assert!(out.stdout.contains("zombies=0"), "{out:?}");
}

/// `podman stop -t 5`: SIGTERM reaches the command through rinit (the
/// image's ENTRYPOINT), it exits cleanly, and that is the container's code.
fn stop_forwards_term() {
    let _lock = PODMAN.lock().unwrap_or_else(|e| e.into_inner());
    let mut image = Image::build("stop", true);
    let script = "trap 'echo got-term; exit 42' TERM; echo ready; while :; do sleep 0.1; done";
    let (name, took) = image.run_and_stop(&[], script, "5");
    assert_eq!(exit_code(&name), 42);
    assert!(
        took < secs(4.0),
        "stop took {took:?}: SIGTERM did not get through"
    );
    assert!(podman_ok(&["logs", &name]).contains("got-term"));
}

/// A command that ignores SIGTERM, with RINIT_KILL_AFTER=1s: the container
/// stops in about a second, exit 137, long before podman's own 30 s.
fn kill_after_stops_a_command_that_ignores_term() {
    let _lock = PODMAN.lock().unwrap_or_else(|e| e.into_inner());
    let mut image = Image::build("killafter", true);
    let script = "trap '' TERM; echo ready; while :; do sleep 0.1; done";
    let (name, took) = image.run_and_stop(&["-e", "RINIT_KILL_AFTER=1s"], script, "30");
    assert_eq!(exit_code(&name), 137);
    assert!(took >= secs(0.9) && took < secs(4.0), "stop took {took:?}");
}

/// RINIT_LEAKS=fail in a real container: a command that succeeds but leaves
/// a server behind fails the container with 99, and the log names it.
fn leaks_fail_in_a_container() {
    let _lock = PODMAN.lock().unwrap_or_else(|e| e.into_inner());
    let mut image = Image::build("leaks", true);
    let name = image.container_name();
    let script = r#"sleep 1000 & until [ "$(cat /proc/$!/comm)" = sleep ]; do sleep 0.01; done; echo tests-passed"#;
    let mut cmd = podman();
    cmd.args(["run", "--name", &name, "-e", "RINIT_LEAKS=fail"])
        .args(RUN_FLAGS)
        .args([&image.tag, "sh", "-c", script]);
    let out = run(cmd, secs(120.0));
    assert_eq!(out.code, Some(99), "{out:?}");
    assert!(out.stdout.contains("tests-passed"), "{out:?}");
    assert!(
        out.stderr
            .contains("still running after the main child exited: sleep 1000 (")
            && out.stderr.contains("re-parented to rinit"),
        "{out:?}"
    );
    assert!(out.stderr.contains("1 process(es) left behind"), "{out:?}");
}

/// `rinit -P` as podman's pod infra process (instead of catatonit -P),
/// with the pod sharing its PID namespace: a container in the pod sees it
/// as PID 1, its orphans are reaped by it, and `podman pod stop` ends it
/// at once with 0 (not after the stop timeout's SIGKILL).
fn pod_infra_pause() {
    let _lock = PODMAN.lock().unwrap_or_else(|e| e.into_inner());
    let image = Image::build("infra", true);
    // `pod create` has no --ulimit, and podman's default nofile is above
    // this host's hard limit: runc fails to start the infra then.
    let conf = TempDir::new("infra-conf");
    let conf_file = conf.file("containers.conf");
    std::fs::write(
        &conf_file,
        "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=4096:4096\"]\n",
    )
    .unwrap();
    let pod = format!("rinit-it-pod-{}", std::process::id());
    struct Pod<'a>(&'a str, &'a str);
    impl Drop for Pod<'_> {
        fn drop(&mut self) {
            let _ = podman()
                .env("CONTAINERS_CONF", self.1)
                .args(["pod", "rm", "-f", "-t", "0", self.0])
                .output();
        }
    }
    let _pod = Pod(&pod, &conf_file);
    let in_pod = |args: &[&str]| {
        let out = podman()
            .env("CONTAINERS_CONF", &conf_file)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "podman {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    // podman 4 splits the command on spaces; its JSON form is taken as one
    // path.
    in_pod(&[
        "pod",
        "create",
        "--name",
        &pod,
        "--share",
        "pid,ipc,net,uts",
        "--infra-image",
        &image.tag,
        "--infra-command",
        "/rinit -P",
    ]);
    let script = r#"
        tr '\0' ' ' < /proc/1/cmdline; echo
        for i in 1 2 3 4 5; do (usleep 200000 &); done
        n=0
        while [ $n -lt 50 ]; do
            z=0
            for f in /proc/[0-9]*/stat; do read -r l < $f 2>/dev/null && case "${l##*) }" in Z*) z=$((z + 1));; esac; done
            [ $z = 0 ] && ! pidof usleep >/dev/null && break
            n=$((n + 1)); sleep 0.1
        done
        echo "zombies=$z"
        exit 7"#;
    let mut cmd = podman();
    cmd.env("CONTAINERS_CONF", &conf_file)
        .args(["run", "--rm", "--pod", &pod, &image.tag, "sh", "-c", script]);
    let out = run(cmd, secs(120.0));
    assert_eq!(out.code, Some(7), "{out:?}");
    assert!(out.stdout.starts_with("/rinit -P \n"), "{out:?}");
    assert!(out.stdout.contains("zombies=0"), "{out:?}");
    let infra = in_pod(&["pod", "inspect", &pod, "--format", "{{.InfraContainerID}}"]);
    let started = Instant::now();
    in_pod(&["pod", "stop", "-t", "20", &pod]);
    let took = started.elapsed();
    assert!(took < secs(10.0), "pod stop took {took:?}");
    assert_eq!(
        in_pod(&["inspect", "--format", "{{.State.ExitCode}}", &infra]),
        "0"
    );
}

/// `podman run --sdnotify=container` without systemd: podman (conmon)
/// passes its own NOTIFY_SOCKET into the container and relays the
/// container's READY=1 to the one it was given. rinit's --ready sends it
/// once the file appears, two seconds in: podman relays it, not before.
fn sdnotify_container_gets_ready_from_rinit() {
    use std::os::unix::net::UnixDatagram;
    let _lock = PODMAN.lock().unwrap_or_else(|e| e.into_inner());
    let mut image = Image::build("sdnotify", true);
    let dir = TempDir::new("sdnotify");
    let socket_path = dir.file("notify.sock");
    let listener = UnixDatagram::bind(&socket_path).unwrap();
    listener.set_read_timeout(Some(secs(1.0))).unwrap();
    let name = image.container_name();
    let started = Instant::now();
    let mut run = podman();
    run.env("NOTIFY_SOCKET", &socket_path)
        .args([
            "run",
            "--name",
            &name,
            "--network",
            "none",
            "--sdnotify=container",
        ])
        .args(RUN_FLAGS)
        .args([
            "--entrypoint",
            r#"["/rinit","--ready","file:/tmp/up","--"]"#,
            &image.tag,
            "sh",
            "-c",
            "sleep 2; touch /tmp/up; sleep 1; exit 0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = run.spawn().unwrap();
    let mut ready_after = None;
    let mut messages = Vec::new();
    let mut buf = [0u8; 4096];
    while started.elapsed() < secs(30.0) && ready_after.is_none() {
        if let Ok(n) = listener.recv(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if text.contains("READY=1") {
                ready_after = Some(started.elapsed());
            }
            messages.push(text);
        }
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "podman: {stderr}");
    let after = ready_after.unwrap_or_else(|| panic!("no READY=1: {messages:?} {stderr}"));
    assert!(
        after >= secs(2.0),
        "READY=1 after {after:?}, before the file was made: {messages:?}"
    );
}

tests! {
    &[Root, Podman] => [
        leaks_fail_in_a_container,
        dockerfile_test_scenarios_pass,
        init_path_drop_in,
        stop_forwards_term,
        kill_after_stops_a_command_that_ignores_term,
        pod_infra_pause,
        sdnotify_container_gets_ready_from_rinit,
    ];
}
