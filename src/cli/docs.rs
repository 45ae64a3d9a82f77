//! The man page and the README's options table against the option table:
//! each lists every option, spelled as --help spells it, with its variable
//! and its default. A document that drifts fails here, naming the option.

use super::options::{Absent, OPTIONS, Opt};

const MAN: &str = include_str!("../../man/rinit.1");
const README: &str = include_str!("../../README.md");

/// What is wrong with the OPTIONS section of the man page `man`, one line per
/// drift: its items are the options in table order, each headed by the
/// option's spelling and saying its variable, its default value and
/// whether it repeats.
fn man_drifts(man: &str) -> Vec<String> {
    let Some(section) = man.split("\n.SH ").find(|s| s.starts_with("OPTIONS\n")) else {
        return vec!["no OPTIONS section".to_string()];
    };
    // Sub-sections (.SS Values) follow the items.
    let items_text = section.split("\n.SS ").next().unwrap_or("");
    let items: Vec<(String, String)> = items_text
        .split("\n.TP\n")
        .skip(1)
        .map(|item| {
            let mut lines = item.lines().map(plain);
            let head = lines.next().unwrap_or_default();
            let body = lines.filter(|l| !l.is_empty()).collect::<Vec<_>>();
            (head, body.join(" "))
        })
        .collect();
    let mut drifts = Vec::new();
    let heads: Vec<&str> = items.iter().map(|(head, _)| head.as_str()).collect();
    let spellings: Vec<String> = OPTIONS.iter().map(Opt::spelling).collect();
    if heads != spellings {
        drifts.push(format!(
            "items {heads:?}, but the options are {spellings:?} (in this order)"
        ));
    }
    for (head, body) in &items {
        let Some(entry) = OPTIONS.iter().find(|o| o.spelling() == *head) else {
            continue;
        };
        let mut says = |what: &str, wanted: bool| {
            if says_word(body, what) != wanted {
                let not = if wanted { "" } else { "not " };
                drifts.push(format!("{head}: should {not}say '{what}': {body}"));
            }
        };
        match entry.var_spelling() {
            Some(var) => says(&format!("Variable {var}"), true),
            None => says("Variable", false),
        }
        says("Repeatable.", entry.repeatable());
        if let Absent::Value(default) = entry.default {
            says(&format!("(default {default})"), true);
        }
    }
    drifts
}

/// Whether `text` holds `what` as whole words (not `RINIT_LEAKS` inside
/// `RINIT_LEAKS_EXIT_CODE`).
fn says_word(text: &str, what: &str) -> bool {
    text.match_indices(what).any(|(at, _)| {
        let word_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
        !text[at + what.len()..].starts_with(word_char) && !text[..at].ends_with(word_char)
    })
}

/// One line of troff as the reader sees it: font macros (`.BR a " b"`)
/// joined, escapes for fonts and dashes resolved, other requests dropped.
fn plain(line: &str) -> String {
    let text = match line.strip_prefix('.') {
        None => line.to_string(),
        Some(request) => {
            let (name, rest) = request.split_once(' ').unwrap_or((request, ""));
            let args = troff_args(rest);
            match name {
                "B" | "I" => args.join(" "),
                "BR" | "BI" | "IR" | "RB" | "RI" | "IB" => args.concat(),
                _ => String::new(),
            }
        }
    };
    ["\\fB", "\\fI", "\\fR", "\\fP", "\\&"]
        .iter()
        .fold(text, |text, escape| text.replace(escape, ""))
        .replace("\\-", "-")
}

/// A request's arguments: words, or "quoted words".
fn troff_args(rest: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut chars = rest.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c == ' ' {
            chars.next();
        } else if c == '"' {
            chars.next();
            args.push(chars.by_ref().take_while(|&c| c != '"').collect());
        } else {
            let mut word = String::new();
            while let Some(c) = chars.next_if(|&c| c != ' ') {
                word.push(c);
            }
            args.push(word);
        }
    }
    args
}

/// What is wrong with the options table of the README `readme`: the
/// markdown table under `## Options`, read by its header's flag, variable
/// and default columns, has one row per option (in any order), spelled as
/// --help spells it, `(repeatable)` where it is, with the option's variable
/// (alone or as --help writes it with its value) and its default in words.
fn readme_drifts(readme: &str) -> Vec<String> {
    let Some(section) = readme.split("\n## ").find(|s| s.starts_with("Options\n")) else {
        return vec!["no '## Options' section".to_string()];
    };
    let mut rows = section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .map(cells);
    let Some(header) = rows.next() else {
        return vec!["no table under '## Options'".to_string()];
    };
    let column = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(flag), Some(variable), Some(default)) =
        (column("flag"), column("variable"), column("default"))
    else {
        return vec![format!(
            "the options table has no flag, variable or default column: {header:?}"
        )];
    };
    let rows: Vec<Vec<String>> = rows
        .skip(1) // | --- | --- |
        .collect();
    let mut drifts = Vec::new();
    let mut seen = vec![0; OPTIONS.len()];
    for row in &rows {
        let cell = |at: usize| row.get(at).map(|c| c.replace('`', "")).unwrap_or_default();
        let flag_cell = cell(flag);
        let Some((at, entry)) = OPTIONS
            .iter()
            .enumerate()
            .find(|(_, o)| flag_cell.split([' ', ',']).any(|word| word == o.flag()))
        else {
            drifts.push(format!("a row for no option: {row:?}"));
            continue;
        };
        seen[at] += 1;
        let repeatable = if entry.repeatable() {
            " (repeatable)"
        } else {
            ""
        };
        let wanted_flag = format!("{}{repeatable}", entry.spelling());
        if flag_cell != wanted_flag {
            drifts.push(format!(
                "{}: flag '{flag_cell}', not '{wanted_flag}'",
                entry.flag()
            ));
        }
        let var_cell = cell(variable);
        let var_fits = match (entry.var, entry.var_spelling()) {
            (Some(var), Some(spelled)) => var_cell == var || var_cell == spelled,
            _ => var_cell.is_empty(),
        };
        if !var_fits {
            drifts.push(format!(
                "{}: variable '{var_cell}', not {:?}",
                entry.flag(),
                entry.var_spelling()
            ));
        }
        let default_cell = cell(default);
        if default_cell != entry.default_in_words() {
            drifts.push(format!(
                "{}: default '{default_cell}', not '{}'",
                entry.flag(),
                entry.default_in_words()
            ));
        }
    }
    for (entry, count) in OPTIONS.iter().zip(seen) {
        if count != 1 {
            drifts.push(format!("{}: {count} rows", entry.flag()));
        }
    }
    drifts
}

