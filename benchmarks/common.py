"""What the benchmark sections share: the machine line, table layout, timing, single-request
latency, peak memory."""

from __future__ import annotations

import gc
import os
import platform
import resource
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:          # for tests.conftest / tests.sql.test_movielens helpers
    sys.path.insert(0, str(ROOT))


@dataclass
class Section:
    """One benchmark section: printed as it finishes, then written into RESULTS.md."""

    key: str                 # imports | sims | serving
    title: str
    intro: str               # what is measured and against what (markdown)
    tables: list[str] = field(default_factory=list)   # preformatted text blocks
    reading: str = ""        # what the numbers say (markdown, filled from the measurements)
    seconds: float = 0.0     # wall time of the whole section


def machine_line() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = f", {int(line.split()[1]) / 2**20:.0f} GiB RAM"
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}){mem}, {platform.system()} {platform.machine()}"


def versions_line() -> str:
    import duckdb
    import numpy
    import pandas
    import scipy
    return (f"python {platform.python_version()}, duckdb {duckdb.__version__}, numpy {numpy.__version__}, "
            f"scipy {scipy.__version__}, pandas {pandas.__version__}")


def format_table(headers: list[str], rows: list[list], right: set[int] | None = None) -> str:
    """Plain fixed-width table; columns listed in ``right`` (default: all but the first
    two) are right-aligned."""
    right = set(range(2, len(headers))) if right is None else right
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    out = []
    for r in cells:
        out.append("  ".join(c.rjust(w) if i in right else c.ljust(w)
                             for i, (c, w) in enumerate(zip(r, widths))).rstrip())
    return "\n".join(out)


def best_of(repeat: int, fn, *args, **kwargs):
    """(best seconds, all seconds, last result) of ``repeat`` calls."""
    times, result = [], None
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return min(times), times, result


def rss_mb() -> dict:
    """Current and peak resident memory of this process, in MB (VmRSS, VmHWM, ru_maxrss)."""
    out = {"maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    try:
        for line in open("/proc/self/status"):
            if line.startswith(("VmRSS", "VmHWM")):
                out[line.split(":")[0].lower()] = int(line.split()[1]) / 1024
    except OSError:
        pass
    out.setdefault("vmhwm", out["maxrss"])     # no /proc: fall back to getrusage
    out.setdefault("vmrss", out["maxrss"])
    return out


def fmt_s(seconds: float) -> str:
    return f"{seconds:.3f}" if seconds < 100 else f"{seconds:.1f}"


@contextmanager
def frozen_gc():
    """No garbage collection inside: what is alive now is frozen out of the collector's
    view and collections are off, so a pass's tail is not a collector pause."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


@dataclass
class Latency:
    """The best pass of single timed requests (the pass with the lowest p50)."""

    p50: float                # ms
    p99: float                # ms, of the same pass
    count: int                # timed requests per pass
    rate: float               # requests/s of that pass: count / sum of its latencies
    answers: list             # that pass's answers, in request order


def time_requests(call, requests: list, passes: int = 3, warmup: int = 50, before=None) -> Latency:
    """Time ``call(request)`` one request at a time: ``warmup`` untimed calls first, then
    ``passes`` passes over ``requests`` with the collector frozen. ``before(request)``, if
    given, runs untimed right before each call (warm-up included)."""
    for k in range(warmup):
        request = requests[k % len(requests)]
        if before is not None:
            before(request)
        call(request)
    best = None
    for _ in range(max(1, passes)):
        lat, answers = [], []
        with frozen_gc():
            for request in requests:
                if before is not None:
                    before(request)
                start = time.perf_counter()
                answers.append(call(request))
                lat.append(time.perf_counter() - start)
        ms = 1000 * np.asarray(lat)
        p50 = float(np.percentile(ms, 50))
        if best is None or p50 < best.p50:
            best = Latency(p50, float(np.percentile(ms, 99)), len(ms), 1000 * len(ms) / ms.sum(), answers)
    return best
