"""Help ▸ Guide: the README's "Using the app" and "The command line" sections with their
screenshots, in a window. Developer notes (between ``<!-- developer -->`` and
``<!-- /developer -->`` in the README) are left out; links to a heading ("#the-command-line")
scroll to it."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

from desktop_app.core.paths import REPO_ROOT

README = REPO_ROOT / "README.md"
SECTION = "## Using the app"
SECTIONS = (SECTION, "## The command line")  # in this order; the first one's links reach the second
DEVELOPER = re.compile(r"<!-- developer -->.*?<!-- /developer -->\n?", re.S)
IMAGE_WIDTH = 560


def _section(text: str, heading: str) -> str:
    start = text.find(heading)
    if start < 0:
        return ""
    end = text.find("\n## ", start + len(heading))
    return text[start : end if end > 0 else len(text)].strip() + "\n"


def guide_markdown(readme: Path = README) -> str:
    """The README's guide sections (each up to the next level-2 heading), without developer
    notes, or a short note when the README is not there (an installed copy without the sources)."""
    try:
        text = readme.read_text(encoding="utf-8")
    except OSError:
        return (
            "# Using twinlock\n\nThe guide is the “Using the app” section of README.md, which is not "
            f"installed here ({readme}). Start: Profile ▸ Enroll… (Ctrl+E), then press Space to test an "
            "unlock, then Tools ▸ Calibrate threshold… (Ctrl+T)."
        )
    parts = [p for p in (_section(text, h) for h in SECTIONS) if p]
    if not parts:
        return DEVELOPER.sub("", text)
    return DEVELOPER.sub("", "\n".join(parts))


def slug(title: str) -> str:
    """GitHub's anchor for a heading: "The command line" -> "the-command-line"."""
    t = re.sub(r"<[^>]+>", "", title).strip().lower()
    t = re.sub(r"[^\w\- ]", "", t)
    return t.replace(" ", "-")


def with_anchors(html: str) -> str:
    """Every heading gets the anchor a README link to it uses."""

    def add(m):
        level, attrs, inner = m.groups()
        return f'<h{level}{attrs}><a name="{slug(inner)}">{inner}</a></h{level}>'

    return re.sub(r"<h([1-6])([^>]*)>(.*?)</h\1>", add, html, flags=re.S)


class GuideDialog(QDialog):
    def __init__(self, parent=None, readme: Path = README):
        super().__init__(parent)
        self.setWindowTitle("twinlock guide")
        lay = QVBoxLayout(self)
        self.browser = QTextBrowser()
        self.browser.setObjectName("guideText")
        self.browser.setOpenExternalLinks(True)
        self.browser.setSearchPaths([str(readme.parent)])  # docs/screenshots/*.png
        self.browser.setMarkdown(guide_markdown(readme))
        # screenshots at a readable width, not their full 1100 px
        html = re.sub(
            r"<img ([^>]*?)/?>", lambda m: f'<img {m.group(1)} width="{IMAGE_WIDTH}" />', self.browser.toHtml()
        )
        self.browser.setHtml(with_anchors(html))  # "#the-command-line" scrolls to its heading
        lay.addWidget(self.browser)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        bb.rejected.connect(self.reject)
        bb.accepted.connect(self.accept)
        lay.addWidget(bb)
        self.resize(760, 680)

    def image_names(self) -> list[str]:
        """The images the guide shows (for tests)."""
        return re.findall(r'<img[^>]*src="([^"]+)"', self.browser.toHtml())
