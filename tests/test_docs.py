"""The documents a newcomer reads: no "issue N" (history belongs in the commit log), and every
link to a heading of another document lands on a heading that exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "assets").rglob("*.md")])
ISSUE = re.compile(r"\bissues?[\s-]*#?\d+", re.I)
LINK = re.compile(r"\]\(([^)\s#]*\.md)?#([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~)")


def _headings(path: Path) -> list[str]:
    """The text of each Markdown heading of ``path``, outside code fences."""
    out, fenced = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced and (m := re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)):
            out.append(m.group(1))
    return out


def _anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the headings of ``path`` (repeats get -1, -2, ...)."""
    seen: dict[str, int] = {}
    anchors = set()
    for text in _headings(path):
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def test_the_documents_exist():
    names = {p.relative_to(ROOT).as_posix() for p in DOCS}
    assert {"README.md", "docs/design.md", "docs/benchmarks.md", "docs/guide.md"} <= names


def test_no_issue_numbers_in_the_documents():
    found = [
        f"{p.relative_to(ROOT)}:{i}: {m.group(0)!r}"
        for p in DOCS
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        for m in ISSUE.finditer(line)
    ]
    assert not found, "say what the issue asked for instead of its number:\n" + "\n".join(found)


def test_the_issue_pattern_catches_what_it_should():
    for text in ("issue 12", "Issue #6", "issue-24", "(issues 19)", "issue-11 preprocessing"):
        assert ISSUE.search(text), text
    for text in ("the reported issue", "an issue's probe", "tissue 3"):
        assert not ISSUE.search(text), text


def test_links_to_headings_land_on_a_heading():
    broken, checked = [], 0
    for p in DOCS:
        for target, anchor in LINK.findall(p.read_text(encoding="utf-8")):
            checked += 1
            doc = (p.parent / target) if target else p
            if not doc.is_file():
                broken.append(f"{p.relative_to(ROOT)}: {target}#{anchor} (no such file)")
            elif anchor not in _anchors(doc):
                broken.append(f"{p.relative_to(ROOT)}: {target or p.name}#{anchor}")
    assert checked >= 5, checked  # README -> guide, security/pam -> benchmarks, security -> design ...
    assert not broken, "links to headings that do not exist:\n" + "\n".join(broken)


def test_anchors_follow_githubs_rule(tmp_path):
    doc = tmp_path / "a.md"
    doc.write_text("# twinlock — design\n## `twinlock verify` latency\n## Notes\n```\n# not a heading\n```\n## Notes\n")
    assert _anchors(doc) == {"twinlock--design", "twinlock-verify-latency", "notes", "notes-1"}
