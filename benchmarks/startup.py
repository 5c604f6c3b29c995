"""CLI start-up: process start to exit of `pypersonalize --version`, `--help` and a real
command, next to `python -c pass` (the interpreter alone) and `python -c "import duckdb"`.

Each command is run as a fresh process with subprocess and timed with perf_counter; the
commands take turns, round after round, so that a busy moment of the machine spreads over
all of them rather than landing on one.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, Section, format_table

RUNS, RUNS_QUICK = 15, 5
LIMIT_MS = 300          # issue 9, item 15: --version and --help

INTRO = """\
Wall time from process start to exit, median of {runs} runs per command (the commands take
turns, round after round). `python -c pass` is the interpreter alone, the floor every
command pays; `import duckdb` shows what a single heavy import costs. `--version` and
`--help` (top level and per command) must load none of duckdb, numpy, pandas, scipy and
jinja2 and take <= {limit} ms; a real command (`dataset-group list` on an existing project
file) imports what it needs. The console script is `{script}`."""


def _console() -> list[str]:
    script = Path(os.path.abspath(sys.executable)).with_name("pypersonalize")
    return [str(script)] if script.exists() else [sys.executable, "-m", "pypersonalize.cli"]


def _shown(cmd: list[str]) -> str:
    return " ".join(os.path.relpath(c, ROOT) if c.startswith(str(ROOT)) else c for c in cmd)


def _commands(db: str) -> list[tuple[str, list[str]]]:
    pp = _console()
    return [
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ('python -c "import duckdb"', [sys.executable, "-c", "import duckdb"]),
        ("pypersonalize --version", pp + ["--version"]),
        ("pypersonalize --help", pp + ["--help"]),
        ("pypersonalize dataset import --help", pp + ["dataset", "import", "--help"]),
        ("pypersonalize recipe list", pp + ["recipe", "list"]),
        ("pypersonalize --db F dataset-group list", pp + ["--db", db, "dataset-group", "list"]),
    ]


def _time(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.decode()[-500:]}")
    return elapsed


def run(quick: bool = False, repeat: int = 3, log=print) -> Section:
    runs = RUNS_QUICK if quick else RUNS
    section = Section("startup", "CLI start-up: pypersonalize vs `python -c pass`",
                      INTRO.format(runs=runs, limit=LIMIT_MS, script=_shown(_console())))
    env = {k: v for k, v in os.environ.items() if k != "PYPERSONALIZE_DB"}
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "startup.duckdb")
        subprocess.run(_console() + ["--db", db, "--quiet", "dataset-group", "create", "shop"],
                       check=True, stdout=subprocess.DEVNULL, env=env)
        commands = _commands(db)
        for _label, cmd in commands:       # warm the file cache and the bytecode
            _time(cmd, env)
        times: dict[str, list[float]] = {label: [] for label, _ in commands}
        for _ in range(runs):
            for label, cmd in commands:
                times[label].append(_time(cmd, env))
    floor = statistics.median(times["python -c pass"])
    rows = []
    for label, _cmd in commands:
        med = statistics.median(times[label])
        rows.append([label, f"{1000 * med:.0f}", f"{1000 * min(times[label]):.0f}", f"{med / floor:.1f}x"])
        log(f"  {label}: {1000 * med:.0f} ms median")
    section.tables.append(f"# median of {runs} runs, ms\n" + format_table(
        ["command", "median ms", "best ms", "vs python -c pass"], rows, right={1, 2, 3}))
    log(section.tables[-1])
    med = {label: 1000 * statistics.median(t) for label, t in times.items()}
    floor_ms, version, help_ = med["python -c pass"], med["pypersonalize --version"], med["pypersonalize --help"]
    worst = max(version, help_, med["pypersonalize dataset import --help"])
    verdict = "within" if worst <= LIMIT_MS else "OVER"
    duckdb_ms = med['python -c "import duckdb"']
    section.reading = (
        f"Reading: `--version` takes {version:.0f} ms and `--help` {help_:.0f} ms "
        f"({version / floor_ms:.1f}x and {help_ / floor_ms:.1f}x the bare interpreter's {floor_ms:.0f} ms), "
        f"{verdict} the {LIMIT_MS} ms limit; what they add to the interpreter is click and the command "
        "definitions. A command that opens a project pays for duckdb, numpy, pandas and jinja2: "
        f"{med['pypersonalize --db F dataset-group list']:.0f} ms (`import duckdb` alone: {duckdb_ms:.0f} ms); "
        "`recipe list` loads the recipe registry (numpy, scipy, pandas, jinja2) but not duckdb: "
        f"{med['pypersonalize recipe list']:.0f} ms.")
    return section


if __name__ == "__main__":
    s = run(quick="--quick" in sys.argv)
    print(s.reading)
