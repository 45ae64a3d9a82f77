//! The scalar values of options and variables: durations, sizes,
//! booleans, cgroup names. Each parsed value must print back to text that
//! parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rinit::cgroup::{describe_size, parse_size, valid_name};
use rinit::cli::{parse_bool, parse_duration};
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    let Some(text) = rinit_fuzz::text(data) else {
        return;
    };

    if let Some(d) = parse_duration(text) {
        assert_eq!(
            d.subsec_nanos() % 1_000_000,
            0,
            "{text:?}: below a millisecond"
        );
        let ms = format!("{}ms", d.as_millis());
        assert_eq!(parse_duration(&ms), Some(d), "{text:?} -> {ms}");
        // Padding is trimmed, whatever the unit.
        assert_eq!(parse_duration(&format!(" {text}\n")), Some(d), "{text:?}");
    }
    // A bare number is seconds, as long as it fits.
    let trimmed = text.trim();
    if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        let expected = trimmed
            .parse::<u64>()
            .ok()
            .and_then(|s| s.checked_mul(1000))
            .map(Duration::from_millis);
        assert_eq!(parse_duration(text), expected, "{text:?}");
    }

    if let Some(bytes) = parse_size(text) {
        assert!(bytes > 0, "{text:?}");
        assert_eq!(parse_size(&bytes.to_string()), Some(bytes), "{text:?}");
        // describe_size is what the OOM report shows; it must name the
        // same size ("32 MiB", "1000 bytes").
        let shown = describe_size(bytes).replace(' ', "").replace("bytes", "");
        assert_eq!(parse_size(&shown), Some(bytes), "{text:?} -> {shown}");
    }

    if let Some(b) = parse_bool(text) {
        assert_eq!(parse_bool(&text.to_ascii_uppercase()), Some(b));
        assert_eq!(parse_bool(if b { "1" } else { "0" }), Some(b));
    }

    if valid_name(text) {
        // One path component that cannot climb: it is joined under
        // rinit's own cgroup directory.
        assert!(
            !text.contains('/') && text != "." && text != "..",
            "{text:?}"
        );
        assert!(!text.contains('\0') && !text.is_empty() && text.len() <= 200);
    }
});
