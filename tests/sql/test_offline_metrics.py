"""Offline metrics (get_solution_metrics): Personalize's split, taken at training time, checked
against independent pandas computations on the bundled sample data."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from click.testing import CliRunner

import pypersonalize
from pypersonalize import evaluation
from pypersonalize.cli import main
from tests.conftest import build_sample_group

pytestmark = pytest.mark.offline_metrics

RANKING_KEYS = {"coverage", "mean_reciprocal_rank_at_25", "normalized_discounted_cumulative_gain_at_5",
                "normalized_discounted_cumulative_gain_at_10", "normalized_discounted_cumulative_gain_at_25",
                "precision_at_5", "precision_at_10", "precision_at_25"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    path = tmp_path_factory.mktemp("metrics") / "p.duckdb"
    with pypersonalize.open(path, quiet=True) as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "movies")
        arns = {}
        for recipe in ("aws-popularity-count", "aws-user-personalization", "aws-sims", "aws-trending-now",
                       "aws-item-affinity"):
            pp.create_solution(name=recipe, dataset_group="movies", recipe=recipe)
            arns[recipe] = pp.create_solution_version(recipe)["solutionVersionArn"]
    return path, arns


def _events(pp) -> pd.DataFrame:
    return pp.con.execute('SELECT USER_ID AS "user", ITEM_ID AS item, "TIMESTAMP" AS ts, rowid AS seq, '
                          "EVENT_TYPE AS type, CAST(EVENT_VALUE AS DOUBLE) AS value, true AS eligible "
                          "FROM movies.interactions").df()


# -- the split ------------------------------------------------------------------------------

def test_user_split_follows_personalizes_rule(trained):
    path, _ = trained
    with pypersonalize.open(path, quiet=True, read_only=True) as pp:
        ev = _events(pp)
    split = evaluation.user_split(ev, seed=3)
    users = ev["user"].nunique()
    assert len(split.users) == round(0.1 * users)                       # 10% of the users held out
    held = set(split.users)
    train = ev[ev["seq"].isin(split.train_rows)]
    assert set(train["user"]) == set(ev["user"]) - held                  # the other 90% train, whole
    assert len(train) == (~ev["user"].isin(held)).sum()
    for k, user in enumerate(split.users[:40]):
        mine = ev[ev["user"] == user].sort_values(["ts", "seq"])
        n_truth = max(1, math.floor(0.1 * len(mine) + 0.5))
        truth = mine.iloc[len(mine) - n_truth:]
        assert sorted(split.truth_item[split.truth_user == k]) == sorted(truth["item"])
        inputs = set(split.input_rows) & set(mine["seq"])
        assert inputs == set(mine["seq"].iloc[:len(mine) - n_truth])    # the oldest 90% are the input
    again = evaluation.user_split(ev, seed=3)
    assert list(again.users) == list(split.users)                        # a fixed seed, a fixed split
    assert set(evaluation.user_split(ev, seed=4).users) != held


def test_validation_users_are_never_test_users(trained):
    path, _ = trained
    with pypersonalize.open(path, quiet=True, read_only=True) as pp:
        ev = _events(pp)
    test = evaluation.user_split(ev)
    val = evaluation.user_split(ev, role="validation")
    assert not set(val.users) & set(test.users)
    trained_on = set(ev.loc[ev["seq"].isin(val.train_rows), "user"])
    assert not trained_on & (set(val.users) | set(test.users))
    half = evaluation.user_split(ev, role="validation", budget=0.5)
    assert half.train_users == round(0.5 * val.train_users)
    assert list(half.users) == list(val.users)


def test_segment_split_holds_out_each_users_newest_fifth(trained):
    path, _ = trained
    with pypersonalize.open(path, quiet=True, read_only=True) as pp:
        ev = _events(pp)
    split = evaluation.interaction_split(ev)
    for _user, mine in list(ev.sort_values(["ts", "seq"]).groupby("user"))[:50]:
        n_truth = min(math.floor(0.2 * len(mine) + 0.5), len(mine) - 1)
        assert set(split.train_rows) & set(mine["seq"]) == set(mine["seq"].iloc[:len(mine) - n_truth])


# -- the metrics ----------------------------------------------------------------------------

def _naive(recs: dict[str, list[str]], truth: dict[str, set[str]]) -> dict:
    """Personalize's definitions, written plainly per user."""
    out = {f"normalized_discounted_cumulative_gain_at_{k}": 0.0 for k in (5, 10, 25)}
    out.update({f"precision_at_{k}": 0.0 for k in (5, 10, 25)}, mean_reciprocal_rank_at_25=0.0)
    for user, relevant in truth.items():
        ranked = recs[user]
        for k in (5, 10, 25):
            dcg = sum(1 / math.log(1 + p) for p, i in enumerate(ranked[:k], 1) if i in relevant)
            ideal = sum(1 / math.log(1 + p) for p in range(1, min(len(relevant), k) + 1))
            out[f"normalized_discounted_cumulative_gain_at_{k}"] += dcg / ideal / len(truth)
            out[f"precision_at_{k}"] += sum(i in relevant for i in ranked[:k]) / k / len(truth)
        first = next((p for p, i in enumerate(ranked[:25], 1) if i in relevant), None)
        out["mean_reciprocal_rank_at_25"] += (1 / first if first else 0.0) / len(truth)
    return out


