"""Progress of the long export loops, reported one way for all of them.

``progress`` (as export_checkpoint and the calibration functions take it) is one of:

- ``True``: tqdm bars on stderr (the terminal);
- ``False`` / ``None``: nothing;
- a callable ``report(stage, done, total, message)``: one call when a stage starts and then
  as it moves (at most about every percent or quarter second, and always at the end), so a
  caller can write them as JSON lines (``twinlock export --progress-jsonl``). ``total`` 0
  means a step whose length is not counted (it is running).
"""

from __future__ import annotations

import time
from collections.abc import Callable

Report = Callable[[str, int, int, str], None]


class Bar:
    """One stage's progress: ``update(n)`` adds n done; a context manager that closes it."""

    def __init__(self, progress, desc: str, total: int, unit: str = "it", message: str = ""):
        self.desc, self.total, self.message = desc, int(total), message
        self.done = 0
        self._tqdm = None
        self._report = progress if callable(progress) else None
        self._last = (-1.0, -1)  # time and count of the last report
        if progress is True:
            from tqdm import tqdm

            self._tqdm = tqdm(total=total, desc=desc, unit=unit, leave=False)
        self._emit(force=True)

    def _emit(self, force: bool = False) -> None:
        if self._report is None:
            return
        now = time.monotonic()
        t0, n0 = self._last
        step = max(1, self.total // 100)
        if force or self.done >= self.total or self.done - n0 >= step or now - t0 >= 0.25:
            self._last = (now, self.done)
            self._report(self.desc, self.done, self.total, self.message)

    def update(self, n: int = 1) -> None:
        self.done = min(self.total, self.done + int(n)) if self.total else self.done + int(n)
        if self._tqdm is not None:
            self._tqdm.update(n)
        if self._report is not None and self.done < self.total:
            self._emit()

    def set(self, done: int) -> None:
        """Set the count done (for loops that report their position, not a step)."""
        self.update(int(done) - self.done)

    def close(self, finished: bool = True) -> None:
        """End the bar; a finished stage reports done == total once more if it has not."""
        if self._tqdm is not None:
            self._tqdm.close()
            self._tqdm = None
        if finished and self._report is not None and self._last[1] != self.total:
            self.done = self.total
            self._emit(force=True)
        self._report = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(finished=exc_type is None)


def iterate(progress, items, desc: str, unit: str = "it"):
    """``items`` one by one, reporting progress over them (a tqdm-like loop wrapper)."""
    items = list(items)
    with Bar(progress, desc, len(items), unit) as bar:
        for x in items:
            yield x
            bar.update(1)


def step(progress, name: str, message: str = "") -> None:
    """Report that a step without a count (loading, parity, quantizing, writing) is running."""
    if callable(progress):
        progress(name, 0, 0, message)
