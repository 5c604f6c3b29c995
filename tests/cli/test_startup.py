"""`pypersonalize --version` and every `--help` start without the heavy libraries, fast.

Importing duckdb, numpy, pandas, scipy and jinja2 costs about a second here, so the CLI
may load them only inside a command that needs them. Each check runs in a fresh
interpreter: the test process itself has long imported everything.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest

from pypersonalize import cli

HEAVY = ("duckdb", "numpy", "pandas", "scipy", "jinja2", "pyarrow")
LIMIT_SECONDS = 0.3

# Runs CLI invocations in one interpreter and reports, after each, which heavy top-level
# packages are loaded; help text goes to a buffer so that stdout carries only the JSON.
_PROBE = """
import contextlib, io, json, sys
import click
heavy = set(json.loads(sys.argv[2]))
from pypersonalize.cli import main
report = {}
for args in json.loads(sys.argv[1]):
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main.main(args, prog_name="pypersonalize", standalone_mode=False)
        except SystemExit as exc:
            code = exc.code
        except click.ClickException as exc:   # no command at all: help, then a usage error
            code = exc.exit_code
    report[" ".join(args)] = [code, sorted(heavy & {m.split(".")[0] for m in sys.modules})]
print(json.dumps(report))
"""


def _paths(group: click.Group, prefix=()):
    for name, cmd in sorted(group.commands.items()):
        yield prefix + (name,)
        if isinstance(cmd, click.Group):
            yield from _paths(cmd, prefix + (name,))


HELP_INVOCATIONS = [["--version"], ["--help"], ["-h"], []] + [[*p, "--help"] for p in _paths(cli.main)]


def _probe(invocations: list[list[str]]) -> dict:
    done = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(invocations), json.dumps(HEAVY)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_help_and_version_import_no_heavy_module():
    report = _probe(HELP_INVOCATIONS)
    assert len(report) == len(HELP_INVOCATIONS) > 40
    loaded = {args: modules for args, (_code, modules) in report.items() if modules}
    assert not loaded, f"{len(loaded)} invocations load heavy modules, the first: {next(iter(loaded.items()))}"
    assert {code for args, (code, _) in report.items() if args} <= {0, None}


def test_importing_the_package_and_its_errors_is_light():
    report = subprocess.run(
        [sys.executable, "-c", "import sys, pypersonalize, pypersonalize.errors, pypersonalize.output; "
                               f"print(sorted(set({HEAVY!r}) & {{m.split('.')[0] for m in sys.modules}}))"],
        capture_output=True, text=True, timeout=60)
    assert report.returncode == 0, report.stderr
    assert report.stdout.strip() == "[]"


def test_the_lazy_names_still_work():
    code = ("import pypersonalize; from pypersonalize import open, Project; "
            "assert pypersonalize.open is open and pypersonalize.Project is Project; "
            "assert set(pypersonalize.__all__) <= set(dir(pypersonalize)); "
            "pp = open(':memory:'); assert isinstance(pp, Project); pp.close(); print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr


def test_the_real_process_imports_nothing_heavy():
    # -X importtime lists every module the interpreter loaded, the console entry included.
    for args in (["--version"], ["--help"], ["dataset", "import", "--help"]):
        done = subprocess.run([sys.executable, "-X", "importtime", "-m", "pypersonalize.cli", *args],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        modules = {line.rsplit("|", 1)[-1].strip().split(".")[0]
                   for line in done.stderr.splitlines() if line.startswith("import time:")}
        assert "pypersonalize" in modules and not modules & set(HEAVY), (args, modules & set(HEAVY))


def test_recipe_commands_need_no_duckdb():
    report = _probe([["recipe", "list"], ["recipe", "describe", "aws-sims"]])
    for args, (code, modules) in report.items():
        assert code in (0, None), args
        assert "duckdb" not in modules, args


def test_import_modes_match_the_library():
    # cli.py repeats IMPORT_MODES so that building --mode's choices imports nothing heavy.
    from pypersonalize.project import IMPORT_MODES
    assert cli.IMPORT_MODES == IMPORT_MODES


def _console_script() -> list[str]:
    script = Path(sys.executable).with_name("pypersonalize")
    return [str(script)] if script.exists() else [sys.executable, "-m", "pypersonalize.cli"]


@pytest.mark.parametrize("args", [["--version"], ["--help"]], ids=["--version", "--help"])
def test_start_up_takes_at_most_a_third_of_a_second(args):
    # Best of 5, since the machine may be busy with other tests; benchmarks/startup.py
    # reports medians against `python -c pass`.
    times = []
    for _ in range(5):
        start = time.perf_counter()
        done = subprocess.run(_console_script() + args, capture_output=True, text=True, timeout=60,
                              env={**os.environ, "PYPERSONALIZE_DB": ""})
        times.append(time.perf_counter() - start)
        assert done.returncode == 0, done.stderr
    assert min(times) <= LIMIT_SECONDS, f"{args}: {statistics.median(times):.3f}s median, {min(times):.3f}s best"
