//! Embeds the git commit in `rinit --version` (`tini version X_rinit -
//! git.SHA`, the form dockerd parses for --init-path; see `cli::version`),
//! wherever the source came from: a git checkout (`git rev-parse`), a
//! `git archive` tarball (`.commit`, which `.gitattributes` has git fill
//! in on export), or a crate cargo packaged (`.cargo_vcs_info.json`).
//! RINIT_GIT_SHA, when set, wins; a tree with none of these gets no
//! commit, and --version still parses (the version alone).
use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=RINIT_GIT_SHA");
    // Only files that exist: cargo reruns the script on every build for a
    // missing one.
    for file in [".commit", ".cargo_vcs_info.json"] {
        if Path::new(file).exists() {
            println!("cargo:rerun-if-changed={file}");
        }
    }
    if std::env::var_os("RINIT_GIT_SHA").is_some() {
        return;
    }
    let sha = from_checkout()
        .or_else(|| from_archive(&read(".commit")))
        .or_else(|| from_cargo_package(&read(".cargo_vcs_info.json")));
    if let Some(sha) = sha {
        println!("cargo:rustc-env=RINIT_GIT_SHA={sha}");
    }
}

/// Only when this tree is a checkout itself: a tarball unpacked inside
/// some other repository (a distribution's packaging) must not get that
/// repository's commit.
fn from_checkout() -> Option<String> {
    if !Path::new(".git").exists() {
        return None;
    }
    // A worktree's .git is a file: ask git where HEAD and its branch are
    // (only those: the other refs change with others' work).
    let branch = git(&["rev-parse", "--symbolic-full-name", "HEAD"]).filter(|b| b != "HEAD");
    for path in ["HEAD", "packed-refs"].into_iter().chain(branch.as_deref()) {
        if let Some(found) = git(&["rev-parse", "--git-path", path])
            && Path::new(&found).exists()
        {
            println!("cargo:rerun-if-changed={found}");
        }
    }
    git(&["rev-parse", "--short", "HEAD"]).filter(|sha| is_sha(sha))
}

fn git(args: &[&str]) -> Option<String> {
    Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// `.commit` holds `$Format:%h$`, replaced by the short sha in an archive.
fn from_archive(text: &str) -> Option<String> {
    Some(text.trim().to_string()).filter(|sha| is_sha(sha))
}

/// `{"git": {"sha1": "<40 hex>"}, ...}`: the short form, as a checkout
/// gives.
fn from_cargo_package(json: &str) -> Option<String> {
    let after = json.split_once("\"sha1\"")?.1;
    let value = after.trim_start().strip_prefix(':')?.trim_start();
    let sha: String = value
        .strip_prefix('"')?
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    (sha.len() == 40).then(|| sha[..7].to_string())
}

fn is_sha(text: &str) -> bool {
    (7..=40).contains(&text.len()) && text.chars().all(|c| c.is_ascii_hexdigit())
}
