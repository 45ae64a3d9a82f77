//! Text from outside (argv, the environment, /proc) echoed in rinit's
//! messages: a control character in it could end the line early and forge
//! the next one, or drive the operator's terminal. Every such character is
//! shown as an escape instead, so each message stays exactly one line.
//!
//! Backslashes are left alone: the kernel's own escapes (`\040` in
//! mountinfo) must read as the kernel wrote them, and without control
//! characters no line can be forged.

use std::fmt;

/// `text` as it may appear in a message; formats without allocating.
pub fn escape(text: &str) -> Escaped<'_> {
    Escaped(text)
}

pub struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(needs_escape) {
            f.write_str(&rest[..i])?;
            let c = rest[i..]
                .chars()
                .next()
                .expect("find returned a char boundary");
            match c {
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if u32::from(c) < 0x80 => write!(f, "\\x{:02x}", u32::from(c))?,
                c => write!(f, "\\u{{{:x}}}", u32::from(c))?,
            }
            rest = &rest[i + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

/// C0 and C1 controls and DEL (what `char::is_control` means), and the
/// Unicode line and paragraph separators, which some viewers break on.
fn needs_escape(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_escapes() {
        assert_eq!(escape("plain text/é").to_string(), "plain text/é");
        assert_eq!(escape("a\nb").to_string(), "a\\nb");
        assert_eq!(escape("\r\t").to_string(), "\\r\\t");
        assert_eq!(escape("\x1b[31mred").to_string(), "\\x1b[31mred");
        assert_eq!(escape("\0\x7f").to_string(), "\\x00\\x7f");
        assert_eq!(escape("\u{85}x\u{2028}").to_string(), "\\u{85}x\\u{2028}");
        assert_eq!(escape("a\\nb").to_string(), "a\\nb");
    }

    #[test]
    fn every_character_escaped_is_one_line() {
        let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        let shown = escape(&all).to_string();
        assert_eq!(shown.lines().count(), 1);
        assert!(!shown.chars().any(needs_escape));
    }
}
