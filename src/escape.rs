//! Text from outside (argv, the environment, /proc) echoed in rinit's
//! messages: a control character in it could end the line early and forge
//! the next one, or drive the operator's terminal; a Unicode format
//! character (a bidi override, a zero-width space) could make the line read
//! other than it is. Every such character is shown as an escape instead, so
//! each message stays exactly one line and shows what it holds. Text of any
//! length (a leftover's argv may be megabytes) is shown in part:
//! `escape_bounded` keeps a line short enough for log pipelines that split
//! long lines (Docker's json-file and CRI at 16 KiB), where the continuation
//! would start with the outsider's own text.
//!
//! Backslashes are left alone: the kernel's own escapes (`\040` in
//! mountinfo) must read as the kernel wrote them, and without control
//! characters no line can be forged.

use std::fmt;

/// Items of a list for a message, `sep` between each (pids, signal
/// names): one formatter for every such list, writing without a
/// `Vec<String>` to join.
pub struct Joined<'a, T>(pub &'a [T], pub &'static str);

impl<T: fmt::Display> fmt::Display for Joined<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(self.1)?;
            }
            write!(f, "{item}")?;
        }
        Ok(())
    }
}

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

/// How many characters of a command line a log line shows.
pub const COMMAND_SHOWN: usize = 256;

/// `text` escaped, cut after `limit` characters when longer; a cut says
/// so, with the whole text's length in bytes: `abc... (1048576 bytes in
/// all)`. At most `limit` escapes plus that tail: a bounded line.
pub fn escape_bounded(text: &str, limit: usize) -> Bounded<'_> {
    Bounded { text, limit }
}

pub struct Bounded<'a> {
    text: &'a str,
    limit: usize,
}

impl fmt::Display for Bounded<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.text.char_indices().nth(self.limit) {
            None => escape(self.text).fmt(f),
            Some((cut, _)) => write!(
                f,
                "{}... ({} bytes in all)",
                escape(&self.text[..cut]),
                self.text.len()
            ),
        }
    }
}

/// At most `max_args` of `args` and `max_bytes` of their text, in order;
/// the argument that crosses `max_bytes` is cut at a character boundary.
/// `true` with them when anything was left out.
pub fn bounded_args(args: &[String], max_args: usize, max_bytes: usize) -> (Vec<String>, bool) {
    let mut kept = Vec::new();
    let mut room = max_bytes;
    for arg in args.iter().take(max_args) {
        if arg.len() > room {
            let cut = floor_char_boundary(arg, room);
            if cut > 0 {
                kept.push(arg[..cut].to_string());
            }
            return (kept, true);
        }
        room -= arg.len();
        kept.push(arg.clone());
    }
    let truncated = kept.len() < args.len();
    (kept, truncated)
}

/// The length of `args` joined by spaces, as a log line shows them.
pub fn joined_len(args: &[String]) -> usize {
    args.iter()
        .map(|a| a.len() + 1)
        .sum::<usize>()
        .saturating_sub(1)
}

/// The largest char boundary of `text` at or below `at`.
fn floor_char_boundary(text: &str, at: usize) -> usize {
    (0..=at.min(text.len()))
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0)
}

/// C0 and C1 controls and DEL (what `char::is_control` means), and the
/// invisible characters of `INVISIBLE`.
fn needs_escape(c: char) -> bool {
    c.is_control() || is_invisible(c)
}

fn is_invisible(c: char) -> bool {
    let c = u32::from(c);
    // Characters below U+00AD are ASCII or C1 controls, caught above.
    c >= 0xad
        && INVISIBLE
            .iter()
            .any(|&(first, last)| (first..=last).contains(&c))
}

