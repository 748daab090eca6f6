"""Progress of a sweep on stderr: a tqdm bar (rate and ETA) on a terminal, one line every few
seconds elsewhere (CI logs, ``| tee``), or nothing (``--no-progress``)."""
from __future__ import annotations

import sys
import time


class _ProgressLines:
    """Progress where stderr is not a terminal (CI logs, ``| tee``): one line every ``every`` seconds
    and one at the end, with the rate so far and an estimate of the time left."""

    def __init__(self, total: int, every: float = 10.0, stream=None):
        self.total, self.done, self.every = total, 0, every
        self.stream = stream or sys.stderr
        self.start = self.last = time.monotonic()
        self.what = ""

    def set_description(self, text: str) -> None:
        self.what = text

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            self._line(now)

    def _line(self, now: float) -> None:
        elapsed = now - self.start
        left = elapsed / self.done * (self.total - self.done) if self.done else float("nan")
        eta = f", about {left:.0f} s left" if self.done < self.total and left == left else ""
        print(f"pmcsuite: {self.done}/{self.total} runs ({self.done / max(self.total, 1):.0%}), {elapsed:.0f} s"
              f"{eta}; now {self.what}", file=self.stream, flush=True)

    def close(self) -> None:
        if self.done:
            self._line(time.monotonic())


def progress_bar(total: int, enabled: bool):
    """A tqdm bar (rate and ETA) on a terminal, periodic one-line updates elsewhere, or nothing."""
    from tqdm import tqdm
    if not enabled:
        return tqdm(total=total, disable=True)
    if not sys.stderr.isatty():
        return _ProgressLines(total)
    return tqdm(total=total, unit="run", dynamic_ncols=True, file=sys.stderr)
