//! `rinit --help`, made from the option table: the options in its order, each
//! as spelling, help line (with the default) and variable.

use super::options::{Absent, Id, OPTIONS, Opt, opt};
use std::fmt::Write;

/// Where the help line starts.
const HELP_COLUMN: usize = 29;
/// How wide the help line may be before the variable's column.
const HELP_WIDTH: usize = 36;

const HEAD: &str = "\
Usage: rinit [OPTIONS] [--] COMMAND [ARGS...]
       rinit probe [--timeout DURATION] CONDITION   (health check, exit 0 or 1)

A container init: runs COMMAND as its child, forwards signals to it, reaps
zombies, tears down what is left in stages, and exits with COMMAND's status.

Options (each has an environment variable; the flag wins):
";

pub fn help() -> String {
    let mut out = String::from(HEAD);
    for entry in OPTIONS {
        option(&mut out, entry);
    }
    let leak_code = match opt(Id::LeaksExitCode).default {
        Absent::Value(code) | Absent::Means(code) => code,
        Absent::Unset => "CODE",
    };
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "
Signals: TERM, SIGTERM, 15, RTMIN+3. Durations: 500ms, 5s, 2m, 1h, or seconds.
Booleans: 1/true/yes, 0/false/no. Exit: COMMAND's code, 128+N if killed by
signal N, 126/127 if it cannot be run, 2 for a usage error, {leak_code} (or CODE) for
a leak under --leaks fail. tini's command line works: -s and -g are no-ops
(rinit does both already); TINI_SUBREAPER and TINI_KILL_PROCESS_GROUP are on
when set to anything.
"
    );
    out
}

/// `  -r, --rewrite FROM:TO      forward FROM as TO ...   RINIT_REWRITE=...`:
/// a spelling too long for its column gets a line of its own, and the
/// variable goes at the end of the last line of the help.
fn option(out: &mut String, entry: &Opt) {
    let indent = if entry.short.is_some() {
        "  "
    } else {
        "      "
    };
    let mut line = format!("{indent}{}", entry.spelling());
    if line.len() >= HELP_COLUMN {
        out.push_str(&line);
        out.push('\n');
        line.clear();
    }
    let mut text = entry.help.to_string();
    if let Absent::Value(default) = entry.default {
        text = format!("{text} [{default}]");
    }
    let lines = wrap(&text, HELP_WIDTH);
    for (at, help_line) in lines.iter().enumerate() {
        pad(&mut line, HELP_COLUMN);
        line.push_str(help_line);
        if at + 1 == lines.len()
            && let Some(var) = entry.var_spelling()
        {
            pad(&mut line, HELP_COLUMN + HELP_WIDTH);
            line.push_str(&var);
        }
        out.push_str(&line);
        out.push('\n');
        line.clear();
    }
}

/// Spaces up to `column`, and at least one after any text.
fn pad(line: &mut String, column: usize) {
    if !line.is_empty() {
        line.push(' ');
    }
    while line.len() < column {
        line.push(' ');
    }
}

/// Words into lines of at most `width` (a longer word gets a line alone).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(line) if line.len() + 1 + word.len() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let help = help();
        assert!(help.starts_with("Usage: rinit [OPTIONS] [--] COMMAND [ARGS...]\n"));
        for line in [
            "  -h, --help                 print this help and exit\n",
            "  -v, --verbose              log more (repeat for more)          RINIT_LOG=FILTER\n",
            "      --grace DURATION       SIGTERM-to-SIGKILL time [5s]        RINIT_GRACE\n",
            "      --stuck-timeout DURATION\n                             wait after the final SIGKILL [10s]  RINIT_STUCK_TIMEOUT\n",
            "      --leaks-exit-code CODE exit code for --leaks fail [99]     RINIT_LEAKS_EXIT_CODE\n",
            "      --signal-child-only    forward to the child, not its group RINIT_SIGNAL_CHILD_ONLY=1\n",
        ] {
            assert!(help.contains(line), "{line}in\n{help}");
        }
        assert!(help.contains(", 99 (or CODE) for\na leak under --leaks fail. "));
        assert!(help.contains("-s and -g are no-ops\n"));
        for line in help.lines() {
            assert!(line.len() <= 96, "{line}");
        }
    }

    #[test]
    fn every_option_is_in_the_help_once() {
        let help = help();
        for entry in OPTIONS {
            let spelling = format!(" {} ", entry.spelling());
            let with_newline = format!(" {}\n", entry.spelling());
            let count = help.matches(&spelling).count() + help.matches(&with_newline).count();
            assert_eq!(count, 1, "{}", entry.spelling());
            if let Some(var) = entry.var_spelling() {
                assert!(help.contains(&format!(" {var}\n")), "{var}");
            }
        }
    }

    #[test]
    fn wrapping() {
        assert_eq!(wrap("a bb ccc", 4), ["a bb", "ccc"]);
        assert_eq!(wrap("abcdef g", 4), ["abcdef", "g"]);
        assert_eq!(wrap("one", 36), ["one"]);
    }
}