/// Every Unicode format character (general category Cf, Unicode 15.1),
/// the line and paragraph separators (Zl, Zp), which some viewers break
/// on, and the Hangul fillers, letters that show as nothing. Combining
/// marks and variation selectors are left alone: they are part of
/// ordinary text in many scripts and in emoji.
const INVISIBLE: &[(u32, u32)] = &[
    (0x00ad, 0x00ad),   // soft hyphen
    (0x0600, 0x0605),   // Arabic number signs
    (0x061c, 0x061c),   // Arabic letter mark (bidi)
    (0x06dd, 0x06dd),   // Arabic end of ayah
    (0x070f, 0x070f),   // Syriac abbreviation mark
    (0x0890, 0x0891),   // Arabic pound and piastre marks above
    (0x08e2, 0x08e2),   // Arabic disputed end of ayah
    (0x115f, 0x1160),   // Hangul choseong and jungseong fillers
    (0x180e, 0x180e),   // Mongolian vowel separator
    (0x200b, 0x200f),   // zero-width space, non-joiner, joiner; LRM, RLM
    (0x2028, 0x202e),   // line and paragraph separators; bidi embeddings, overrides
    (0x2060, 0x206f),   // word joiner, invisible operators; bidi isolates; deprecated
    (0x3164, 0x3164),   // Hangul filler
    (0xfeff, 0xfeff),   // zero-width no-break space (byte-order mark)
    (0xffa0, 0xffa0),   // halfwidth Hangul filler
    (0xfff9, 0xfffb),   // interlinear annotation
    (0x110bd, 0x110bd), // Kaithi number sign
    (0x110cd, 0x110cd), // Kaithi number sign above
    (0x13430, 0x1343f), // Egyptian hieroglyph format controls
    (0x1bca0, 0x1bca3), // shorthand format controls
    (0x1d173, 0x1d17a), // musical symbol format controls
    (0xe0001, 0xe0001), // language tag
    (0xe0020, 0xe007f), // tag characters (text hidden in plain sight)
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_joined_by_their_separator() {
        use crate::signals::{SIGCONT, SIGKILL, SIGTERM};
        assert_eq!(Joined(&[8, 20, 3], " ").to_string(), "8 20 3");
        assert_eq!(Joined::<i32>(&[], " ").to_string(), "");
        assert_eq!(
            Joined(&[SIGTERM, SIGCONT], ",").to_string(),
            "SIGTERM,SIGCONT"
        );
        assert_eq!(Joined(&[SIGKILL], ",").to_string(), "SIGKILL");
    }

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
    fn format_characters_become_escapes() {
        // A bidi override makes "txt.exe" read "exe.txt" where it shows.
        assert_eq!(
            escape("evil\u{202e}txt.exe").to_string(),
            "evil\\u{202e}txt.exe"
        );
        assert_eq!(
            escape("a\u{200b}b\u{200f}\u{2066}\u{2069}\u{2060}\u{2064}").to_string(),
            "a\\u{200b}b\\u{200f}\\u{2066}\\u{2069}\\u{2060}\\u{2064}"
        );
        assert_eq!(
            escape("\u{feff}\u{61c}\u{ad}\u{2029}\u{3164}\u{e0041}").to_string(),
            "\\u{feff}\\u{61c}\\u{ad}\\u{2029}\\u{3164}\\u{e0041}"
        );
        // Their neighbours stay as they are: visible, or part of text.
        let kept = "\u{ac}\u{ae}\u{200a}\u{2010}\u{2027}\u{202f}\u{205f}\u{2070}e\u{301}\u{fe0f}\u{fefe}\u{ff00}";
        assert_eq!(escape(kept).to_string(), kept);
    }

    #[test]
    fn the_table_is_sorted_and_disjoint() {
        for pair in INVISIBLE.windows(2) {
            assert!(pair[0].0 <= pair[0].1 && pair[0].1 < pair[1].0, "{pair:x?}");
        }
    }

    #[test]
    fn long_text_is_cut_with_its_length() {
        assert_eq!(escape_bounded("short", 5).to_string(), "short");
        assert_eq!(
            escape_bounded("sleep 1000", 5).to_string(),
            "sleep... (10 bytes in all)"
        );
        // The cut counts characters, at a character boundary; what is
        // kept is escaped.
        assert_eq!(
            escape_bounded("éé\né", 3).to_string(),
            "éé\\n... (7 bytes in all)"
        );
        let huge = "x".repeat(1 << 20);
        let shown = escape_bounded(&huge, 256).to_string();
        assert_eq!(
            shown,
            format!("{}... (1048576 bytes in all)", "x".repeat(256))
        );
        // Escapes make a kept character at most 10 bytes long.
        let worst = "\u{e007f}".repeat(1000);
        assert!(escape_bounded(&worst, 256).to_string().len() < 256 * 10 + 40);
    }

    #[test]
    fn argument_lists_are_capped() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let short = args(&["sleep", "1000"]);
        assert_eq!(bounded_args(&short, 64, 4096), (short.clone(), false));
        assert_eq!(bounded_args(&short, 64, 9), (short.clone(), false));
        assert_eq!(bounded_args(&short, 1, 4096), (args(&["sleep"]), true));
        assert_eq!(bounded_args(&short, 64, 7), (args(&["sleep", "10"]), true));
        assert_eq!(bounded_args(&short, 64, 5), (args(&["sleep"]), true));
        // Cut at a character boundary: "é" is two bytes.
        assert_eq!(bounded_args(&args(&["aéb"]), 64, 2), (args(&["a"]), true));
        assert_eq!(bounded_args(&[], 64, 4096), (vec![], false));
        assert_eq!(joined_len(&short), "sleep 1000".len());
        assert_eq!(joined_len(&[]), 0);
        let many: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
        let (kept, truncated) = bounded_args(&many, 64, 4096);
        assert_eq!((kept.len(), truncated), (64, true));
        let huge = args(&["python3", &"x".repeat(1 << 20)]);
        let (kept, truncated) = bounded_args(&huge, 64, 4096);
        assert!(truncated);
        assert_eq!(kept.iter().map(String::len).sum::<usize>(), 4096);
    }

    #[test]
    fn every_character_escaped_is_one_line() {
        let all: String = (0u32..0x2_0000)
            .chain(0xe_0000..0xe_0100)
            .filter_map(char::from_u32)
            .collect();
        let shown = escape(&all).to_string();
        assert_eq!(shown.lines().count(), 1);
        assert!(!shown.chars().any(needs_escape));
    }
}
