//! Readiness (--ready) and health (`rinit probe`): what a CONDITION says,
//! when to check it again, and what to tell NOTIFY_SOCKET. Pure, tested on
//! literal inputs; `watch` checks a condition from the loop, `probe` is the
//! subcommand, and their syscalls are in `os::ready`.
//!
//! A condition is `tcp:[HOST:]PORT` (a connect succeeds), `file:PATH` (it
//! exists), `exec:PROGRAM ARGS` (it exits 0) and, for `probe` only,
//! `http://HOST:PORT/PATH` (a 2xx or 3xx answer to a GET).

pub mod probe;
pub mod watch;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// What must hold for the service to count as ready (or healthy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Tcp(SocketAddr),
    File(std::path::PathBuf),
    /// The program and its arguments, split on spaces: no quoting.
    Exec(Vec<String>),
    Http(HttpTarget),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTarget {
    pub addr: SocketAddr,
    /// The Host header: HOST[:PORT] as given.
    pub host: String,
    /// Starts with `/`.
    pub path: String,
}

/// Which conditions a caller can check: the loop has no HTTP client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    Ready,
    Probe,
}

const EXPECTED: &str =
    "tcp:[HOST:]PORT, file:PATH or exec:PROGRAM ARGS (http://HOST:PORT/PATH for rinit probe)";

/// Reads a CONDITION; `Err` says what is wrong, for a usage error.
pub fn parse(text: &str, usage: Use) -> Result<Condition, String> {
    if let Some(rest) = text.strip_prefix("tcp:") {
        return parse_host_port(rest, true).map(Condition::Tcp);
    }
    if let Some(path) = text.strip_prefix("file:") {
        if path.is_empty() {
            return Err("file: needs a path".to_string());
        }
        return Ok(Condition::File(path.into()));
    }
    if let Some(command) = text.strip_prefix("exec:") {
        let words: Vec<String> = command.split_ascii_whitespace().map(String::from).collect();
        if words.is_empty() {
            return Err("exec: needs a program".to_string());
        }
        return Ok(Condition::Exec(words));
    }
    if let Some(rest) = text.strip_prefix("http://") {
        if usage == Use::Ready {
            return Err(
                "http:// is for rinit probe; --ready takes tcp:PORT, file:PATH or exec:".into(),
            );
        }
        let (authority, path) = match rest.find('/') {
            Some(at) => rest.split_at(at),
            None => (rest, "/"),
        };
        let addr = parse_host_port(authority, false)?;
        if path
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err("the URL path holds spaces or control characters".to_string());
        }
        return Ok(Condition::Http(HttpTarget {
            addr,
            host: authority.to_string(),
            path: path.to_string(),
        }));
    }
    if text.starts_with("https://") {
        return Err("https is not supported (no TLS): use http:// or tcp:".to_string());
    }
    Err(format!("expected {EXPECTED}"))
}

/// `PORT`, `HOST:PORT` or `[IPV6]:PORT`; HOST is an IP address or
/// `localhost` (no name lookups: a resolver may block, and a bare image has
/// none). `port_alone`: whether the host may be left out (127.0.0.1).
fn parse_host_port(text: &str, port_alone: bool) -> Result<SocketAddr, String> {
    let bad_port = || format!("'{text}': expected a port 1..65535");
    let (host, port) = match text.rsplit_once(':') {
        Some((host, port)) => (Some(host), port),
        None if port_alone => (None, text),
        None => return Err(format!("'{text}': expected HOST:PORT")),
    };
    let port: u16 = port.parse().ok().filter(|&p| p != 0).ok_or_else(bad_port)?;
    let ip = match host {
        None | Some("localhost") => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Some(host) => {
            let bare = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host);
            bare.parse().map_err(|_| {
                format!("'{host}': expected an IP address or localhost (names are not looked up)")
            })?
        }
    };
    Ok(SocketAddr::new(ip, port))
}

/// When to check again: from a few milliseconds, doubling, up to a second.
/// A service that opens its port within 10 ms is seen at once; one that
/// takes a minute costs one check a second.
pub fn next_delay(tries: u32) -> Duration {
    const FIRST_MS: u64 = 5;
    const MAX_MS: u64 = 1000;
    Duration::from_millis(FIRST_MS.saturating_mul(1u64 << tries.min(16)).min(MAX_MS))
}

/// What rinit sends to NOTIFY_SOCKET once the service is ready: MAINPID
/// names the command (rinit's child), the process whose end is the
/// service's end.
pub fn notify_message(main_pid: i32) -> String {
    format!("READY=1\nMAINPID={main_pid}\n")
}

/// Where NOTIFY_SOCKET points: a path, or an abstract name (written with a
/// leading `@`, sent with a leading NUL byte).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyAddress(pub Vec<u8>);

/// NOTIFY_SOCKET's value as an AF_UNIX address; `Err` says why not (a
/// vsock: address, a relative path, too long for sun_path).
pub fn notify_address(value: &[u8]) -> Result<NotifyAddress, String> {
    const SUN_PATH: usize = 108;
    let address = match value.first() {
        Some(b'/') => value.to_vec(),
        Some(b'@') => [&[0u8][..], &value[1..]].concat(),
        _ => {
            return Err(
                "expected an absolute path or an @abstract name (vsock: is not supported)".into(),
            );
        }
    };
    if address.len() >= SUN_PATH || address.len() < 2 {
        return Err(format!("{} bytes: too long or empty", address.len()));
    }
    Ok(NotifyAddress(address))
}

