"""The recipe contract as reusable checks.

``test_recipes.py`` runs them on every recipe of the registry, ``test_toy_recipe.py`` on a
recipe that only its test registers. A check compares the library with numbers computed
here from the generated data (pandas), or one way of serving (Python, the CLI, plain SQL
from any DuckDB client) with another; none reads the library's own helpers to compute what
it expects.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import pypersonalize
from pypersonalize import InvalidInput, ResourceInUse, ResourceNotFound
from pypersonalize.cli import main as cli_main
from pypersonalize.recipes import Recipe, RecipeType, model_tables

T0 = 1_700_000_000
GROUP = "shop"
ALL = 500                          # get_recommendations' largest num_results: "everything"
UNKNOWN_USER = "nobody"
UNKNOWN_ITEM = "no-such-item"
NO_EXPLORATION = {"itemExplorationConfig": {"explorationWeight": "0"}}
REL = 1e-5                         # Python, CLI and SQL scores agree to this (relative)
TIE = 1e-9                         # scores this close (relative) are a tie

# (user_id, item_id) requests; each recipe gets those that give the inputs it requires.
REQUESTS = [("u01", None), ("u02", "i03"), (UNKNOWN_USER, "i25"), (None, "i05"), ("u03", "i39"),
            ("u04", UNKNOWN_ITEM), (None, None), (UNKNOWN_USER, None)]


# -- the data -------------------------------------------------------------------------


@dataclass
class Data:
    """The generated Interactions and Items, and the facts the checks expect, from pandas."""

    interactions: pd.DataFrame
    items: pd.DataFrame

    def events(self, event_type: str | None = None) -> pd.DataFrame:
        df = self.interactions
        return df if event_type is None else df[df.EVENT_TYPE == event_type]

    def interacted(self, event_type: str | None = None) -> set[str]:
        """Items with (training) events: what every version's popular-items fallback covers."""
        return set(self.events(event_type).ITEM_ID)

    def user_items(self, user: str, event_type: str | None = None) -> set[str]:
        ev = self.events(event_type)
        return set(ev[ev.USER_ID == user].ITEM_ID)

    def popularity(self, event_type: str | None = None) -> list[tuple[str, float]]:
        """Popularity-Count by definition: distinct users per item over all users, most first,
        ties by item id."""
        ev = self.events(event_type)
        users = ev.groupby("ITEM_ID").USER_ID.nunique()
        total = ev.USER_ID.nunique()
        frame = pd.DataFrame({"item": users.index.astype(str), "users": users.to_numpy()})
        frame = frame.sort_values(["users", "item"], ascending=[False, True], kind="stable")
        return [(item, count / total) for item, count in zip(frame["item"], frame["users"])]


