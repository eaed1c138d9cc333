"""Write one section of docs/benchmarks.md between its markers, leaving the others alone."""

from __future__ import annotations

import platform
import re
from pathlib import Path

from desktop_app.core.paths import REPO_ROOT, atomic_write_bytes

DOC = REPO_ROOT / "docs" / "benchmarks.md"
HEADER = """# twinlock benchmarks

Every table here is written by a script under `benchmarks/`; each section names the command
that regenerates it. `bash benchmarks/run_all.sh` regenerates them all (MNIST expected at
`../shared/data/mnist`, or set `TWINLOCK_DATA_DIR`).
"""


def machine() -> str:
    import os

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical cores, Python {platform.python_version()}, {platform.system()}"


def write_section(name: str, body: str, doc: Path = DOC) -> Path:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = doc.read_text() if doc.exists() else HEADER
    block = f"{start}\n{body.rstrip()}\n{end}"
    pat = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    text = pat.sub(lambda _: block, text) if pat.search(text) else text.rstrip() + "\n\n" + block + "\n"
    return atomic_write_bytes(doc, text.encode())


def pct(x: float, digits: int = 2) -> str:
    return f"{100 * x:.{digits}f}%"


def ci(lo: float, hi: float) -> str:
    return f"[{100 * lo:.2f}, {100 * hi:.2f}]%"
