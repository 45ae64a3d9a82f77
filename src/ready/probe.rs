//! `rinit probe [--timeout DURATION] CONDITION`: checks CONDITION once and
//! exits 0 when it holds, 1 when not (or when the command line is wrong:
//! Docker reserves 2). For HEALTHCHECK in images with nothing else to run;
//! it runs before rinit takes over any signal, and signals or reaps nothing
//! but its own check program.

use super::{Condition, Use, healthy_status, http_request, http_status};
use crate::os::describe_error;
use crate::os::ready as os;
use std::ffi::OsString;
use std::io::Write;
use std::time::{Duration, Instant};

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

const USAGE: &str = "usage: rinit probe [--timeout DURATION] CONDITION, CONDITION one of \
tcp:[HOST:]PORT, file:PATH, exec:PROGRAM ARGS, http://HOST:PORT/PATH";

/// `args` after the program name, when they ask for a probe (`probe` or
/// `--probe` first): its exit code. `None`: not a probe.
pub fn run_if_asked(args: &[OsString]) -> Option<u8> {
    let first = args.first()?;
    if first != "probe" && first != "--probe" {
        return None;
    }
    let words: Option<Vec<&str>> = args[1..].iter().map(|a| a.to_str()).collect();
    let parsed = words
        .ok_or_else(|| "the arguments are not UTF-8".to_string())
        .and_then(|words| parse_args(&words));
    Some(match parsed {
        Ok((condition, timeout)) => {
            let text = args.last().map(|a| a.to_string_lossy()).unwrap_or_default();
            match check(&condition, timeout) {
                Ok(()) => say(&mut std::io::stdout(), &format!("{text}: healthy"), 0),
                Err(why) => say(
                    &mut std::io::stderr(),
                    &format!("{text}: unhealthy: {why}"),
                    1,
                ),
            }
        }
        Err(why) => say(&mut std::io::stderr(), &format!("{why}; {USAGE}"), 1),
    })
}

fn say(out: &mut dyn Write, line: &str, code: u8) -> u8 {
    let _ = writeln!(out, "rinit probe: {}", crate::escape::escape(line));
    code
}

/// The probe's command line: the condition and the timeout.
pub fn parse_args(words: &[&str]) -> Result<(Condition, Duration), String> {
    let mut timeout = DEFAULT_TIMEOUT;
    let mut rest = words;
    loop {
        let (value, after) = match rest {
            ["--timeout", value, after @ ..] => (*value, after),
            [flag, after @ ..] if flag.starts_with("--timeout=") => (&flag[10..], after),
            _ => break,
        };
        timeout = crate::cli::parse_duration(value)
            .filter(|t| !t.is_zero())
            .ok_or_else(|| format!("invalid value '{value}' for --timeout"))?;
        rest = after;
    }
    match rest {
        [condition] => Ok((super::parse(condition, Use::Probe)?, timeout)),
        [] => Err("no condition given".to_string()),
        [_, extra, ..] => Err(format!("unexpected '{extra}' after the condition")),
    }
}

/// Checks `condition` once, within `timeout`; `Err` says why it does not hold.
fn check(condition: &Condition, timeout: Duration) -> Result<(), String> {
    match condition {
        Condition::Tcp(addr) => os::connect(*addr, timeout)
            .map(drop)
            .map_err(|e| describe_error(&e)),
        Condition::File(path) if os::exists(path) => Ok(()),
        Condition::File(_) => Err("no such file".into()),
        Condition::Http(target) => {
            let request = http_request(target);
            let line = os::http_first_line(target.addr, request.as_bytes(), timeout)
                .map_err(|e| describe_error(&e))?;
            match http_status(&line) {
                Some(code) if healthy_status(code) => Ok(()),
                Some(code) => Err(format!("HTTP status {code}")),
                None if line.is_empty() => Err("no answer".into()),
                None => Err("not an HTTP answer".into()),
            }
        }
        Condition::Exec(argv) => {
            let pid = os::start_check(argv).map_err(|e| format!("cannot start: {e}"))?;
            let until = Instant::now() + timeout;
            loop {
                match os::check_status(pid) {
                    Ok(Some(status)) if os::succeeded(status) => return Ok(()),
                    Ok(Some(status)) => return Err(format!("wait status {status:#x}")),
                    Err(e) => return Err(format!("cannot wait for it: {e}")),
                    Ok(None) if Instant::now() >= until => {
                        os::end_check(pid, Duration::from_secs(1));
                        return Err("timed out".into());
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_command_lines() {
        let tcp = Condition::Tcp("127.0.0.1:80".parse().unwrap());
        assert_eq!(parse_args(&["tcp:80"]), Ok((tcp.clone(), DEFAULT_TIMEOUT)));
        assert_eq!(
            parse_args(&["--timeout", "2s", "tcp:80"]),
            Ok((tcp.clone(), Duration::from_secs(2)))
        );
        assert_eq!(
            parse_args(&["--timeout=300ms", "tcp:80"]),
            Ok((tcp, Duration::from_millis(300)))
        );
        assert!(parse_args(&[]).is_err());
        assert!(parse_args(&["--timeout", "0", "tcp:80"]).is_err());
        assert!(parse_args(&["--timeout", "soon", "tcp:80"]).is_err());
        assert!(parse_args(&["tcp:80", "tcp:81"]).is_err());
        assert!(parse_args(&["--timeout"]).is_err());
    }
}