def make_data(seed: int = 7, n_users: int = 60, n_items: int = 40, n_events: int = 1500) -> Data:
    """Two taste clusters (even users like i00..i19, odd ones i18..i37, Zipf-skewed), three
    quarters of the events Watch and the rest Click; i38 and i39 are in the catalogue but
    nobody interacted with them."""
    rng = np.random.default_rng(seed)
    users = rng.permutation(np.repeat(np.arange(n_users), n_events // n_users))
    rows = []
    for k, u in enumerate(users):
        base = 0 if u % 2 == 0 else 18
        item = base + min(int(rng.zipf(1.6)) - 1, 19)
        kind = "Watch" if rng.random() < 0.75 else "Click"
        rows.append((f"u{u:02d}", f"i{item:02d}", kind, T0 + 60 * k))
    interactions = pd.DataFrame(rows, columns=["USER_ID", "ITEM_ID", "EVENT_TYPE", "TIMESTAMP"])
    genres = ["Comedy", "Drama", "Action", "Horror"]
    items = pd.DataFrame({
        "ITEM_ID": [f"i{k:02d}" for k in range(n_items)],
        "GENRES": [genres[k % 4] + (f"|{genres[(k + 1) % 4]}" if k % 3 == 0 else "") for k in range(n_items)],
        "CREATION_TIMESTAMP": [T0 - 86_400 * (n_items - k) for k in range(n_items)],
        # the title (itemName) and description (textual) Semantic-Similarity reads; every
        # description shares "film" with every other, so every item has related items
        "TITLE": [f"{genres[k % 4]} picture {k}" for k in range(n_items)],
        "PRODUCT_DESCRIPTION": [f"a {genres[k % 4].lower()} film" + (" with a twist" if k % 5 == 0 else "")
                                for k in range(n_items)],
    })
    return Data(interactions, items)


def _schema(name: str, fields: list[dict]) -> dict:
    return {"type": "record", "name": name, "namespace": "com.amazonaws.personalize.schema",
            "fields": fields, "version": "1.0"}


INTERACTIONS_SCHEMA = _schema("Interactions", [
    {"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
    {"name": "EVENT_TYPE", "type": "string"}, {"name": "TIMESTAMP", "type": "long"}])
ITEMS_SCHEMA = _schema("Items", [
    {"name": "ITEM_ID", "type": "string"}, {"name": "GENRES", "type": "string", "categorical": True},
    {"name": "CREATION_TIMESTAMP", "type": "long"}, {"name": "TITLE", "type": "string", "itemName": True},
    {"name": "PRODUCT_DESCRIPTION", "type": "string", "textual": True}])
DOMAIN = "VIDEO_ON_DEMAND"         # so that its domain recommenders (and their exclusions) exist


def build_group(pp, data: Data, name: str = GROUP) -> str:
    """A VIDEO_ON_DEMAND dataset group holding ``data``."""
    pp.create_dataset_group(name=name, domain=DOMAIN)
    for dtype, schema, frame in (("Interactions", INTERACTIONS_SCHEMA, data.interactions),
                                 ("Items", ITEMS_SCHEMA, data.items)):
        pp.create_schema(name=f"{name}-{dtype.lower()}", schema=schema, domain=DOMAIN)
        pp.create_dataset(name=f"{name}-{dtype.lower()}", dataset_group=name, dataset_type=dtype,
                          schema=f"{name}-{dtype.lower()}")
        pp.create_dataset_import_job(dataset=dtype, dataset_group=name, data_source=frame)
    return name


# -- deploying and asking -------------------------------------------------------------


@dataclass
class Deployed:
    recipe: Recipe
    solution: str
    version: str
    campaign: str


def deploy(pp, recipe: Recipe, group: str = GROUP, name: str | None = None) -> Deployed:
    """Solution + FULL version + campaign (no exploration, where the recipe explores)."""
    name = name or re.sub(r"[^A-Za-z0-9-]", "-", recipe.name)
    pp.create_solution(name=name, dataset_group=group, recipe=recipe.name)
    version = pp.create_solution_version(solution=name)["solutionVersionArn"]
    campaign = f"{name}-live"
    pp.create_campaign(name=campaign, solution_version=version,
                       campaign_config=NO_EXPLORATION if recipe.explores else None)
    return Deployed(recipe, name, version, campaign)


def requests_for(recipe: Recipe) -> list[dict]:
    """The REQUESTS that give every input ``recipe`` requires."""
    out = []
    for user, item in REQUESTS:
        if ("user" in recipe.inputs and user is None) or ("item" in recipe.inputs and item is None):
            continue
        out.append({"user_id": user, "item_id": item})
    assert out, f"no request fits the inputs {recipe.inputs} of {recipe.name}"
    return out


def is_ranking(recipe: Recipe) -> bool:
    return recipe.recipe_type == RecipeType.PERSONALIZED_RANKING


def python_list(pp, request: dict, n: int, campaign: str | None = None,
                recommender: str | None = None) -> list[tuple[str, float]]:
    out = pp.get_recommendations(campaign=campaign, recommender=recommender, num_results=n, **request)
    return [(r["itemId"], r["score"]) for r in out["itemList"]]


SQL_RECOMMEND = "SELECT * FROM pp_recommend($e, user_id := $u, item_id := $i, n := $n)"


def sql_rows(con, endpoint: str, request: dict, n: int) -> list[tuple]:
    """``SELECT * FROM pp_recommend(...)`` on any DuckDB connection to the file."""
    cur = con.execute(SQL_RECOMMEND, {"e": endpoint, "u": request.get("user_id"),
                                      "i": request.get("item_id"), "n": n})
    assert [d[0] for d in cur.description] == ["rank", "item_id", "score"]
    return cur.fetchall()


def sql_list(con, endpoint: str, request: dict, n: int) -> list[tuple[str, float]]:
    return [(item, score) for _rank, item, score in sql_rows(con, endpoint, request, n)]


def assert_same_ranking(expected: list[tuple[str, float]], actual: list[tuple[str, float]], what: str) -> None:
    """Same length, scores equal to REL, items equal position by position except inside runs
    of tied scores, where they are compared as sets."""
    assert len(actual) == len(expected), f"{what}: {len(actual)} items, expected {len(expected)}"
    exp_scores = np.array([s for _i, s in expected], dtype=float)
    act_scores = np.array([s for _i, s in actual], dtype=float)
    np.testing.assert_allclose(act_scores, exp_scores, rtol=REL, atol=1e-12, err_msg=what)
    start = 0
    for k in range(1, len(expected) + 1):
        if k == len(expected) or not _tied(exp_scores[k], exp_scores[start]):
            want = [i for i, _s in expected[start:k]]
            got = [i for i, _s in actual[start:k]]
            if k - start == 1:
                assert got == want, f"{what}: position {start + 1} is {got[0]!r}, expected {want[0]!r}"
            else:
                assert set(got) == set(want), f"{what}: tied run at {start + 1}..{k} is {got}, expected {want}"
            start = k


def _tied(a: float, b: float) -> bool:
    return abs(a - b) <= TIE * max(abs(a), abs(b), 1e-300)


def assert_non_increasing(items: list[tuple[str, float]], what: str) -> None:
    scores = [s for _i, s in items]
    for k in range(1, len(scores)):
        assert scores[k] <= scores[k - 1] + TIE * abs(scores[k - 1]), (
            f"{what}: score rises from {scores[k - 1]!r} (rank {k}, {items[k - 1][0]}) to "
            f"{scores[k]!r} (rank {k + 1}, {items[k][0]})")


# -- the checks -----------------------------------------------------------------------


def check_shape(pp, dep: Deployed, requests: list[dict], catalogue: set[str]) -> None:
    """get_recommendations' answer: {"itemList", "recommendationId"}, at most n items, exactly
    n when the catalogue (less the current item) has that many, no duplicates, nothing from
    outside the catalogue; plain SQL's ranks are 1..n. A Personalized-Ranking campaign is
    refused."""
    if is_ranking(dep.recipe):
        with pytest.raises(InvalidInput, match="get_personalized_ranking"):
            pp.get_recommendations(campaign=dep.campaign, user_id="u01")
        return
    for request in requests:
        available = catalogue - {request.get("item_id")}
        for n in (1, 5, ALL):
            what = f"{dep.campaign} {request} n={n}"
            out = pp.get_recommendations(campaign=dep.campaign, num_results=n, **request)
            assert set(out) == {"itemList", "recommendationId"}, what
            assert isinstance(out["recommendationId"], str) and out["recommendationId"], what
            rows = out["itemList"]
            assert len(rows) == min(n, len(available)), what
            for row in rows:
                assert {"itemId", "score"} <= set(row), what
                assert isinstance(row["itemId"], str) and isinstance(row["score"], float), what
                assert np.isfinite(row["score"]), what
            ids = [r["itemId"] for r in rows]
            assert len(set(ids)) == len(ids), f"{what}: duplicates in {ids}"
            assert set(ids) <= available, f"{what}: {set(ids) - available} are not in the catalogue"
            if n == ALL or request is requests[0]:       # (plain SQL costs more than Python)
                ranks = [r[0] for r in sql_rows(pp.con, dep.campaign, request, n)]
                assert ranks == list(range(1, len(rows) + 1)), what


def check_scores_never_increase(pp, dep: Deployed, requests: list[dict]) -> None:
    for request in requests:
        what = f"{dep.campaign} {request}"
        assert_non_increasing(python_list(pp, request, ALL, campaign=dep.campaign), f"Python {what}")
        assert_non_increasing(sql_list(pp.con, dep.campaign, request, ALL), f"SQL {what}")


def check_ranking(pp, dep: Deployed, data: Data, users=("u01", "u02", UNKNOWN_USER)) -> None:
    """get_personalized_ranking: a permutation of the de-duplicated input list, scores summing
    to 1 over the items the model knows (0 for the others, which come last); a user without
    history is ranked by popularity (score = share of the list's popularity). Recipes that do
    not rank lists refuse it."""
    input_list = ["i05", "i03", "i05", "i39", UNKNOWN_ITEM, "i20", "i31", "i03", "i00"]
    if not dep.recipe.ranks_lists:
        with pytest.raises(InvalidInput):
            pp.get_personalized_ranking(dep.campaign, "u01", input_list)
        return
    unique = list(dict.fromkeys(input_list))
    known = data.interacted()
    for user in users:
        out = pp.get_personalized_ranking(dep.campaign, user, input_list)
        assert set(out) == {"personalizedRanking", "recommendationId"}
        ranked = [(r["itemId"], r["score"]) for r in out["personalizedRanking"]]
        ids = [i for i, _s in ranked]
        assert sorted(ids) == sorted(unique), f"{user}: {ids} is not a permutation of {unique}"
        scores = dict(ranked)
        assert sum(scores[i] for i in unique if i in known) == pytest.approx(1.0, abs=1e-9)
        assert all(scores[i] == 0.0 for i in unique if i not in known), ranked
        assert all(scores[i] > 0.0 for i in unique if i in known), ranked
        assert all(i in known for i in ids[:len(known & set(unique))]), f"{user}: unknown items not last: {ids}"
        assert_non_increasing(ranked, f"ranking for {user}")
        if user == UNKNOWN_USER:
            pop = dict(data.popularity())
            total = sum(pop[i] for i in unique if i in known)
            for i in unique:
                if i in known:
                    assert scores[i] == pytest.approx(pop[i] / total, rel=1e-9), (i, ranked)


def check_required_inputs(pp, dep: Deployed) -> None:
    """A request without an input the recipe requires is refused (InvalidInput from Python,
    an error from SQL); one without an input it does not require is served."""
    recipe = dep.recipe
    endpoint = pp.con.execute("SELECT requires_user, requires_item FROM pypersonalize.endpoints "
                              "WHERE name = $n", {"n": dep.campaign}).fetchall()
    assert endpoint == [("user" in recipe.inputs, "item" in recipe.inputs)]
    full = {"user_id": "u01", "item_id": "i03"}
    for need, key in (("user", "user_id"), ("item", "item_id")):
        request = {k: v for k, v in full.items() if k != key}
        if need in recipe.inputs:
            with pytest.raises(InvalidInput, match=key if not is_ranking(recipe) else "user_id"):
                if is_ranking(recipe):
                    pp.get_personalized_ranking(dep.campaign, None, ["i01", "i02"])
                else:
                    pp.get_recommendations(campaign=dep.campaign, **request)
            with pytest.raises(duckdb.Error, match=key):
                sql_rows(pp.con, dep.campaign, request, 5)
        elif not is_ranking(recipe):
            assert len(python_list(pp, request, 5, campaign=dep.campaign)) == 5
            assert len(sql_rows(pp.con, dep.campaign, request, 5)) == 5
    if recipe.inputs and not is_ranking(recipe):
        with pytest.raises(InvalidInput):
            pp.get_recommendations(campaign=dep.campaign)
        with pytest.raises(duckdb.Error):
            sql_rows(pp.con, dep.campaign, {}, 5)


def check_current_item_left_out(pp, dep: Deployed, requests: list[dict], catalogue: set[str]) -> None:
    """The current item is never in its own list; everything else of the catalogue is."""
    if is_ranking(dep.recipe):
        return
    asked = [r for r in requests if r.get("item_id") is not None]
    if not asked:            # a recipe that takes no item: give one anyway
        asked = [{**r, "item_id": "i03"} for r in requests[:2]]
    for request in asked:
        for got in (python_list(pp, request, ALL, campaign=dep.campaign),
                    sql_list(pp.con, dep.campaign, request, ALL)):
            ids = {i for i, _s in got}
            assert request["item_id"] not in ids, f"{dep.campaign} {request}: the current item is listed"
            assert ids == catalogue - {request["item_id"]}, f"{dep.campaign} {request}"


def check_recommender_exclusions(pp, recommender: str, use_case, data: Data,
                                 users=("u01", "u02", "u05", "u08"), trained_on: set | None = None) -> None:
    """A domain recommender leaves out the user's items of its excluded event type (and the
    current item), and nothing else: the whole list is exactly the rest of what it trained on
    (``trained_on``: its items when they are not just the interacted ones)."""
    trained_on = data.interacted(use_case.event_type) if trained_on is None else trained_on
    for user in users:
        excluded = data.user_items(user, use_case.exclude_event_type)
        assert excluded & trained_on, f"{user} has no {use_case.exclude_event_type} events: vacuous"
        request = {"user_id": user, "item_id": "i03" if use_case.requires_item else None}
        expected = trained_on - excluded - {request["item_id"]}
        py = python_list(pp, request, ALL, recommender=recommender)
        sql = sql_list(pp.con, recommender, request, ALL)
        for how, got in (("Python", py), ("SQL", sql)):
            ids = [i for i, _s in got]
            assert not set(ids) & excluded, f"{how} {recommender} {user}: lists {set(ids) & excluded}"
            assert set(ids) == expected, f"{how} {recommender} {user}"
        assert_same_ranking(py, sql, f"{recommender} {user}: Python vs SQL")
    # the user's other event types are not excluded
    clicked = data.user_items(users[0], "Click") - data.user_items(users[0], use_case.exclude_event_type)
    if clicked & trained_on:
        ids = {i for i, _s in python_list(pp, {"user_id": users[0], "item_id": None if not use_case.requires_item
                                               else "i03"}, ALL, recommender=recommender)}
        assert (clicked & trained_on) - {"i03"} <= ids


def answers(pp, dep: Deployed, requests: list[dict]) -> list:
    """Every request's answer from Python (5 and all items) and from SQL (all items),
    exactly as returned."""
    out = []
    if is_ranking(dep.recipe):
        for request in requests:
            user = request.get("user_id") or "u01"
            got = pp.get_personalized_ranking(dep.campaign, user, ["i05", "i03", "i20", "i31", UNKNOWN_ITEM])
            out.append([(r["itemId"], r["score"]) for r in got["personalizedRanking"]])
        return out
    for request in requests:
        out.append(python_list(pp, request, 5, campaign=dep.campaign))
        out.append(python_list(pp, request, ALL, campaign=dep.campaign))
        out.append(sql_list(pp.con, dep.campaign, request, ALL))
    return out


def check_python_equals_sql(pp, dep: Deployed, requests: list[dict]) -> None:
    if is_ranking(dep.recipe):
        return
    for request in requests:
        for n in (5, ALL):
            assert_same_ranking(python_list(pp, request, n, campaign=dep.campaign),
                                sql_list(pp.con, dep.campaign, request, n),
                                f"{dep.campaign} {request} n={n}: Python vs SQL")


# -- the CLI and a plain DuckDB client on a copy of the file ---------------------------


def cli_executable() -> list[str]:
    script = Path(sys.executable).with_name("pypersonalize")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from pypersonalize.cli import main; main()"]


def run_cli(args: list[str], via: str) -> tuple[int, str]:
    """(exit code, stdout) of ``pypersonalize ARGS``, in a new process or through click's runner."""
    if via == "subprocess":
        done = subprocess.run(cli_executable() + args, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "NO_COLOR": "1"})
        return done.returncode, done.stdout + (done.stderr if done.returncode else "")
    result = CliRunner().invoke(cli_main, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout if result.exit_code == 0 else result.output


def cli_list(db: Path, dep: Deployed, request: dict, n: int, via: str) -> list[tuple[str, float]]:
    args = ["--db", str(db), "--format", "json", "--quiet"]
    if is_ranking(dep.recipe):
        args += ["rank", "--campaign", dep.campaign, "--user-id", request.get("user_id") or "u01"]
        for item in ["i05", "i03", "i20", "i31", UNKNOWN_ITEM]:
            args += ["--item", item]
        key = "personalizedRanking"
    else:
        args += ["recommend", "--campaign", dep.campaign, "-n", str(n)]
        if request.get("user_id") is not None:
            args += ["--user-id", request["user_id"]]
        if request.get("item_id") is not None:
            args += ["--item-id", request["item_id"]]
        key = "itemList"
    code, out = run_cli(args, via)
    assert code == 0, f"pypersonalize {' '.join(args)} exited {code}: {out}"
    return [(r["itemId"], r["score"]) for r in json.loads(out)[key]]


def check_cli_and_plain_sql(pp, copy: Path, dep: Deployed, requests: list[dict], via_first: str) -> None:
    """Python (``pp``, the original file) = the CLI = a plain DuckDB client (both on ``copy``,
    a copy of the closed file). The first request goes through ``via_first`` ("subprocess":
    a new process; "runner": click's runner in this one), the rest through the runner."""
    for k, request in enumerate(requests):
        for n in ((ALL,) if k else (5, ALL)):
            via = via_first if (k, n) == (0, 5) else "runner"
            if is_ranking(dep.recipe):
                got = pp.get_personalized_ranking(dep.campaign, request.get("user_id") or "u01",
                                                  ["i05", "i03", "i20", "i31", UNKNOWN_ITEM])
                py = [(r["itemId"], r["score"]) for r in got["personalizedRanking"]]
            else:
                py = python_list(pp, request, n, campaign=dep.campaign)
            assert_same_ranking(py, cli_list(copy, dep, request, n, via), f"{dep.campaign} {request} n={n}: CLI ({via})")
    # the CLI refuses what the library refuses, with exit code 1 and one line
    if dep.recipe.inputs and not is_ranking(dep.recipe):
        code, out = run_cli(["--db", str(copy), "--format", "json", "--quiet", "recommend",
                             "--campaign", dep.campaign], "runner")
        assert code == 1 and "needs" in out, out
    if is_ranking(dep.recipe):
        return
    con = duckdb.connect(str(copy), read_only=True)     # no pypersonalize code involved
    try:
        for k, request in enumerate(requests):
            for n in ((ALL,) if k else (5, ALL)):
                assert_same_ranking(python_list(pp, request, n, campaign=dep.campaign),
                                    sql_list(con, dep.campaign, request, n),
                                    f"{dep.campaign} {request} n={n}: plain DuckDB client")
    finally:
        con.close()


def copy_closed(env, name: str) -> Path:
    """Close the project, copy its file, reopen it; the copy is for other processes."""
    env.close()
    target = env.path.with_name(name)
    shutil.copyfile(env.path, target)
    env.open()
    return target


# -- training modes, deletion, model tables -------------------------------------------


def new_item_events(item: str, users=("u01", "u03", "u05", "u07", "u09")) -> pd.DataFrame:
    return pd.DataFrame({"USER_ID": list(users), "ITEM_ID": item,
                         "EVENT_TYPE": ["Watch", "Click"] * (len(users) // 2) + ["Watch"] * (len(users) % 2),
                         "TIMESTAMP": [T0 + 10_000_000 + k for k in range(len(users))]})


def check_update(pp, dep: Deployed, group: str, new_item: str) -> None:
    """UPDATE training where the recipe supports it (a version that knows a new item, the
    campaign moves to it), an InvalidInput (and no version recorded) where it does not."""
    recipe = dep.recipe
    versions = lambda: [v["solutionVersionArn"] for v in  # noqa: E731
                        pp.list_solution_versions(solution=dep.solution)["solutionVersions"]]
    before = versions()
    if not recipe.updatable:
        with pytest.raises(InvalidInput, match="UPDATE"):
            pp.create_solution_version(solution=dep.solution, training_mode="UPDATE")
        assert versions() == before
        return
    request = requests_for(recipe)[0]
    pp.create_dataset_import_job(dataset="Interactions", dataset_group=group,
                                 data_source=new_item_events(new_item), import_mode="INCREMENTAL")
    old = answers(pp, dep, [request])
    assert all(new_item not in {i for i, _s in a} for a in old), "the FULL version knows the new item"
    update = pp.create_solution_version(solution=dep.solution, training_mode="UPDATE")["solutionVersionArn"]
    desc = pp.describe_solution_version(update)["solutionVersion"]
    assert desc["status"] == "ACTIVE" and desc["trainingMode"] == "UPDATE"
    assert versions() == before + [update]
    assert answers(pp, dep, [request]) == old                   # the campaign still serves the FULL one
    pp.update_campaign(dep.campaign, solution_version=update)
    assert pp.describe_campaign(dep.campaign)["campaign"]["solutionVersionArn"] == update
    assert pp.con.execute("SELECT version_arn FROM pypersonalize.endpoints WHERE name = $n",
                          {"n": dep.campaign}).fetchall() == [(update,)]
    if is_ranking(recipe):
        got = pp.get_personalized_ranking(dep.campaign, "u01", ["i05", new_item])
        assert {r["itemId"]: r["score"] for r in got["personalizedRanking"]}[new_item] > 0
        return
    py = python_list(pp, request, ALL, campaign=dep.campaign)
    assert new_item in {i for i, _s in py}, "the UPDATE version does not know the new item"
    assert_same_ranking(py, sql_list(pp.con, dep.campaign, request, ALL), "after UPDATE: Python vs SQL")


def version_tables(pp) -> dict[str, set[str]]:
    """Every table of schema pypersonalize -> its columns."""
    out: dict[str, set[str]] = {}
    for table, column in pp.con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = 'pypersonalize'").fetchall():
        out.setdefault(table, set()).add(column)
    return out


def rows_of(pp, versions: list[str], tables) -> dict[str, int]:
    return {t: pp.con.execute(f'SELECT count(*) FROM pypersonalize."{t}" WHERE version_arn IN '
                              f'(SELECT unnest($v::VARCHAR[]))', {"v": versions}).fetchall()[0][0]
            for t in tables}


def check_model_tables(pp, dep: Deployed, data: Data) -> None:
    """The recipe's model tables exist in schema pypersonalize with a version_arn column and
    are in the registry's model_tables(); its version's rows are only in model tables (or
    deleting it would leave them behind); its popular-items fallback is Popularity-Count."""
    tables = version_tables(pp)
    registry = model_tables()
    assert "popular_items" in registry
    for table in dep.recipe.model_tables:
        assert table in tables, f"{table} is not in schema pypersonalize"
        assert "version_arn" in tables[table], f"{table} has no version_arn column"
        assert table in registry
    keyed = [t for t, cols in tables.items() if "version_arn" in cols and t != "endpoints"]
    holding = {t for t, n in rows_of(pp, [dep.version], keyed).items() if n}
    assert holding <= set(registry), f"rows of {dep.version} outside model_tables(): {holding - set(registry)}"
    if dep.recipe.model_tables:
        assert holding & set(dep.recipe.model_tables), f"{dep.version} wrote none of {dep.recipe.model_tables}"
    popular = pp.con.execute("SELECT item, score FROM pypersonalize.popular_items WHERE version_arn = $v "
                             "ORDER BY rank", {"v": dep.version}).fetchall()
    ranks = [r for (r,) in pp.con.execute("SELECT rank FROM pypersonalize.popular_items WHERE version_arn = $v "
                                          "ORDER BY rank", {"v": dep.version}).fetchall()]
    assert ranks == list(range(1, len(ranks) + 1))
    assert_same_ranking(data.popularity(), popular, f"popular_items of {dep.version}")
    assert [i for i, _s in popular] == [i for i, _s in data.popularity()]


def check_delete(pp, recipe: Recipe, group: str, name: str, keep: Deployed | None = None) -> None:
    """Two versions of a new solution and a campaign; deleting the solution is refused while
    the campaign serves it; once the campaign is gone, nothing of its versions is left in
    any table of model_tables() (nor in any other table keyed by version_arn); other
    solutions' rows are untouched."""
    pp.create_solution(name=name, dataset_group=group, recipe=recipe.name)
    versions = [pp.create_solution_version(solution=name)["solutionVersionArn"] for _ in range(2)]
    campaign = f"{name}-live"
    pp.create_campaign(name=campaign, solution_version=versions[1],
                       campaign_config=NO_EXPLORATION if recipe.explores else None)
    registry = model_tables()
    before = rows_of(pp, versions, registry)
    assert before["popular_items"] > 0
    if recipe.model_tables:
        assert sum(before[t] for t in recipe.model_tables) > 0
    kept = rows_of(pp, [keep.version], registry) if keep else None
    with pytest.raises(ResourceInUse):
        pp.delete_solution(name)
    assert rows_of(pp, versions, registry) == before
    pp.delete_campaign(campaign)
    pp.delete_solution(name)
    left = rows_of(pp, versions, registry)
    assert left == {t: 0 for t in registry}, f"rows left behind: { {t: n for t, n in left.items() if n} }"
    keyed = [t for t, cols in version_tables(pp).items() if "version_arn" in cols]
    assert not any(rows_of(pp, versions, keyed).values())
    with pytest.raises(ResourceNotFound):
        pp.describe_solution(name)
    for v in versions:
        with pytest.raises(ResourceNotFound):
            pp.describe_solution_version(v)
    if keep:
        assert rows_of(pp, [keep.version], registry) == kept


# -- a module's project ---------------------------------------------------------------


class Env:
    """One project file for a test module: the data, a group holding it, the open project
    (``pp``; closed and reopened by some checks) and each recipe's deployment, made once."""

    def __init__(self, path: Path, data: Data):
        self.path = path
        self.data = data
        self.pp = None
        self.deployed: dict[str, Deployed] = {}
        self.open()
        build_group(self.pp, data)

    def open(self) -> None:
        self.pp = pypersonalize.open(self.path, quiet=True)

    def close(self) -> None:
        if self.pp is not None:
            self.pp.close()
            self.pp = None

    def reopen(self) -> None:
        self.close()
        self.open()

    def deploy(self, recipe: Recipe) -> Deployed:
        if recipe.name not in self.deployed:
            self.deployed[recipe.name] = deploy(self.pp, recipe)
        return self.deployed[recipe.name]
