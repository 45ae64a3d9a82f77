//! What several fuzz targets share: turning the fuzzer's bytes into the
//! text a parser reads, and the inverse of the parsers' escapes.

/// The input as text, for the parsers that take text: option values, and
/// the ASCII kernel files (cgroup control files, `status`, `fdinfo`) that
/// rinit converts lossily (`os::read_text`). Input that is not UTF-8 is
/// skipped rather than converted, which would only explore U+FFFD. The
/// parsers of `stat`, mountinfo and `/proc/PID/cgroup` take the bytes.
pub fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// Two inputs in one: split at the first NUL (the second is empty when
/// there is none).
pub fn two_inputs(data: &[u8]) -> (&[u8], &[u8]) {
    let at = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    (&data[..at], data.get(at + 1..).unwrap_or_default())
}

/// A small number taken from the input's first bytes, to vary what a
/// target injects without a second input.
pub fn number(data: &[u8]) -> u32 {
    data.iter()
        .take(4)
        .fold(0u32, |n, &b| n.rotate_left(8) ^ u32::from(b))
}

/// Mountinfo's escape, as the kernel writes it (`show_mountinfo` escapes
/// space, tab, newline and backslash as `\ooo`); control characters are
/// escaped too, so that a rendered line stays one line, and so is a field
/// that is a lone `-` (the kernel never writes one: roots and mount points
/// start with `/`), which would read as the separator.
/// Other bytes, UTF-8 or not, pass through as the kernel passes them.
pub fn escape_mountinfo(field: &[u8]) -> Vec<u8> {
    if field == b"-" {
        return b"\\055".to_vec();
    }
    let mut bytes = Vec::with_capacity(field.len());
    for &b in field {
        if b == b' ' || b == b'\\' || b.is_ascii_control() {
            bytes.extend_from_slice(format!("\\{b:03o}").as_bytes());
        } else {
            bytes.push(b);
        }
    }
    bytes
}

/// The lines of `text` (as `str::lines` splits them) that do not start
/// with `key` followed by `sep`: garbage around an injected field that
/// cannot be mistaken for it.
pub fn without_key(text: &str, key: &str, sep: char) -> String {
    text.lines()
        .filter(|l| !l.strip_prefix(key).is_some_and(|r| r.starts_with(sep)))
        .collect::<Vec<_>>()
        .join("\n")
}