def test_popularity_count_metrics_match_an_independent_computation(trained):
    path, arns = trained
    with pypersonalize.open(path, quiet=True, read_only=True) as pp:
        got = pp.get_solution_metrics(arns["aws-popularity-count"])
        ev = _events(pp)
        desc = pp.describe_solution_version(arns["aws-popularity-count"])["solutionVersion"]
    assert got["solutionVersionArn"] == arns["aws-popularity-count"]
    assert set(got["metrics"]) == RANKING_KEYS
    split = evaluation.user_split(ev)
    train = ev[ev["seq"].isin(split.train_rows)]
    counts = train.groupby("item")["user"].nunique().reset_index()
    top = counts.sort_values(["user", "item"], ascending=[False, True])["item"].head(25).tolist()
    truth = {}
    for k, item in zip(split.truth_user, split.truth_item):
        truth.setdefault(split.users[k], set()).add(item)
    expected = _naive({u: top for u in truth}, truth)
    for name, value in expected.items():
        assert got["metrics"][name] == pytest.approx(value, abs=1e-6), name
    assert got["metrics"]["coverage"] == pytest.approx(25 / len(set(ev["item"]) | _items(path)), abs=1e-6)
    # the baseline every version reports is this same Popularity-Count
    assert desc["evaluation"]["baseline"]["metrics"] == got["metrics"]
    assert desc["evaluation"]["split"] == {"method": "users-90-10", "trainUsers": split.train_users,
                                           "testUsers": len(split.users), "truthInteractions": len(split.truth_item),
                                           "seed": evaluation.SEED, "role": "test", "budget": 1.0}


def _items(path) -> set:
    with pypersonalize.open(path, quiet=True, read_only=True) as pp:
        return {r[0] for r in pp.con.execute("SELECT ITEM_ID FROM movies.items").fetchall()}


def test_user_personalization_beats_its_popularity_baseline(trained):
    path, arns = trained
    with pypersonalize.open(path, quiet=True, read_only=True) as pp:
        desc = pp.describe_solution_version(arns["aws-user-personalization"])["solutionVersion"]
        got = pp.get_solution_metrics(arns["aws-user-personalization"])["metrics"]
    base = desc["evaluation"]["baseline"]["metrics"]
    assert set(got) == RANKING_KEYS
    # the sample's users follow their genres: personal lists find more of their next items
    assert got["normalized_discounted_cumulative_gain_at_10"] > 1.3 * base["normalized_discounted_cumulative_gain_at_10"]
    assert got["coverage"] > 5 * base["coverage"]
    tail = desc["evaluation"]["longTail"]
    assert tail["bins"] == 20 and sum(tail["catalogShare"]) == pytest.approx(1, abs=1e-4)
    assert sum(tail["recommendedShare"]) == pytest.approx(1, abs=1e-4)
    assert tail["catalogShare"] == sorted(tail["catalogShare"], reverse=True)   # most popular first