/// The cells of a markdown table row, trimmed; `\|` does not split.
fn cells(row: &str) -> Vec<String> {
    let inner = row.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut cells = vec![String::new()];
    let mut escaped = false;
    for c in inner.chars() {
        match c {
            '|' if !escaped => cells.push(String::new()),
            _ => cells.last_mut().expect("one cell at least").push(c),
        }
        escaped = c == '\\';
    }
    cells.iter().map(|c| c.trim().to_string()).collect()
}

#[test]
fn the_man_page_describes_every_option() {
    let drifts = man_drifts(MAN);
    assert!(
        drifts.is_empty(),
        "man/rinit.1 OPTIONS drifted from cli/options.rs:\n{}",
        drifts.join("\n")
    );
}

#[test]
fn the_readme_table_lists_every_option() {
    let drifts = readme_drifts(README);
    assert!(
        drifts.is_empty(),
        "README.md's options table drifted from cli/options.rs:\n{}",
        drifts.join("\n")
    );
}

/// The checks fail on a drift, each naming the option.
#[test]
fn drifts_are_found() {
    for (from, to, drift) in [
        (
            "(default 5s)",
            "(default 6s)",
            "--grace DURATION: should say '(default 5s)'",
        ),
        (
            ".BR RINIT_PDEATHSIG .",
            ".BR RINIT_PDEATH .",
            "-p, --pdeathsig SIGNAL: should say 'Variable RINIT_PDEATHSIG'",
        ),
        (
            ".B \\-\\-fuse\\-abort\n",
            ".B \\-\\-fuse\\-abortion\n",
            "items",
        ),
        (
            "Repeatable.\nVariable\n.BR RINIT_REWRITE",
            "Variable\n.BR RINIT_REWRITE",
            "-r, --rewrite FROM:TO: should say 'Repeatable.'",
        ),
    ] {
        assert!(MAN.contains(from), "{from}");
        let drifts = man_drifts(&MAN.replacen(from, to, 1));
        assert!(
            drifts.iter().any(|d| d.starts_with(drift)),
            "{drift}: {drifts:?}"
        );
    }
    let readme = readme_for_the_table();
    assert_eq!(readme_drifts(&readme), Vec::<String>::new());
    for (from, to, drift) in [
        ("| 5s |", "| 6s |", "--grace: default '6s', not '5s'"),
        (
            "`RINIT_GRACE`",
            "`RINIT_GRAZE`",
            "--grace: variable 'RINIT_GRAZE'",
        ),
        (
            "`RINIT_LOG=FILTER`",
            "`RINIT_LOG=LEVEL`",
            "--verbose: variable",
        ),
        (
            "`-r, --rewrite FROM:TO` (repeatable)",
            "`-r, --rewrite FROM:TO`",
            "--rewrite: flag",
        ),
        (
            "`--fuse-abort`",
            "`--fuse-abort-now`",
            "--fuse-abort: 0 rows",
        ),
    ] {
        assert!(readme.contains(from), "{from}");
        let drifts = readme_drifts(&readme.replacen(from, to, 1));
        assert!(
            drifts.iter().any(|d| d.starts_with(drift)),
            "{drift}: {drifts:?}"
        );
    }
}

/// A README whose options table is the option table, its columns in
/// another order than README.md's.
fn readme_for_the_table() -> String {
    let mut readme = String::from(
        "# rinit\n\n## Options\n\nSome words.\n\n| meaning | flag | default | variable |\n| --- | --- | --- | --- |\n",
    );
    for entry in OPTIONS {
        let repeatable = if entry.repeatable() {
            " (repeatable)"
        } else {
            ""
        };
        let var = entry
            .var_spelling()
            .map(|v| format!("`{v}`"))
            .unwrap_or_default();
        readme += &format!(
            "| what it does | `{}`{repeatable} | {} | {var} |\n",
            entry.spelling(),
            entry.default_in_words()
        );
    }
    readme + "\nValues: words.\n\n## Exit codes\n"
}

#[test]
fn troff_to_plain() {
    assert_eq!(
        plain(r#".BR \-r ", " \-\-rewrite " \fIFROM\fB:\fITO\fR""#),
        "-r, --rewrite FROM:TO"
    );
    assert_eq!(plain(r#".BI \-\-grace " DURATION""#), "--grace DURATION");
    assert_eq!(plain(r".B rinit ls \-l"), "rinit ls -l");
    assert_eq!(plain(r".TP"), "");
    assert_eq!(
        plain(r"Cgroup names are \-, _ and \&."),
        "Cgroup names are -, _ and ."
    );
}

#[test]
fn markdown_cells() {
    assert_eq!(cells("| a | `b` |  |"), ["a", "`b`", ""]);
    assert_eq!(cells(r"| a \| b | c |"), [r"a \| b", "c"]);
}
