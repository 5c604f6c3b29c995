"""What the benchmark sections share: the machine line, table layout, timing, peak memory."""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

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
