"""Every code block of README.md runs, in order, as a newcomer would run it.

The convention is written in an HTML comment at the top of README.md: sh/bash blocks run
with bash under `set -e`, python blocks with this interpreter, sql blocks with plain
duckdb on the file their first line names; a text block right after a run block lists
lines its output must contain; console blocks are not run. The blocks run in a scratch
folder that links the repository's data/ and virtualenv, so paths are the README's own
(relative to the repository root) and nothing is written into the checkout.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

README = ROOT / "README.md"
RUN = {"sh": "shell", "bash": "shell", "python": "python", "sql": "sql"}
SHOWN = {"console", "text"}
FENCE = re.compile(r"^```(\S*)[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
SQL_TARGET = re.compile(r"^--\s*duckdb\s+(?:-readonly\s+)?(\S+)")

# Runs one sql block on a file with duckdb alone, statement by statement, and fails when a
# SELECT returns no rows (the README must not query objects the quick start never made).
_SQL_RUNNER = """
import json, sys
import duckdb
path, sql = sys.argv[1], sys.stdin.read()
con = duckdb.connect(path, read_only=True)
for statement in con.extract_statements(sql):
    rel = con.sql(statement.query)
    if rel is None:
        continue
    rows = rel.fetchall()
    if statement.type.name == "SELECT" and not rows:
        sys.exit("no rows: " + statement.query.strip())
    print(json.dumps(rows[:3], default=str))
assert "pypersonalize" not in sys.modules
"""


@dataclass
class Block:
    lang: str
    code: str
    line: int                 # where the block starts in README.md, for messages
    expect: list[str]         # lines of the text block that follows, if any

    def __str__(self) -> str:
        return f"README.md:{self.line} ({self.lang}: {self.code.strip().splitlines()[0][:60]})"


def readme_blocks(text: str) -> list[Block]:
    """The fenced blocks in order; a text block is attached to the run block before it."""
    text = re.sub(r"<!--.*?-->", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    blocks: list[Block] = []
    for m in FENCE.finditer(text):
        lang, code = m.group(1).lower(), m.group(2)
        line = text.count("\n", 0, m.start()) + 1
        if lang not in RUN and lang not in SHOWN:
            raise AssertionError(f"README.md:{line}: block tagged {lang!r}; use one of "
                                 f"{sorted(RUN) + sorted(SHOWN)}")
        if lang == "text" and blocks and blocks[-1].lang in RUN and not blocks[-1].expect:
            blocks[-1].expect = code.splitlines()
        blocks.append(Block(lang, code, line, []))
    return [b for b in blocks if b.lang in RUN]


def _workspace(tmp: Path) -> Path:
    """A folder that looks like a fresh clone after `make install`: data/ and .venv/."""
    work = tmp / "clone"
    work.mkdir()
    (work / "data").symlink_to(ROOT / "data")
    venv = Path(sys.prefix)
    if (venv / "bin" / "activate").exists():
        (work / ".venv").symlink_to(venv)
    else:                      # not a virtualenv (e.g. a CI image): an activate that only sets PATH
        (work / ".venv" / "bin").mkdir(parents=True)
        (work / ".venv" / "bin" / "activate").write_text(f'PATH="{Path(sys.executable).parent}:$PATH"\n')
    return work


def _run(block: Block, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYPERSONALIZE_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    kind = RUN[block.lang]
    if kind == "shell":
        cmd, stdin = ["bash", "-c", "set -e\n" + block.code], None
    elif kind == "python":
        cmd, stdin = [sys.executable, "-c", block.code], None
    else:
        target = SQL_TARGET.match(block.code.lstrip())
        assert target, f"{block}: the first line must name the file: -- duckdb -readonly FILE"
        cmd, stdin = [sys.executable, "-c", _SQL_RUNNER, target.group(1)], block.code
    done = subprocess.run(cmd, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"{block} failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _contains_in_order(output: str, expected: list[str]) -> str | None:
    """The first expected line that is missing (in order), or None."""
    lines = [ln.rstrip() for ln in output.splitlines()]
    at = 0
    for want in (e.rstrip() for e in expected):
        if not want or want == "...":
            continue
        try:
            at = lines.index(want, at) + 1
        except ValueError:
            return want
    return None


def test_the_readme_follows_the_block_convention():
    blocks = readme_blocks(README.read_text())
    kinds = [RUN[b.lang] for b in blocks]
    assert {"shell", "python", "sql"} <= set(kinds)
    # the CLI and the Python quick starts build different files (each locks its own)
    files = [set(re.findall(r"[\w-]+\.duckdb", b.code)) for b in blocks if RUN[b.lang] != "sql"]
    assert files[0] and files[1] and not files[0] & files[1], files


def test_every_readme_block_runs_in_order(tmp_path):
    work = _workspace(tmp_path)
    for block in readme_blocks(README.read_text()):
        out = _run(block, work)
        missing = _contains_in_order(out, block.expect)
        assert missing is None, f"{block}: output lacks {missing!r}; it printed:\n{out[-3000:]}"
    # what the quick starts left behind is what the README says they make
    assert {p.name for p in work.glob("*.duckdb")} == {"cli.duckdb", "python.duckdb"}


@pytest.mark.parametrize("text,expected,missing", [
    ("a\nb\nc\n", ["a", "...", "c"], None),
    ("a\nb\nc\n", ["c", "a"], "a"),
    ("x  \n", ["x"], None),
])
def test_expected_output_is_matched_in_order(text, expected, missing):
    assert _contains_in_order(text, expected) == missing


def test_blocks_are_read_as_documented():
    text = ("<!-- ```sh\nnot a block\n``` -->\n"
            "```sh\necho hi\n```\n\n```text\nhi\n```\n```console\n$ make\n```\n"
            "```sql\n-- duckdb -readonly f.duckdb\nSELECT 1;\n```\n")
    blocks = readme_blocks(text)
    assert [(b.lang, b.expect) for b in blocks] == [("sh", ["hi"]), ("sql", [])]
    assert SQL_TARGET.match(blocks[1].code).group(1) == "f.duckdb"
    with pytest.raises(AssertionError, match="tagged 'ruby'"):
        readme_blocks("```ruby\nputs 1\n```\n")
