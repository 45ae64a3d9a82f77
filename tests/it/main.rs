//! Integration tests: the real rinit binary, as PID 1 of a fresh PID
//! namespace and as a subreaper. One test per behaviour; every run has a
//! watchdog (see `common`).
//!
//! A harness of its own (libtest-mimic) so that each test declares what it
//! needs from the host (`needs`): a test whose need is missing is reported
//! as ignored, with the reason, instead of passing as "ok" or failing on
//! some unrelated assertion; with RINIT_TEST_REQUIRE it fails instead.
//! libtest's `#[ignore]` cannot do this: it is fixed at compile time.

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use needs::Need;

/// Registers the functions of the calling module, each with the needs
/// before its list: `tests! { NEEDS => [a, b]; OTHER => [c]; }`.
macro_rules! tests {
    ($($needs:expr => [$($body:ident),* $(,)?];)*) => {
        pub const TESTS: &[crate::Test] = &[$($(crate::Test {
            module: module_path!(),
            name: stringify!($body),
            needs: $needs,
            body: $body,
        },)*)*];
    };
}

mod cgroups;
mod child_setup;
mod cli;
mod common;
mod container;
mod exit_status;
mod leaks;
mod needs;
mod non_utf8;
mod pause;
mod ready;
mod reaping;
mod report;
mod seccomp;
mod shutdown;
mod signals;
mod stop_delay;
mod stuck;
mod teardown_hard;
mod teardown_targets;
mod tini_compat;

pub struct Test {
    module: &'static str,
    name: &'static str,
    needs: &'static [Need],
    body: fn(),
}

mod harness {
    use crate::needs::*;
    tests! {
        &[] => [parses_a_hybrid_layout, parses_a_pure_v2_layout_in_a_namespace];
    }
}

fn main() {
    let args = Arguments::from_args();
    let required = needs::required().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    });
    let groups = [
        harness::TESTS,
        cgroups::TESTS,
        child_setup::TESTS,
        cli::TESTS,
        container::TESTS,
        exit_status::TESTS,
        leaks::TESTS,
        non_utf8::TESTS,
        pause::TESTS,
        ready::TESTS,
        reaping::TESTS,
        report::TESTS,
        seccomp::TESTS,
        shutdown::TESTS,
        signals::TESTS,
        stop_delay::TESTS,
        stuck::TESTS,
        teardown_hard::TESTS,
        teardown_targets::TESTS,
        tini_compat::TESTS,
    ];
    let run_anyway = args.include_ignored;
    let trials = groups
        .iter()
        .flat_map(|group| group.iter())
        .map(|test| {
            let module = test.module.strip_prefix("it::").unwrap_or(test.module);
            let name = format!("{module}::{}", test.name);
            let (needs, body) = (test.needs, test.body);
            let required = required.clone();
            Trial::ignorable_test(name, move || {
                // Checked here, not up front, so that a filtered run probes
                // only what its tests need.
                let missing: Vec<(Need, &str)> = needs
                    .iter()
                    .filter_map(|need| need.check().err().map(|why| (*need, why)))
                    .collect();
                let describe = |missing: &[&(Need, &str)]| {
                    let each: Vec<String> = missing
                        .iter()
                        .map(|(need, why)| format!("{} ({why})", need.name()))
                        .collect();
                    format!("needs {}", each.join(", "))
                };
                let unmet_required: Vec<_> = missing
                    .iter()
                    .filter(|(need, _)| required.contains(need))
                    .collect();
                if !unmet_required.is_empty() {
                    let reason = describe(&unmet_required);
                    return Err(Failed::from(format!(
                        "{reason}: required by RINIT_TEST_REQUIRE"
                    )));
                }
                if !missing.is_empty() && !run_anyway {
                    let all: Vec<_> = missing.iter().collect();
                    return Ok(Completion::ignored_with(describe(&all)));
                }
                body();
                Ok(Completion::Completed)
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