/// `GET PATH HTTP/1.1` for `target`, closing the connection after the answer.
pub fn http_request(target: &HttpTarget) -> String {
    format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: rinit-probe\r\nConnection: close\r\n\r\n",
        target.path, target.host
    )
}

/// The status code of an answer's first line (`HTTP/1.1 200 OK`); `None`
/// when it is not HTTP.
pub fn http_status(first_line: &[u8]) -> Option<u16> {
    let line = std::str::from_utf8(first_line).ok()?;
    let mut words = line.split(' ');
    if !words.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let code = words.next()?.trim_end();
    (code.len() == 3).then_some(())?;
    code.parse().ok()
}

/// 2xx and 3xx are healthy, as Kubernetes' httpGet probes count them.
pub fn healthy_status(code: u16) -> bool {
    (200..400).contains(&code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(text: &str) -> Result<Condition, String> {
        parse(text, Use::Ready)
    }

    #[test]
    fn tcp_conditions() {
        let addr = |s: &str| Condition::Tcp(s.parse().unwrap());
        assert_eq!(ready("tcp:8080"), Ok(addr("127.0.0.1:8080")));
        assert_eq!(ready("tcp:localhost:80"), Ok(addr("127.0.0.1:80")));
        assert_eq!(ready("tcp:10.0.0.2:5432"), Ok(addr("10.0.0.2:5432")));
        assert_eq!(ready("tcp:[::1]:6379"), Ok(addr("[::1]:6379")));
        for bad in [
            "tcp:",
            "tcp:0",
            "tcp:65536",
            "tcp:db:5432",
            "tcp:1.2.3.4:",
            "tcp:x",
        ] {
            assert!(ready(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn file_and_exec_conditions() {
        assert_eq!(
            ready("file:/run/app.ready"),
            Ok(Condition::File("/run/app.ready".into()))
        );
        assert_eq!(
            ready("exec:/bin/check  --quick  now"),
            Ok(Condition::Exec(vec![
                "/bin/check".into(),
                "--quick".into(),
                "now".into()
            ]))
        );
        assert!(ready("file:").is_err());
        assert!(ready("exec:  ").is_err());
        assert!(ready("8080").is_err());
        assert!(ready("").is_err());
    }

    #[test]
    fn http_is_for_probe_only() {
        assert!(ready("http://127.0.0.1:8080/healthz").is_err());
        let target = |addr: &str, host: &str, path: &str| {
            Ok(Condition::Http(HttpTarget {
                addr: addr.parse().unwrap(),
                host: host.into(),
                path: path.into(),
            }))
        };
        let probe = |text| parse(text, Use::Probe);
        assert_eq!(
            probe("http://127.0.0.1:8080/healthz"),
            target("127.0.0.1:8080", "127.0.0.1:8080", "/healthz")
        );
        assert_eq!(
            probe("http://localhost:80"),
            target("127.0.0.1:80", "localhost:80", "/")
        );
        assert!(probe("http://127.0.0.1/x").is_err());
        assert!(probe("http://127.0.0.1:80/a b").is_err());
        assert!(probe("https://127.0.0.1:443/").is_err());
    }

    #[test]
    fn the_backoff_doubles_from_5ms_to_a_second() {
        let delays: Vec<u128> = (0..10).map(|t| next_delay(t).as_millis()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        assert_eq!(next_delay(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn notify_messages_and_addresses() {
        assert_eq!(notify_message(7), "READY=1\nMAINPID=7\n");
        assert_eq!(
            notify_address(b"/run/notify/notify.sock"),
            Ok(NotifyAddress(b"/run/notify/notify.sock".to_vec()))
        );
        assert_eq!(
            notify_address(b"@sd-notify"),
            Ok(NotifyAddress(b"\0sd-notify".to_vec()))
        );
        assert!(notify_address(b"vsock:2:1234").is_err());
        assert!(notify_address(b"run/x").is_err());
        assert!(notify_address(b"@").is_err());
        assert!(notify_address(&[b'/'; 200]).is_err());
    }

    #[test]
    fn http_requests_and_answers() {
        let target = HttpTarget {
            addr: "127.0.0.1:8080".parse().unwrap(),
            host: "127.0.0.1:8080".into(),
            path: "/healthz".into(),
        };
        assert_eq!(
            http_request(&target),
            "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: rinit-probe\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(http_status(b"HTTP/1.1 200 OK\r"), Some(200));
        assert_eq!(http_status(b"HTTP/1.0 302 Found"), Some(302));
        assert_eq!(http_status(b"HTTP/1.1 500"), Some(500));
        assert_eq!(http_status(b"SSH-2.0-OpenSSH"), None);
        assert_eq!(http_status(b"HTTP/1.1 20 OK"), None);
        assert!(healthy_status(204) && healthy_status(301));
        assert!(!healthy_status(404) && !healthy_status(500) && !healthy_status(101));
    }
}
