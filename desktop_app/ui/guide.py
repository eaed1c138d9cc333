"""Help ▸ Guide: the README's "Using the app" section with its screenshots, in a window."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

from desktop_app.core.paths import REPO_ROOT

README = REPO_ROOT / "README.md"
SECTION = "## Using the app"
IMAGE_WIDTH = 560


def guide_markdown(readme: Path = README) -> str:
    """The "Using the app" section of the README (up to the next level-2 heading), or a
    short note when the README is not there (an installed copy without the sources)."""
    try:
        text = readme.read_text(encoding="utf-8")
    except OSError:
        return (
            "# Using twinlock\n\nThe guide is the “Using the app” section of README.md, which is not "
            f"installed here ({readme}). Start: Profile ▸ Enroll… (Ctrl+E), then press Space to test an "
            "unlock, then Tools ▸ Calibrate threshold… (Ctrl+T)."
        )
    start = text.find(SECTION)
    if start < 0:
        return text
    end = text.find("\n## ", start + len(SECTION))
    return text[start : end if end > 0 else len(text)].strip() + "\n"


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
        self.browser.setHtml(html)
        lay.addWidget(self.browser)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        bb.rejected.connect(self.reject)
        bb.accepted.connect(self.accept)
        lay.addWidget(bb)
        self.resize(760, 680)

    def image_names(self) -> list[str]:
        """The images the guide shows (for tests)."""
        return re.findall(r'<img[^>]*src="([^"]+)"', self.browser.toHtml())