def test_the_final_model_trains_on_all_the_data(trained):
    """The held-out users' newest events are in the served model: Popularity-Count's scores
    are the shares of every user, not of the 90% the metrics' model saw."""
    path, arns = trained
    with pypersonalize.open(path, quiet=True, read_only=True) as pp:
        ev = _events(pp)
        rows = pp.con.execute("SELECT item, score FROM pypersonalize.popular_items WHERE version_arn = $v",
                              {"v": arns["aws-popularity-count"]}).fetchall()
    share = ev.groupby("item")["user"].nunique() / ev["user"].nunique()
    assert len(rows) == len(share)
    for item, score in rows:
        assert score == pytest.approx(share[item], abs=1e-12)


def test_related_items_and_segments_and_trends_get_their_metrics(trained):
    path, arns = trained
    with pypersonalize.open(path, quiet=True, read_only=True) as pp:
        sims = pp.get_solution_metrics(arns["aws-sims"])["metrics"]
        seg = pp.get_solution_metrics(arns["aws-item-affinity"])["metrics"]
        trend = pp.get_solution_metrics(arns["aws-trending-now"])["metrics"]
        ev = _events(pp)
        sims_eval = pp.describe_solution_version(arns["aws-sims"])["solutionVersion"]["evaluation"]
    assert set(sims) == RANKING_KEYS and sims["precision_at_25"] > 0
    assert sims_eval["split"]["method"] == "users-90-10"
    assert set(seg) == {"hit", "recall"} and 0 < seg["recall"] <= 1 and seg["hit"] > 0
    assert set(trend) == {"coverage", "trend_prediction_accuracy"}
    # trend prediction accuracy, computed here from the events alone (2 hours, the default)
    interval = 7200
    cutoff = int(ev["ts"].max()) - interval

    def gain(lo, mid, hi):
        after = ev[(ev["ts"] > mid) & (ev["ts"] <= hi)].groupby("item").size()
        before = ev[(ev["ts"] > lo) & (ev["ts"] <= mid)].groupby("item").size()
        return after.sub(before, fill_value=0)
    latest = int(ev.loc[ev["ts"] <= cutoff, "ts"].max())     # the trend as served then: up to the last event
    trend_before = gain(latest - 2 * interval, latest - interval, latest)
    grew = trend_before[trend_before > 0].reset_index().set_axis(["item", "g"], axis=1)
    picked = grew.sort_values(["g", "item"], ascending=[False, True])["item"].head(25)
    actual = gain(cutoff - interval, cutoff, cutoff + interval)
    actual = actual[actual > 0]
    # the popular items of the events before the cutoff complete the list, as served
    popular = ev[ev["ts"] <= cutoff].groupby("item")["user"].nunique().reset_index()
    popular = popular.sort_values(["user", "item"], ascending=[False, True])["item"]
    picked = list(picked) + [i for i in popular if i not in set(picked)][:25 - len(picked)]
    best = actual.sort_values(ascending=False).head(25).sum()
    expected = actual.reindex(pd.Index(picked, dtype=object), fill_value=0).sum() / best
    assert trend["trend_prediction_accuracy"] == pytest.approx(expected, abs=1e-6)


def test_taking_metrics_leaves_nothing_behind(trained):
    path, arns = trained
    with pypersonalize.open(path, quiet=True, read_only=True) as pp:
        schemas = {r[0] for r in pp.con.execute("SELECT schema_name FROM duckdb_schemas()").fetchall()}
        assert evaluation.SCHEMA not in schemas
        for table in ("popular_items", "personal_params", "related_items", "affinity_users"):
            n = pp.con.execute(f"SELECT count(*) FROM pypersonalize.{table} WHERE version_arn LIKE '%pp#%'"
                               ).fetchall()[0][0]
            assert n == 0, table


def test_update_versions_keep_their_full_versions_metrics(tmp_path):
    with pypersonalize.open(tmp_path / "p.duckdb", quiet=True) as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "movies")
        pp.create_solution(name="up", dataset_group="movies", recipe="aws-user-personalization")
        full = pp.create_solution_version("up")["solutionVersionArn"]
        update = pp.create_solution_version("up", training_mode="UPDATE")["solutionVersionArn"]
        assert pp.get_solution_metrics(update)["metrics"] == pp.get_solution_metrics(full)["metrics"] != {}
        assert pp.describe_solution_version(update)["solutionVersion"]["evaluation"] == {"fromVersion": full}
        pp.create_recommender(name="top", dataset_group="movies", use_case="Most popular")
        rec = pp.describe_recommender("top")["recommender"]
        assert rec["modelMetrics"] == pp.get_solution_metrics(rec["modelVersionArn"])["metrics"]
        assert set(rec["modelMetrics"]) == RANKING_KEYS


