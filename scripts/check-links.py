#!/usr/bin/env python3
"""Check that every relative link in the project's markdown resolves.

Checks README.md, docs/*.md, bench/README.md and CHANGELOG.md (or the files
given as arguments): each relative link must name a file or directory of
the repository, and each #anchor a heading of the markdown file it points
into, by GitHub's rules (lowercase, spaces to '-', punctuation dropped,
'-1', '-2' ... for repeated headings). Links with a scheme (https:,
mailto:) are not fetched. Prints one line per broken link and exits 1 if
there is any.
"""

import glob
import os
import re
import sys
import urllib.parse

ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), ".."))
DEFAULT_FILES = ["README.md", "docs/*.md", "bench/README.md", "CHANGELOG.md"]

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
# [text](target) and ![alt](target); the target may carry a "title".
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
# A code span may run over a line break, never over a blank line.
CODE_SPAN = re.compile(r"(`+)(?:[^`\n]|\n(?![ \t]*\n))+?\1")
ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"", re.IGNORECASE)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def prose_lines(text):
    """(line number, line) of the lines outside fenced code blocks."""
    fence = None
    for number, line in enumerate(text.split("\n"), 1):
        match = FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)[0] * len(match.group(1))
            continue
        if fence is not None:
            if line.strip().startswith(fence) and set(line.strip()) <= {fence[0]}:
                fence = None
            continue
        yield number, line


def slug(heading):
    """GitHub's anchor for a heading's text."""
    text = INLINE_LINK.sub(lambda m: re.sub(r"^!?\[|\]\(.*$", "", m.group(0)), heading)
    text = re.sub(r"<[^>]+>", "", text)
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    """Every anchor a markdown file defines."""
    with open(path, encoding="utf-8") as f:
        return anchors_of_text(f.read())


def anchors_of_text(text):
    """Every anchor of a markdown text: its headings' slugs and HTML anchors."""
    found, seen = set(), {}
    for _, line in prose_lines(text):
        heading = ATX_HEADING.match(line)
        if heading:
            base = slug(heading.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
        found.update(HTML_ANCHOR.findall(line))
    return found


def links(text):
    """(line number, target) of every link outside code; a link's text may
    run over a line break, as in a wrapped paragraph."""
    lines = text.split("\n")
    prose = [""] * len(lines)
    for number, line in prose_lines(text):
        prose[number - 1] = line
    joined = CODE_SPAN.sub(lambda m: "\n" * m.group(0).count("\n"), "\n".join(prose))
    for match in INLINE_LINK.finditer(joined):
        yield joined.count("\n", 0, match.start()) + 1, match.group(1)
    for number, line in enumerate(joined.split("\n"), 1):
        definition = REFERENCE_DEF.match(line)
        if definition:
            yield number, definition.group(1)


def check(path, anchor_cache):
    """The broken links of one file, as messages."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    shown = os.path.relpath(path, ROOT)
    problems, count = [], 0
    for number, target in links(text):
        if SCHEME.match(target):
            continue
        count += 1
        where, _, fragment = target.partition("#")
        where = urllib.parse.unquote(where)
        fragment = urllib.parse.unquote(fragment)
        resolved = os.path.realpath(os.path.join(os.path.dirname(path), where)) if where else path
        if not (resolved == ROOT or resolved.startswith(ROOT + os.sep)):
            problems.append(f"{shown}:{number}: {target}: outside the repository")
            continue
        if not os.path.exists(resolved):
            problems.append(f"{shown}:{number}: {target}: no such file {os.path.relpath(resolved, ROOT)}")
            continue
        if not fragment:
            continue
        if not resolved.endswith(".md"):
            problems.append(f"{shown}:{number}: {target}: an anchor into a file that is not markdown")
            continue
        if resolved not in anchor_cache:
            anchor_cache[resolved] = anchors(resolved)
        if fragment not in anchor_cache[resolved]:
            problems.append(
                f"{shown}:{number}: {target}: no heading #{fragment} in {os.path.relpath(resolved, ROOT)}"
            )
    return problems, count


def self_test():
    """The anchor rules on headings of this repository's shape."""
    cases = {
        "Compared with tini, dumb-init, catatonit and tino": "compared-with-tini-dumb-init-catatonit-and-tino",
        "Set up": "set-up",
        "`rinit --` outside a container": "rinit----outside-a-container",
        "The [exit report](docs/exit-report.md)": "the-exit-report",
        "cgroups v1 & v2": "cgroups-v1--v2",
        "snake_case stays": "snake_case-stays",
    }
    for heading, expected in cases.items():
        assert slug(heading) == expected, f"slug({heading!r}) = {slug(heading)!r}, not {expected!r}"
    sample = "# A\n\n```\n# not a heading\n[x](nowhere)\n```\n\n## A\n[y](#a-1) `[z](nowhere)`\nsee [the\nrules](#a) `a\n[b](c)`\n"
    assert list(links(sample)) == [(9, "#a-1"), (10, "#a")], list(links(sample))
    assert anchors_of_text(sample) == {"a", "a-1"}, anchors_of_text(sample)


def main(argv):
    self_test()
    patterns = argv or DEFAULT_FILES
    files = []
    for pattern in patterns:
        matched = sorted(glob.glob(os.path.join(ROOT, pattern)))
        if not matched:
            print(f"check-links: no file matches {pattern}", file=sys.stderr)
            return 1
        files.extend(matched)
    problems, total, cache = [], 0, {}
    for path in files:
        found, count = check(os.path.realpath(path), cache)
        problems.extend(found)
        total += count
    for problem in problems:
        print(problem)
    if problems:
        print(f"check-links: {len(problems)} broken link(s) of {total} in {len(files)} file(s)")
        return 1
    print(f"check-links: {total} relative link(s) in {len(files)} file(s) resolve")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
