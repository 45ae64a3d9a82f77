//! `cli::parse`: argv and the RINIT_* environment. The input is the
//! arguments, NUL-separated, then (after an empty word, "\0\0") the
//! environment as NAME=VALUE words; bytes need not be UTF-8, as in a real
//! argv.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rinit::cli::{self, Request, UsageError};
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

fuzz_target!(|data: &[u8]| {
    let mut words = data.split(|&b| b == 0);
    let args: Vec<OsString> = words
        .by_ref()
        .take_while(|w| !w.is_empty())
        .map(|w| OsString::from_vec(w.to_vec()))
        .collect();
    let env: Vec<(Vec<u8>, OsString)> = words
        .filter_map(|w| {
            let eq = w.iter().position(|&b| b == b'=')?;
            Some((w[..eq].to_vec(), OsString::from_vec(w[eq + 1..].to_vec())))
        })
        .collect();
    let lookup = |name: &str| {
        env.iter()
            .find(|(k, _)| k == name.as_bytes())
            .map(|(_, v)| v.clone())
    };

    let result = cli::parse(args.clone(), lookup);
    // Pure: the same input, the same answer.
    assert_eq!(result, cli::parse(args.clone(), lookup));
    match result {
        Err(UsageError(msg)) => {
            // rinit prints it as one log line: a value holding a newline
            // or an escape sequence must not forge a second one.
            assert!(!msg.is_empty());
            assert!(
                !msg.chars().any(char::is_control),
                "usage error with a control character: {msg:?}"
            );
        }
        Ok(Request::Help | Request::Version | Request::License | Request::Pause(_)) => {
            assert!(args.iter().any(|a| a.as_bytes().starts_with(b"-")));
        }
        Ok(Request::Run(config)) => {
            // The command is the untouched tail of argv.
            assert!(!config.command.is_empty());
            assert!(args.ends_with(&config.command));
            if let Some(name) = &config.cgroup {
                assert!(rinit::cgroup::valid_name(name), "{name:?}");
            }
            assert!(config.memory_limit.is_none_or(|m| m > 0));
            if let Some(sig) = config.pdeathsig {
                assert!((1..=rinit::signals::MAX).contains(&sig.number()));
            }
            let policy = &config.policy;
            for d in [
                Some(policy.grace),
                Some(policy.stuck_timeout),
                policy.kill_after,
                Some(policy.stop_delay),
            ]
            .into_iter()
            .flatten()
            {
                let ms = format!("{}ms", d.as_millis());
                assert_eq!(cli::parse_duration(&ms), Some(d), "{ms}");
            }
        }
    }
});