def test_data_that_cannot_give_metrics_trains_without_them(tmp_path):
    """Trending-Now holds out the last trend interval: events of one hour give nothing to hold out."""
    with pypersonalize.open(tmp_path / "p.duckdb", quiet=True) as pp:
        ns = "com.amazonaws.personalize.schema"
        pp.create_dataset_group(name="tiny")
        pp.create_schema(name="i", schema={"type": "record", "name": "Interactions", "namespace": ns, "fields": [
            {"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
            {"name": "TIMESTAMP", "type": "long"}]})
        pp.create_dataset(name="i", dataset_group="tiny", dataset_type="Interactions", schema="i")
        frame = pd.DataFrame({"USER_ID": [f"u{k % 50}" for k in range(2000)],
                              "ITEM_ID": [f"i{k % 40}" for k in range(2000)],
                              "TIMESTAMP": [1_700_000_000 + k for k in range(2000)]})
        pp.create_dataset_import_job(dataset="Interactions", dataset_group="tiny", data_source=frame)
        pp.create_solution(name="trend", dataset_group="tiny", recipe="aws-trending-now")
        arn = pp.create_solution_version("trend")["solutionVersionArn"]
        assert pp.get_solution_metrics(arn)["metrics"] == {}
        skipped = pp.describe_solution_version(arn)["solutionVersion"]["evaluation"]["skipped"]
        assert "do not span two trend intervals" in skipped
        assert pp.describe_solution_version(arn)["solutionVersion"]["status"] == "ACTIVE"


def test_failed_versions_have_no_metrics(tmp_path):
    with pypersonalize.open(tmp_path / "p.duckdb", quiet=True) as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "movies")
        pp.create_solution(name="sem", dataset_group="movies", recipe="aws-semantic-similarity")
        with pytest.raises(pypersonalize.InvalidInput):
            pp.create_solution_version("sem")
        failed = pp.list_solution_versions("sem")["solutionVersions"][0]["solutionVersionArn"]
        with pytest.raises(pypersonalize.InvalidInput, match="CREATE FAILED; it has no metrics"):
            pp.get_solution_metrics(failed)


def test_cli_prints_the_metrics(trained):
    path, arns = trained
    out = CliRunner().invoke(main, ["--db", str(path), "--format", "json", "solution-version", "metrics",
                                    arns["aws-user-personalization"]])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    with pypersonalize.open(path, quiet=True, read_only=True) as pp:
        expected = pp.get_solution_metrics(arns["aws-user-personalization"])["metrics"]
    assert {r["metric"]: r["value"] for r in rows} == expected
    bad = CliRunner().invoke(main, ["--db", str(path), "solution-version", "metrics", "nope"])
    assert bad.exit_code == 1 and "nope" in bad.output


def test_the_switch_turns_offline_metrics_off(tmp_path, monkeypatch):
    """PYPERSONALIZE_OFFLINE_METRICS=0 trains the same model without taking metrics, and says so."""
    with pypersonalize.open(tmp_path / "p.duckdb", quiet=True) as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "movies")
        pp.create_solution(name="pop", dataset_group="movies", recipe="aws-popularity-count")
        on = pp.create_solution_version("pop")["solutionVersionArn"]
        monkeypatch.setenv("PYPERSONALIZE_OFFLINE_METRICS", "0")
        off = pp.create_solution_version("pop")["solutionVersionArn"]
        assert set(pp.get_solution_metrics(on)["metrics"]) == RANKING_KEYS
        assert pp.get_solution_metrics(off)["metrics"] == {}
        skipped = pp.describe_solution_version(off)["solutionVersion"]["evaluation"]["skipped"]
        assert "PYPERSONALIZE_OFFLINE_METRICS=0" in skipped
        top = [pp.sql("SELECT item, rank FROM pypersonalize.popular_items WHERE version_arn = $v "
                      "ORDER BY ALL", {"v": v}).fetchall() for v in (on, off)]
        assert top[0] == top[1] and top[0]
