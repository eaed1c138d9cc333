"""Help ▸ Guide: docs/guide.md ("Using the app" and "The command line", with their
screenshots) in a window. Developer notes (between ``<!-- developer -->`` and
``<!-- /developer -->``) are left out; links to a heading ("#the-command-line") scroll to it."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

from desktop_app.core.paths import REPO_ROOT

GUIDE = REPO_ROOT / "docs" / "guide.md"
DEVELOPER = re.compile(r"<!-- developer -->.*?<!-- /developer -->\n?", re.S)
IMAGE_WIDTH = 560


def guide_markdown(guide: Path = GUIDE) -> str:
    """The guide without developer notes, or a short note when it is not there (an installed
    copy without the sources)."""
    try:
        text = guide.read_text(encoding="utf-8")
    except OSError:
        return (
            "# Using twinlock\n\nThe guide is docs/guide.md in twinlock's sources, which is not "
            f"installed here ({guide}). Start: Profile ▸ Enroll… (Ctrl+E), then press Space to test an "
            "unlock, then Tools ▸ Calibrate threshold… (Ctrl+T)."
        )
    return DEVELOPER.sub("", text)


def slug(title: str) -> str:
    """GitHub's anchor for a heading: "The command line" -> "the-command-line"."""
    t = re.sub(r"<[^>]+>", "", title).strip().lower()
    t = re.sub(r"[^\w\- ]", "", t)
    return t.replace(" ", "-")


def with_anchors(html: str) -> str:
    """Every heading gets the anchor a Markdown link to it uses."""

    def add(m):
        level, attrs, inner = m.groups()
        return f'<h{level}{attrs}><a name="{slug(inner)}">{inner}</a></h{level}>'

    return re.sub(r"<h([1-6])([^>]*)>(.*?)</h\1>", add, html, flags=re.S)


class GuideDialog(QDialog):
    def __init__(self, parent=None, guide: Path = GUIDE):
        super().__init__(parent)
        self.setWindowTitle("twinlock guide")
        lay = QVBoxLayout(self)
        self.browser = QTextBrowser()
        self.browser.setObjectName("guideText")
        self.browser.setOpenExternalLinks(True)
        self.browser.setSearchPaths([str(guide.parent)])  # screenshots/*.png beside the guide
        self.browser.setMarkdown(guide_markdown(guide))
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
