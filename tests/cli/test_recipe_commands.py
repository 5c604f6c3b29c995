"""`recipe list` / `recipe describe` need no project, agree with the API, and cut nothing."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import pypersonalize
from pypersonalize import output
from pypersonalize.cli import main
from pypersonalize.recipes import RECIPES


def _cli(*args):
    # No --db and no PYPERSONALIZE_DB: these commands read the registry only.
    return CliRunner().invoke(main, list(args), env={"PYPERSONALIZE_DB": ""}, catch_exceptions=False)


@pytest.fixture(scope="module")
def api():
    with pypersonalize.open(":memory:") as pp:
        yield pp


def test_list_needs_no_project_and_matches_the_api(api):
    r = _cli("--format", "json", "recipe", "list")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == api.list_recipes()["recipes"]


@pytest.mark.parametrize("name", list(RECIPES))
def test_describe_needs_no_project_and_matches_the_api(api, name):
    r = _cli("recipe", "describe", name, "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == api.describe_recipe(name)["recipe"]


@pytest.mark.parametrize("name", list(RECIPES))
def test_describe_table_shows_every_hyperparameter_whole(name):
    r = _cli("recipe", "describe", name)
    assert r.exit_code == 0, r.output
    assert "…" not in r.output
    words = r.output.split()
    for h in RECIPES[name].hyperparameters:
        assert h.name in words
        # the description may be folded over lines, never cut
        assert all(w in words for w in h.doc.split()), h.name


def test_an_unknown_recipe_is_one_line_and_exit_1():
    r = _cli("recipe", "describe", "aws-nope")
    assert r.exit_code == 1 and r.output.startswith("Error:") and "aws-sims" in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_wrapped_cells_keep_every_character():
    text = "word " * 40 + "arn:aws:personalize:local:000000000000:solution/" + "x" * 80
    table = output.render([{"name": "a", "text": text.strip()}], "table", wrap=True).splitlines()
    start = table[0].index("text")
    cells = [line[start:] for line in table[2:]]
    assert all(len(c) <= 60 for c in cells) and len(cells) > 3
    assert "".join(cells).replace(" ", "") == text.replace(" ", "")
    assert table[2].startswith("a ") and all(not line[:start].strip() for line in table[3:])
    cut = output.render([{"text": text}], "table").splitlines()[2]
    assert cut.endswith("…") and len(cut) == 60
