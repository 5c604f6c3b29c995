"""Progress for long work: step lines and DuckDB's own progress bar, on a terminal only."""

from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager

log = logging.getLogger("pypersonalize")


def interactive(quiet: bool) -> bool:
    """True when progress should be shown: not quiet and stderr is a terminal."""
    return not quiet and _isatty(sys.stderr)


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    def __init__(self, connection, enabled: bool):
        self._connection = connection       # the calling thread's DuckDB connection
        self.enabled = enabled
        # DuckDB draws its bar on stdout, so it is used only when stdout is a terminal
        # too; a result piped to a file must not carry bar frames.
        self.bar_enabled = enabled and _isatty(sys.stdout)

    def step(self, message: str) -> None:
        log.info(message)
        if self.enabled:
            print(f"· {message}", file=sys.stderr, flush=True)

    @contextmanager
    def bar(self, message: str):
        """Run a block of heavy SQL with DuckDB's progress bar on, and time it."""
        self.step(message)
        start = time.perf_counter()
        if self.bar_enabled:
            self._connection().execute("SET enable_progress_bar = true")
            self._connection().execute("SET enable_progress_bar_print = true")
        try:
            yield
        finally:
            if self.bar_enabled:
                self._connection().execute("SET enable_progress_bar = false")
            log.info("%s took %.2fs", message, time.perf_counter() - start)

    def counter(self, message: str, total: int) -> Counter:
        """A record counter for a batch job (drawn only on a terminal)."""
        return Counter(self.enabled, message, total)


class Counter:
    """``done / total`` records on one terminal line, redrawn at most every 0.2 s."""

    def __init__(self, enabled: bool, message: str, total: int):
        self.enabled, self.message, self.total = enabled, message, total
        self.done, self.start, self.drawn = 0, time.perf_counter(), 0.0

    def add(self, n: int) -> None:
        self.done += n
        now = time.perf_counter()
        if self.enabled and (now - self.drawn > 0.2 or self.done >= self.total):
            self.drawn = now
            rate = self.done / max(now - self.start, 1e-9)
            print(f"\r· {self.message}: {self.done:,}/{self.total:,} records ({rate:,.0f}/s)",
                  end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.enabled and self.drawn:
            print(file=sys.stderr, flush=True)
