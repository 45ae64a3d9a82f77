//! Embeds the git commit in `rinit --version` ("rinit version X - git.SHA",
//! the form dockerd parses for --init-path) when built from a checkout.
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs");
    println!("cargo:rerun-if-env-changed=RINIT_GIT_SHA");
    if std::env::var_os("RINIT_GIT_SHA").is_some() {
        return;
    }
    let sha = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    if !sha.is_empty() {
        println!("cargo:rustc-env=RINIT_GIT_SHA={sha}");
    }
}
