"""CLI: recipes, solutions, versions, campaigns, recommenders, refresh, recommend."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

import pypersonalize
from pypersonalize.cli import main
from tests.conftest import build_sample_group


@pytest.fixture
def cli(tmp_path):
    db = tmp_path / "cli.duckdb"
    with pypersonalize.open(db, quiet=True) as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "movies")
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, ["--db", str(db), *args], catch_exceptions=False)
    run.db = db
    return run


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_solution_version_campaign_recommend(cli):
    assert _json(cli("--format", "json", "recipe", "list"))[1]["name"] == "aws-sims"
    hps = {h["name"]: h for h in _json(cli("--format", "json", "recipe", "describe", "aws-sims"))["hyperparameters"]}
    assert hps["min_cointeraction_count"]["default"] == 3 and hps["popularity_discount_factor"]["hpoTunable"]
    out = _json(cli("--format", "json", "solution", "create", "rel", "--dataset-group", "movies",
                    "--recipe", "aws-sims", "--hp", "min_cointeraction_count=2", "--event-type", "Watch"))
    assert out["solutionArn"].endswith("solution/rel")
    v1 = _json(cli("--format", "json", "solution-version", "create", "rel"))
    assert v1["status"] == "ACTIVE" and v1["modelStats"]["relatedItems"] > 0
    assert _json(cli("--format", "json", "campaign", "create", "live", "--solution-version",
                     v1["solutionVersionArn"]))["campaignArn"].endswith("campaign/live")
    recs = _json(cli("--format", "json", "recommend", "--campaign", "live", "--item-id", "m52", "-n", "7"))
    assert len(recs["itemList"]) == 7 and recs["recommendationId"].startswith("RID-")
    with pypersonalize.open(cli.db, quiet=True) as pp:
        assert pp.get_recommendations(campaign="live", item_id="m52", num_results=7)["itemList"] == recs["itemList"]
    table = cli("recommend", "--campaign", "live", "--item-id", "m52", "-n", "3").output.splitlines()
    assert table[0].split() == ["rank", "itemId", "score"] and len(table) == 5
    v2 = _json(cli("--format", "json", "solution-version", "create", "rel"))
    updated = _json(cli("--format", "json", "campaign", "update", "live", "--solution-version",
                        v2["solutionVersionArn"]))
    assert updated["solutionVersionArn"] == v2["solutionVersionArn"]
    versions = _json(cli("--format", "json", "solution-version", "list", "--solution", "rel"))
    assert [v["status"] for v in versions] == ["ACTIVE", "ACTIVE"]
    assert cli("solution", "delete", "rel").exit_code == 1          # a campaign serves it
    assert cli("campaign", "delete", "live").exit_code == 0
    assert cli("solution", "delete", "rel").exit_code == 0


def test_recommenders_and_refresh(cli):
    rec = _json(cli("--format", "json", "recommender", "create", "top", "--dataset-group", "movies",
                    "--use-case", "Most popular", "--min-rps", "5"))
    assert rec["status"] == "ACTIVE" and rec["stale"] is False
    assert rec["recommenderConfig"]["minRecommendationRequestsPerSecond"] == 5
    listing = _json(cli("--format", "json", "recommender", "list"))
    assert [r["name"] for r in listing] == ["top"]
    refresh = _json(cli("--format", "json", "refresh"))
    assert refresh == [{"recommender": "top", "action": "up to date", "reason": ""}]
    with pypersonalize.open(cli.db, quiet=True) as pp:
        extra = pd.DataFrame({"USER_ID": ["x1", "x2"], "ITEM_ID": "m1", "EVENT_TYPE": "Watch",
                              "EVENT_VALUE": 1.0, "TIMESTAMP": 1735700000, "IMPRESSION": None})
        pp.create_dataset_import_job(dataset="Interactions", dataset_group="movies", data_source=extra,
                                     import_mode="INCREMENTAL")
    refresh = _json(cli("--format", "json", "refresh", "--quiet"))
    assert refresh[0]["action"] == "retrained" and "data changed" in refresh[0]["reason"]
    assert _json(cli("--format", "json", "recommender", "describe", "top"))["stale"] is False


def test_cli_errors(cli):
    bad = cli("solution", "create", "s", "--dataset-group", "movies", "--recipe", "aws-sims", "--hp", "oops")
    assert bad.exit_code == 2
    bad = cli("solution", "create", "s", "--dataset-group", "movies", "--recipe", "aws-sims",
              "--hp", "min_cointeraction_count=99")
    assert bad.exit_code == 1 and "outside" in bad.output
    bad = cli("recommend", "--recommender", "nope", "--user-id", "u1")
    assert bad.exit_code == 1 and "nope" in bad.output
    cli("recommender", "create", "byw", "--dataset-group", "movies", "--use-case", "Because you watched X")
    bad = cli("recommend", "--recommender", "byw", "--user-id", "u1")
    assert bad.exit_code == 1 and "needs item_id" in bad.output
    bad = cli("recommend", "--recommender", "byw", "--user-id", "u1", "--item-id", "m1", "-n", "501")
    assert bad.exit_code == 1 and "num_results" in bad.output


def test_filter_commands_and_filtered_recommendations(cli):
    cli("recommender", "create", "top", "--dataset-group", "movies", "--use-case", "Most popular")
    out = _json(cli("--format", "json", "filter", "create", "by-genre", "--dataset-group", "movies",
                    "--expression", "INCLUDE ItemID WHERE Items.GENRES IN ($GENRE)"))
    assert out["filterArn"].endswith("filter/by-genre")
    assert [f["name"] for f in _json(cli("--format", "json", "filter", "list"))] == ["by-genre"]
    assert _json(cli("--format", "json", "filter", "describe", "by-genre"))["filterExpression"].startswith("INCLUDE")
    recs = _json(cli("--format", "json", "recommend", "--recommender", "top", "--user-id", "u1", "-n", "5",
                     "--filter", "by-genre", "--filter-value", 'GENRE="Comedy"'))["itemList"]
    with pypersonalize.open(cli.db, quiet=True) as pp:
        comedies = {i for (i,) in pp.sql("SELECT ITEM_ID FROM movies.items WHERE list_contains(GENRES, 'Comedy')").fetchall()}
        same = pp.get_recommendations(recommender="top", user_id="u1", num_results=5, filter="by-genre",
                                      filter_values={"GENRE": '"Comedy"'})["itemList"]
    assert len(recs) == 5 and {r["itemId"] for r in recs} <= comedies
    assert [r["itemId"] for r in recs] == [r["itemId"] for r in same]
    bad = cli("filter", "create", "x", "--dataset-group", "movies", "--expression", "INCLUDE ItemID WHERE")
    assert bad.exit_code == 1 and "position" in bad.output
    missing = cli("recommend", "--recommender", "top", "--user-id", "u1", "--filter", "by-genre")
    assert missing.exit_code == 1 and "$GENRE" in missing.output
    assert cli("filter", "delete", "by-genre").exit_code == 0
