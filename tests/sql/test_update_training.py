"""UPDATE training, automatic training and automatic updates (refresh_solutions)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

import pypersonalize
from pypersonalize.catalog import now
from tests.sql.test_user_personalization import NO_EXPLORATION, T0, cluster_events, make_group, model_tables


def _age(pp, version_arn: str, hours: float) -> None:
    """Pretend a version was trained ``hours`` ago."""
    pp.con.execute("UPDATE pypersonalize.objects SET created_at = $t WHERE arn = $a",
                   {"t": now() - timedelta(hours=hours), "a": version_arn})


def _new_item_events() -> pd.DataFrame:
    # users u0, u2, u4 (cluster A) all watch a brand-new item "fresh" after a0
    return pd.DataFrame({"USER_ID": ["u0", "u2", "u4", "u0", "u2", "u4"],
                         "ITEM_ID": ["a0", "a0", "a0", "fresh", "fresh", "fresh"],
                         "EVENT_TYPE": "Watch", "TIMESTAMP": [T0 + 90_000 + k for k in range(6)]})


def test_update_keeps_the_model_and_adds_new_items(project):
    make_group(project, "g", cluster_events(n_users=120, per_user=15, n_items=30))
    project.create_solution(name="up", dataset_group="g", recipe="aws-user-personalization",
                            hyperparameters={"hidden_dimension": 32})
    full = project.create_solution_version(solution="up")["solutionVersionArn"]
    project.create_dataset_import_job(dataset="g-inter", data_source=_new_item_events(),
                                      import_mode="INCREMENTAL")
    update = project.create_solution_version(solution="up", training_mode="UPDATE")["solutionVersionArn"]
    desc = project.describe_solution_version(update)["solutionVersion"]
    assert desc["trainingMode"] == "UPDATE"
    assert desc["modelStats"]["newItems"] == 1 and desc["modelStats"]["updatedFrom"] == full

    before, after = model_tables(project, full), model_tables(project, update)
    assert "fresh" not in before["index"] and "fresh" in after["index"]
    # known items keep their factors and sequence weights exactly
    for item in before["items"]:
        i, j = before["index"][item], after["index"][item]
        np.testing.assert_array_equal(before["P"][i], after["P"][j])
        np.testing.assert_array_equal(before["P_out"][i], after["P_out"][j])
    order = [after["index"][i] for i in before["items"]]
    np.testing.assert_array_equal(before["B"], after["B"][np.ix_(order, order)])
    # the new item got factors close to the items its users watch (cluster A), not B
    fresh = after["P_out"][after["index"]["fresh"]]
    assert np.linalg.norm(fresh) > 0
    a = np.mean([after["P_out"][after["index"][f"a{k}"]] @ fresh for k in range(30)])
    b = np.mean([after["P_out"][after["index"][f"b{k}"]] @ fresh for k in range(30)])
    assert a > b


def test_update_needs_a_full_version_and_a_capable_recipe(project):
    make_group(project, "g", cluster_events())
    project.create_solution(name="up", dataset_group="g", recipe="aws-user-personalization")
    with pytest.raises(pypersonalize.InvalidInput, match="FULL"):
        project.create_solution_version(solution="up", training_mode="UPDATE")
    project.create_solution(name="hr", dataset_group="g", recipe="aws-hrnn")
    with pytest.raises(pypersonalize.InvalidInput, match="UPDATE is for"):
        project.create_solution_version(solution="hr", training_mode="UPDATE")


def test_automatic_update_moves_serving_campaigns(project):
    make_group(project, "g", cluster_events(n_users=120, per_user=15, n_items=30))
    project.create_solution(name="up", dataset_group="g", recipe="aws-user-personalization",
                            hyperparameters={"hidden_dimension": 32})
    v1 = project.create_solution_version(solution="up")["solutionVersionArn"]
    project.create_campaign(name="live", solution_version=v1, campaign_config=NO_EXPLORATION)
    # nothing new: nothing to do
    assert project.refresh_solutions()["trained"] == []
    project.create_dataset_import_job(dataset="g-inter", data_source=_new_item_events(),
                                      import_mode="INCREMENTAL")
    # new data, but the version is younger than two hours: not yet
    assert project.refresh_solutions()["trained"] == []
    _age(project, v1, hours=3)
    out = project.refresh_solutions()["trained"]
    assert [(t["name"], t["trainingMode"], t["campaigns"]) for t in out] == [("up", "UPDATE", ["live"])]
    assert project.describe_campaign("live")["campaign"]["solutionVersionArn"] == out[0]["solutionVersionArn"]
    assert project.refresh_solutions()["trained"] == []          # up to date again


def test_automatic_training_on_schedule(project):
    make_group(project, "g", cluster_events())
    with pytest.raises(pypersonalize.InvalidInput, match="rate"):
        project.create_solution(name="bad", dataset_group="g", recipe="aws-sims", perform_auto_training=True,
                                solution_config={"autoTrainingConfig": {"schedulingExpression": "rate(31 days)"}})
    project.create_solution(name="sims", dataset_group="g", recipe="aws-sims", perform_auto_training=True,
                            solution_config={"autoTrainingConfig": {"schedulingExpression": "rate(3 days)"}})
    desc = project.describe_solution("sims")["solution"]
    assert desc["performAutoTraining"] and desc["solutionConfig"]["autoTrainingConfig"] == \
        {"schedulingExpression": "rate(3 days)"}
    first = project.refresh_solutions()["trained"]                # no version yet: trains
    assert [t["trainingMode"] for t in first] == ["AUTOTRAIN"]
    v1 = first[0]["solutionVersionArn"]
    project.create_campaign(name="synced", solution_version=v1,
                            campaign_config={"syncWithLatestSolutionVersion": True})
    project.create_campaign(name="pinned", solution_version=v1)
    assert project.refresh_solutions()["trained"] == []
    _age(project, v1, hours=24 * 3 + 1)
    again = project.refresh_solutions()["trained"]
    assert [(t["trainingMode"], t["campaigns"]) for t in again] == [("AUTOTRAIN", ["synced"])]
    assert project.describe_campaign("pinned")["campaign"]["solutionVersionArn"] == v1
