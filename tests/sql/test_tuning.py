"""HPO and AutoML (tuning.py; create_solution's perform_hpo / perform_auto_ml): the checks of
Personalize's hpoConfig / autoMLConfig, the searches on the bundled sample data, the
validation split they train on, determinism across parallelism, and hostile input."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pandas as pd
import pytest

import pypersonalize
from pypersonalize import evaluation, tuning
from pypersonalize.recipes import RECIPES, get_recipe
from pypersonalize.report import write_report
from tests.conftest import build_sample_group

pytestmark = pytest.mark.offline_metrics

SIMS = "aws-sims"
UP = "aws-user-personalization"
HRNN = "aws-hrnn"
ARN = "arn:aws:personalize:::recipe/"
STATUSES = {"COMPLETED", "STOPPED_EARLY"}

# SIMS's two HPO-tunable hyperparameters, searched in ranges given as botocore gives them (strings)
SIMS_RANGES = {"integerHyperParameterRanges": [{"name": "min_cointeraction_count", "minValue": "1",
                                                "maxValue": "6"}],
               "continuousHyperParameterRanges": [{"name": "popularity_discount_factor", "minValue": "0.2",
                                                   "maxValue": "0.9"}],
               "categoricalHyperParameterRanges": []}
BOUNDS = {"min_cointeraction_count": (int, 1, 6), "popularity_discount_factor": (float, 0.2, 0.9)}


def _ranges(integer=(), continuous=(), categorical=()) -> dict:
    return {"integerHyperParameterRanges": list(integer), "continuousHyperParameterRanges": list(continuous),
            "categoricalHyperParameterRanges": list(categorical)}


def _hpo(jobs="4", parallel="2", ranges=SIMS_RANGES, **extra) -> dict:
    return {"hpoConfig": {"hpoResourceConfig": {"maxNumberOfTrainingJobs": jobs,
                                                "maxParallelTrainingJobs": parallel},
                          "algorithmHyperParameterRanges": ranges, **extra}}


# -- fixtures: the sample group built once, copied for each trained project -----------------

@pytest.fixture(scope="module")
def sample_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("tuning") / "sample.duckdb"
    with pypersonalize.open(path, quiet=True) as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "movies")
    return path


def _copy(sample_db, tmp_path_factory, name: str):
    path = tmp_path_factory.mktemp(name) / "p.duckdb"
    shutil.copy(sample_db, path)
    return path


@pytest.fixture(scope="module")
def checker(sample_db, tmp_path_factory):
    """An open project for the refusals: none of them may leave anything behind."""
    with pypersonalize.open(_copy(sample_db, tmp_path_factory, "checks"), quiet=True) as pp:
        yield pp


def _describe(pp, arn) -> dict:
    return pp.describe_solution_version(arn)["solutionVersion"]


@pytest.fixture(scope="module")
def halving(sample_db, tmp_path_factory):
    """SIMS with successive halving, 4 jobs, 2 at a time; every user_split
    the training takes is recorded."""
    path = _copy(sample_db, tmp_path_factory, "halving")
    calls = []
    real = evaluation.user_split

    def spy(ev, seed=evaluation.SEED, role="test", budget=1.0):
        split = real(ev, seed, role, budget)
        calls.append({"role": role, "budget": budget, "split": split})
        return split

    with pytest.MonkeyPatch.context() as mp, pypersonalize.open(path, quiet=True) as pp:
        mp.setattr(evaluation, "user_split", spy)
        config = _hpo(searchMethod="SUCCESSIVE_HALVING")
        pp.create_solution(name="sims", dataset_group="movies", recipe=SIMS, perform_hpo=True,
                           solution_config=config)
        arn = pp.create_solution_version("sims")["solutionVersionArn"]
        version = _describe(pp, arn)
        solution = pp.describe_solution("sims")["solution"]
        ev = evaluation.training_events(pp.con, "movies", pp._schemas_of(pp.catalog.get("dataset-group", "movies")),
                                        None, None, None)
    return {"version": version, "solution": solution, "config": config, "calls": calls, "ev": ev}


@pytest.fixture(scope="module")
def random_search(sample_db, tmp_path_factory):
    with pypersonalize.open(_copy(sample_db, tmp_path_factory, "random"), quiet=True) as pp:
        pp.create_solution(name="sims", dataset_group="movies", recipe=SIMS, perform_hpo=True,
                           solution_config=_hpo(searchMethod="RANDOM"))
        return _describe(pp, pp.create_solution_version("sims")["solutionVersionArn"])


@pytest.fixture(scope="module")
def automl(sample_db, tmp_path_factory):
    with pypersonalize.open(_copy(sample_db, tmp_path_factory, "automl"), quiet=True) as pp:
        pp.create_solution(name="auto", dataset_group="movies", perform_auto_ml=True, solution_config={
            "autoMLConfig": {"recipeList": [ARN + UP, ARN + HRNN]},
            "hpoConfig": {"hpoResourceConfig": {"maxNumberOfTrainingJobs": "1"}}})
        arn = pp.create_solution_version("auto")["solutionVersionArn"]
        page = tmp_path_factory.mktemp("report") / "auto.html"
        write_report(pp, "auto", page)
        return {"version": _describe(pp, arn), "solution": pp.describe_solution("auto")["solution"],
                "report": page.read_text(encoding="utf-8")}


# -- 1. hpoConfig / autoMLConfig refusals ---------------------------------------------------

REFUSED = {
    "jobs 41": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(jobs="41")),
                r"maxNumberOfTrainingJobs must be from 1 to 40, got 41"),
    "jobs 0": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(jobs=0)),
               r"maxNumberOfTrainingJobs must be from 1 to 40, got 0"),
    "jobs abc": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(jobs="abc")),
                 r"maxNumberOfTrainingJobs must be a whole number, got 'abc'"),
    "jobs 2.5": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(jobs=2.5)),
                 r"maxNumberOfTrainingJobs must be a whole number, got 2.5"),
    "jobs '2.5'": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(jobs="2.5")),
                   r"maxNumberOfTrainingJobs must be a whole number"),
    "jobs True": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(jobs=True)),
                  r"maxNumberOfTrainingJobs must be a whole number, got True"),
    "jobs list": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(jobs=[3])),
                  r"maxNumberOfTrainingJobs must be a whole number"),
    "jobs NaN": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(jobs=float("nan"))),
                 r"maxNumberOfTrainingJobs must be a whole number"),
    "jobs -1": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(jobs=-1)),
                r"maxNumberOfTrainingJobs must be from 1 to 40"),
    "jobs 2**60": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(jobs=2 ** 60)),
                   r"maxNumberOfTrainingJobs must be from 1 to 40"),
    "parallel 11": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(parallel="11")),
                    r"maxParallelTrainingJobs must be from 1 to 10, got 11"),
    "parallel 0": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(parallel=0)),
                   r"maxParallelTrainingJobs must be from 1 to 10, got 0"),
    "parallel False": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(parallel=False)),
                       r"maxParallelTrainingJobs must be a whole number"),
    "resources unknown key": (dict(recipe=SIMS, perform_hpo=True, solution_config={"hpoConfig": {
        "hpoResourceConfig": {"maxNumberOfTrainingJob": "3"}}}), r"hpoResourceConfig takes maxNumberOfTrainingJobs"),
    "missing categorical list": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(ranges={
        "integerHyperParameterRanges": [], "continuousHyperParameterRanges": []})), r"needs all three lists"),
    "missing integer list": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(ranges={
        "continuousHyperParameterRanges": [], "categoricalHyperParameterRanges": []})), r"needs all three lists"),
    "extra range list": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(ranges={
        **_ranges(), "booleanHyperParameterRanges": []})), r"needs all three lists"),
    "range list None": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(ranges={
        **_ranges(), "integerHyperParameterRanges": None})), r"integerHyperParameterRanges must be a list"),
    "range entry a string": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(ranges=_ranges(
        integer=["min_cointeraction_count"]))), r"each range is an object with a name"),
    "non-tunable name": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(ranges=_ranges(
        integer=[{"name": "max_related_items", "minValue": 1, "maxValue": 5}]))),
        r"'max_related_items' is not an HPO-tunable hyperparameter of aws-sims \(tunable: min_cointeraction_count, "
        r"popularity_discount_factor\)"),
    "unknown name": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(ranges=_ranges(
        continuous=[{"name": "no_such_thing", "minValue": 0, "maxValue": 1}]))),
        r"'no_such_thing' is not an HPO-tunable hyperparameter of aws-sims"),
    "unicode name": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(ranges=_ranges(
        integer=[{"name": "mín_cointeraction_count", "minValue": 0, "maxValue": 3}]))),
        r"'mín_cointeraction_count' is not an HPO-tunable"),
    "name None": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(ranges=_ranges(
        integer=[{"name": None, "minValue": 0, "maxValue": 3}]))), r"None is not an HPO-tunable"),
    "name a list": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(ranges=_ranges(
        integer=[{"name": ["min_cointeraction_count"], "minValue": 0, "maxValue": 3}]))), r"is not an HPO-tunable"),
    "integer in continuous list": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(ranges=_ranges(
        continuous=[{"name": "min_cointeraction_count", "minValue": 0, "maxValue": 3}]))),
        r"min_cointeraction_count is int; give it in integerHyperParameterRanges"),
    "continuous in integer list": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(ranges=_ranges(
        integer=[{"name": "popularity_discount_factor", "minValue": 0, "maxValue": 1}]))),
        r"popularity_discount_factor is float; give it in continuousHyperParameterRanges"),
    "minValue > maxValue": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(ranges=_ranges(
        integer=[{"name": "min_cointeraction_count", "minValue": "5", "maxValue": "2"}]))),
        r"min_cointeraction_count minValue 5 is above maxValue 2"),
    "missing maxValue": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(ranges=_ranges(
        integer=[{"name": "min_cointeraction_count", "minValue": "1"}]))), r"needs minValue and maxValue"),
    "above the recipe's bound": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(ranges=_ranges(
        integer=[{"name": "min_cointeraction_count", "minValue": 0, "maxValue": 11}]))),
        r"min_cointeraction_count: 11 is outside \[0, 10\]"),
    "below the recipe's bound": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(ranges=_ranges(
        continuous=[{"name": "popularity_discount_factor", "minValue": "-0.1", "maxValue": 1}]))),
        r"popularity_discount_factor: -0.1 is outside \[0.0, 1.0\]"),
    "range bound NaN": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(ranges=_ranges(
        continuous=[{"name": "popularity_discount_factor", "minValue": "nan", "maxValue": 1}]))),
        r"popularity_discount_factor must be a finite number"),
    "range bound inf": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(ranges=_ranges(
        continuous=[{"name": "popularity_discount_factor", "minValue": 0, "maxValue": float("inf")}]))),
        r"popularity_discount_factor must be a finite number"),
    "range bound huge": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(ranges=_ranges(
        integer=[{"name": "min_cointeraction_count", "minValue": 0, "maxValue": 10 ** 400}]))),
        r"min_cointeraction_count must be a number"),
    "range bound a bool": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(ranges=_ranges(
        integer=[{"name": "min_cointeraction_count", "minValue": False, "maxValue": 3}]))),
        r"min_cointeraction_count: expected int, got False"),
    "range bound a list": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(ranges=_ranges(
        continuous=[{"name": "popularity_discount_factor", "minValue": [0], "maxValue": 1}]))),
        r"popularity_discount_factor must be a number"),
    "range bound None": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(ranges=_ranges(
        continuous=[{"name": "popularity_discount_factor", "minValue": None, "maxValue": 1}]))),
        r"popularity_discount_factor must be a number"),
    "integer bound 0.5": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(ranges=_ranges(
        integer=[{"name": "min_cointeraction_count", "minValue": 0.5, "maxValue": 3}]))),
        r"min_cointeraction_count: expected int, got 0.5"),
    "unknown range key": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(ranges=_ranges(
        integer=[{"name": "min_cointeraction_count", "minValue": 0, "maxValue": 3, "scalingType": "Auto"}]))),
        r"unknown key\(s\) scalingType for min_cointeraction_count"),
    "categorical values not a list": (dict(recipe=UP, perform_hpo=True, solution_config=_hpo(ranges=_ranges(
        categorical=[{"name": "recency_mask", "values": "true"}]))), r"recency_mask needs a non-empty list of values"),
    "categorical values empty": (dict(recipe=UP, perform_hpo=True, solution_config=_hpo(ranges=_ranges(
        categorical=[{"name": "recency_mask", "values": []}]))), r"recency_mask needs a non-empty list of values"),
    "categorical value not a bool": (dict(recipe=UP, perform_hpo=True, solution_config=_hpo(ranges=_ranges(
        categorical=[{"name": "recency_mask", "values": ["yes"]}]))), r"recency_mask: expected bool, got 'yes'"),
    "categorical value a dict": (dict(recipe=UP, perform_hpo=True, solution_config=_hpo(ranges=_ranges(
        categorical=[{"name": "recency_mask", "values": [{}]}]))), r"recency_mask: expected bool"),
    "name in two ranges": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(ranges=_ranges(
        integer=[{"name": "min_cointeraction_count", "minValue": 0, "maxValue": 3},
                 {"name": "min_cointeraction_count", "minValue": 4, "maxValue": 6}]))),
        r"min_cointeraction_count given more than one range"),
    "name and alias in two ranges": (dict(recipe=UP, perform_hpo=True, solution_config=_hpo(ranges=_ranges(
        categorical=[{"name": "apply_recency_bias", "values": ["true"]},
                     {"name": "recency_mask", "values": ["false"]}]))), r"recency_mask given more than one range"),
    "fixed and searched": (dict(recipe=SIMS, perform_hpo=True, solution_config={
        **_hpo(), "algorithmHyperParameters": {"min_cointeraction_count": "2"}}),
        r"min_cointeraction_count: set in algorithmHyperParameters and searched by hpoConfig"),
    "fixed (hyperparameters=) and searched": (dict(
        recipe=SIMS, perform_hpo=True, hyperparameters={"popularity_discount_factor": 0.3}, solution_config=_hpo()),
        r"popularity_discount_factor: set in algorithmHyperParameters and searched"),
    "fixed by name, searched by alias": (dict(recipe=UP, perform_hpo=True, solution_config={
        **_hpo(ranges=_ranges(categorical=[{"name": "apply_recency_bias", "values": ["true", "false"]}])),
        "algorithmHyperParameters": {"recency_mask": "false"}}), r"recency_mask: set in algorithmHyperParameters"),
    "every tunable fixed": (dict(recipe=SIMS, perform_hpo=True, solution_config={"algorithmHyperParameters": {
        "min_cointeraction_count": "2", "popularity_discount_factor": "0.5"}}), r"nothing to search"),
    "metricRegex": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(hpoObjective={
        "type": "Maximize", "metricRegex": "ndcg.*"})), r"metricRegex is not supported yet"),
    "type Minimize": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(hpoObjective={"type": "Minimize"})),
                      r"hpoObjective.type must be Maximize .*got 'Minimize'"),
    "type None": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(hpoObjective={"type": None})),
                  r"hpoObjective.type must be Maximize"),
    "unknown metricName": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(hpoObjective={
        "metricName": "accuracy"})), r"hpoObjective.metricName must be one of mean_reciprocal_rank_at_25.*got 'accuracy'"),
    "metricName coverage": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(hpoObjective={
        "metricName": "coverage"})), r"hpoObjective.metricName must be one of"),
    "metricName a list": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(hpoObjective={
        "metricName": ["precision_at_5"]})), r"hpoObjective.metricName must be one of"),
    "unknown objective key": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(hpoObjective={
        "metric": "precision_at_5"})), r"hpoObjective takes type, metricName and metricRegex"),
    "unknown hpoConfig key": (dict(recipe=SIMS, perform_hpo=True, solution_config={"hpoConfig": {
        "hpoObjectve": {"type": "Maximize"}}}), r"hpoConfig: unknown key\(s\) hpoObjectve"),
    "hpoConfig a list": (dict(recipe=SIMS, perform_hpo=True, solution_config={"hpoConfig": []}),
                         r"hpoConfig must be an object"),
    "searchMethod unknown": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(searchMethod="GRID")),
                             r"searchMethod must be one of RANDOM, SUCCESSIVE_HALVING, got 'GRID'"),
    "searchMethod lower case": (dict(recipe=SIMS, perform_hpo=True, solution_config=_hpo(searchMethod="random")),
                                r"searchMethod must be one of"),
    "no tunable hyperparameters": (dict(recipe="aws-popularity-count", perform_hpo=True),
                                   r"recipe aws-popularity-count has no HPO-tunable hyperparameters"),
    "no tunable (trending)": (dict(recipe="aws-trending-now", perform_hpo=True),
                              r"aws-trending-now has no HPO-tunable hyperparameters"),
    "perform_hpo not a bool": (dict(recipe=SIMS, perform_hpo=1), r"perform_hpo must be true or false"),
    "hpoConfig without perform_hpo": (dict(recipe=SIMS, solution_config=_hpo()),
                                      r"hpoConfig is given but perform_hpo is false"),
    "autoML with a non-USER_PERSONALIZATION recipe": (dict(perform_auto_ml=True, solution_config={
        "autoMLConfig": {"recipeList": [ARN + UP, ARN + SIMS]}}),
        r"autoMLConfig.recipeList: aws-sims is a RELATED_ITEMS recipe; AutoML chooses among USER_PERSONALIZATION"),
    "autoML with a recipe given": (dict(recipe=UP, perform_auto_ml=True),
                                   r"perform_auto_ml chooses the recipe: leave recipe out"),
    "autoML metric differs from hpoObjective's": (dict(perform_auto_ml=True, solution_config={
        "autoMLConfig": {"metricName": "precision_at_5"},
        "hpoConfig": {"hpoObjective": {"metricName": "precision_at_10"}}}),
        r"autoMLConfig.metricName 'precision_at_5' and hpoConfig.hpoObjective.metricName 'precision_at_10' differ"),
    "autoML unknown metric": (dict(perform_auto_ml=True, solution_config={"autoMLConfig": {"metricName": "auc"}}),
                              r"autoMLConfig.metricName must be one of"),
    "autoML empty recipe list": (dict(perform_auto_ml=True, solution_config={"autoMLConfig": {"recipeList": []}}),
                                 r"recipeList must be a non-empty list"),
    "autoML recipe list a string": (dict(perform_auto_ml=True, solution_config={
        "autoMLConfig": {"recipeList": ARN + HRNN}}), r"recipeList must be a non-empty list"),
    "autoML unknown recipe": (dict(perform_auto_ml=True, solution_config={
        "autoMLConfig": {"recipeList": [ARN + "aws-nope"]}}), r"unknown recipe 'arn:aws:personalize:::recipe/aws-nope'"),
    "autoML recipe None": (dict(perform_auto_ml=True, solution_config={"autoMLConfig": {"recipeList": [None]}}),
                           r"unknown recipe None"),
    "autoML unknown key": (dict(perform_auto_ml=True, solution_config={"autoMLConfig": {"recipes": []}}),
                           r"autoMLConfig takes metricName and recipeList"),
    "autoML config a list": (dict(perform_auto_ml=True, solution_config={"autoMLConfig": []}),
                             r"autoMLConfig takes metricName and recipeList"),
    "autoML candidate without tunables": (dict(perform_auto_ml=True, solution_config={
        "autoMLConfig": {"recipeList": [ARN + UP, ARN + "aws-popularity-count"]}}),
        r"aws-popularity-count has no HPO-tunable hyperparameters"),
    "autoML fixed hyperparameter one candidate lacks": (dict(perform_auto_ml=True, solution_config={
        "autoMLConfig": {"recipeList": [ARN + UP, ARN + HRNN]},
        "algorithmHyperParameters": {"exploration_weight": "0.1"}}),
        r"recipe aws-hrnn has no hyperparameter 'exploration_weight'"),
    "autoMLConfig without perform_auto_ml": (dict(recipe=UP, perform_hpo=True, solution_config={
        "autoMLConfig": {"recipeList": [ARN + UP]}}), r"autoMLConfig is given but perform_auto_ml is false"),
}


def _refused(pp, kwargs: dict, match: str, name: str = "refused") -> None:
    before = pp.list_solutions()["solutions"]
    try:
        with pytest.raises(pypersonalize.InvalidInput, match=match):
            pp.create_solution(name=name, dataset_group="movies", **kwargs)
    finally:
        left = [s["name"] for s in pp.list_solutions()["solutions"] if s["name"] == name]
        for n in left:                     # keep the shared project clean for the next case
            pp.delete_solution(n)
    assert not left, f"a refused create_solution left solution {name!r} behind"
    assert pp.list_solutions()["solutions"] == before
    assert pp.list_solution_versions()["solutionVersions"] == []


@pytest.mark.parametrize("case", list(REFUSED))
def test_bad_tuning_configs_are_refused_clearly_and_leave_nothing(checker, case):
    kwargs, match = REFUSED[case]
    _refused(checker, kwargs, match)


def test_good_configs_are_accepted_as_botocore_sends_them(checker):
    """The refusals above are not refusing everything: the same shapes, right, are taken (and
    describe_solution shows hpoConfig as given)."""
    config = _hpo(jobs="3", parallel="1", hpoObjective={"type": "Maximize", "metricName": "precision_at_10"})
    checker.create_solution(name="ok", dataset_group="movies", recipe=SIMS, perform_hpo=True, solution_config=config)
    checker.create_solution(name="ok-auto", dataset_group="movies", perform_auto_ml=True, solution_config={
        "autoMLConfig": {"metricName": "precision_at_5", "recipeList": [ARN + HRNN, ARN + "aws-user-personalization-v2"]},
        "hpoConfig": {"hpoObjective": {"metricName": "precision_at_5"}}})
    try:
        sol = checker.describe_solution("ok")["solution"]
        assert sol["performHPO"] is True and sol["performAutoML"] is False
        assert sol["solutionConfig"]["hpoConfig"] == config["hpoConfig"]
        auto = checker.describe_solution("ok-auto")["solution"]
        assert auto["performAutoML"] is True and auto["performHPO"] is True
        # -v2 names the same recipe: the list is ARNs of the recipes AutoML trains, in order
        assert auto["solutionConfig"]["autoMLConfig"] == {
            "metricName": "precision_at_5", "recipeList": [ARN + HRNN, ARN + UP]}
        assert auto["recipeArn"] == ARN + HRNN          # the first candidate until a version trains
    finally:
        checker.delete_solution("ok")
        checker.delete_solution("ok-auto")


def test_hpo_plan_reads_strings_and_defaults():
    sims = RECIPES[SIMS]
    plan = tuning.hpo_plan(_hpo(jobs="3", parallel="1")["hpoConfig"], sims, {})
    assert (plan.jobs, plan.parallel, plan.method, plan.metric) == (
        3, 1, "RANDOM", "normalized_discounted_cumulative_gain_at_25")
    assert {r.name: (r.kind, r.low, r.high) for r in plan.ranges} == {
        "min_cointeraction_count": ("integer", 1, 6), "popularity_discount_factor": ("continuous", 0.2, 0.9)}
    # empty lists (or none): every tunable hyperparameter not fixed is searched
    empty = tuning.hpo_plan({"algorithmHyperParameterRanges": _ranges()}, sims, {"min_cointeraction_count": "2"})
    assert [r.name for r in empty.ranges] == ["popularity_discount_factor"]
    assert (empty.jobs, empty.parallel) == (tuning.DEFAULT_JOBS, tuning.DEFAULT_PARALLEL)
    # an alias names the hyperparameter itself; categorical values parse to the type
    up = tuning.hpo_plan({"algorithmHyperParameterRanges": _ranges(categorical=[
        {"name": "apply_recency_bias", "values": ["true", "TRUE", "false"]}])}, RECIPES[UP], {})
    assert [(r.name, r.values) for r in up.ranges] == [("recency_mask", (True, False))]
    assert tuning.HpoPlan.from_config(plan.as_config()) == plan


# -- 2. HPO end to end on SIMS --------------------------------------------------------------

def _check_trial_shape(trials: list, jobs: int, metric: str = "normalized_discounted_cumulative_gain_at_25"):
    assert len(trials) == jobs
    assert [t["trialNumber"] for t in trials] == list(range(1, jobs + 1))
    seen = set()
    for t in trials:
        assert t["status"] in STATUSES, t
        assert t["metricName"] == metric
        assert isinstance(t["validationMetric"], float) and 0.0 <= t["validationMetric"] <= 1.0
        assert isinstance(t["seconds"], float) and t["seconds"] > 0
        assert set(t["hyperparameters"]) == set(BOUNDS)
        for name, value in t["hyperparameters"].items():
            kind, low, high = BOUNDS[name]
            assert isinstance(value, str)                 # Personalize's string form
            number = kind(value)
            assert low <= number <= high, (name, value)
            if kind is int:
                assert str(number) == value
        key = tuple(sorted(t["hyperparameters"].items()))
        assert key not in seen, "two trials tried the same configuration"
        seen.add(key)
        assert t["validationMetric"] == t["rungs"][-1]["validationMetric"]
        assert t["budget"] == t["rungs"][-1]["budget"]
        assert (t["status"] == "COMPLETED") == (t["budget"] == 1.0)


def _best_completed(trials: list) -> dict:
    done = [t for t in trials if t["status"] == "COMPLETED"]
    assert done
    return max(done, key=lambda t: (t["validationMetric"], -t["trialNumber"]))


def test_hpo_records_every_trial_within_the_ranges(halving):
    v = halving["version"]
    assert v["status"] == "ACTIVE" and v["recipeArn"] == ARN + SIMS
    _check_trial_shape(v["hpoTrials"], 4)
    assert v["hpo"]["maxNumberOfTrainingJobs"] == 4 and v["hpo"]["maxParallelTrainingJobs"] == 2
    assert v["hpo"]["searchMethod"] == "SUCCESSIVE_HALVING"
    assert v["hpo"]["metricName"] == "normalized_discounted_cumulative_gain_at_25"
    assert "skipped" not in v["hpo"]
    assert halving["solution"]["performHPO"] is True
    assert halving["solution"]["solutionConfig"]["hpoConfig"] == halving["config"]["hpoConfig"]


def test_tuned_params_are_the_best_completed_trial_and_the_version_trains_with_them(halving):
    v = halving["version"]
    best = _best_completed(v["hpoTrials"])
    assert v["tunedHPOParams"] == {"algorithmHyperParameters": best["hyperparameters"]}
    assert v["hpo"]["bestValidationMetric"] == best["validationMetric"]
    hps = v["solutionConfig"]["algorithmHyperParameters"]
    for name, value in best["hyperparameters"].items():
        assert hps[name] == value
    # the hyperparameters not searched keep the recipe's defaults
    defaults = RECIPES[SIMS].resolve_hyperparameters({})
    for name in set(hps) - set(BOUNDS):
        assert hps[name] == str(defaults[name])
    # and the version's offline metrics are taken on the test split with the tuned model
    assert v["evaluation"]["split"]["role"] == "test"


def test_successive_halving_stops_the_worse_half_at_each_rung(halving):
    trials = halving["version"]["hpoTrials"]
    budgets = sorted(t["budget"] for t in trials)
    assert budgets == [0.25, 0.25, 0.5, 1.0]        # 4 -> 2 -> 1
    rungs = tuning.RUNGS
    assert rungs == (0.25, 0.5, 1.0)
    for t in trials:
        assert [r["budget"] for r in t["rungs"]] == list(rungs[:len(t["rungs"])])
    for k, budget in enumerate(rungs[:-1]):
        here = [t for t in trials if len(t["rungs"]) > k]
        on = [t for t in here if len(t["rungs"]) > k + 1]
        stopped = [t for t in here if len(t["rungs"]) == k + 1]
        assert len(on) == math.ceil(len(here) / 2)
        for s in stopped:
            assert s["status"] == "STOPPED_EARLY"
            for c in on:
                ms, mc = s["rungs"][k]["validationMetric"], c["rungs"][k]["validationMetric"]
                assert ms < mc or (ms == mc and s["trialNumber"] > c["trialNumber"]), (budget, s, c)


def test_random_search_stops_the_trials_below_the_median(random_search):
    v = random_search
    assert v["hpo"]["searchMethod"] == "RANDOM"
    trials = v["hpoTrials"]
    _check_trial_shape(trials, 4)
    first = [t["rungs"][0]["validationMetric"] for t in trials]
    assert all(t["rungs"][0]["budget"] == 0.25 for t in trials)
    median = float(np.median(first))
    for t, m in zip(trials, first):
        if m < median:
            assert t["status"] == "STOPPED_EARLY" and [r["budget"] for r in t["rungs"]] == [0.25]
        else:
            assert t["status"] == "COMPLETED" and [r["budget"] for r in t["rungs"]] == [0.25, 1.0]
    assert any(t["status"] == "STOPPED_EARLY" for t in trials)
    best = _best_completed(trials)
    assert v["tunedHPOParams"]["algorithmHyperParameters"] == best["hyperparameters"]


# -- 3. the validation split never uses test users ------------------------------------------

def _held_and_trained(ev: pd.DataFrame, split) -> tuple[set, set]:
    return set(split.users), set(ev.loc[ev["seq"].isin(split.train_rows), "user"])


@pytest.mark.parametrize("seed", [evaluation.SEED, 7])
@pytest.mark.parametrize("event_type", [None, "Watch"])
def test_validation_and_test_held_out_users_are_disjoint(halving, seed, event_type):
    ev = halving["ev"].copy()
    if event_type is not None:
        ev["eligible"] = (ev["type"] == event_type).to_numpy()
    test = evaluation.user_split(ev, seed, role="test")
    val = evaluation.user_split(ev, seed, role="validation")
    test_users, test_trained = _held_and_trained(ev, test)
    val_users, val_trained = _held_and_trained(ev, val)
    assert len(val_users) == len(test_users) == round(0.1 * ev["user"].nunique())
    assert not val_users & test_users
    assert not val_trained & (val_users | test_users)
    assert not test_trained & test_users
    assert val_trained | val_users | test_users == set(ev["user"])  # the rest all train
    for budget in tuning.RUNGS:
        part = evaluation.user_split(ev, seed, role="validation", budget=budget)
        users, trained = _held_and_trained(ev, part)
        assert users == val_users and trained <= val_trained
        assert len(trained) == max(1, round(budget * len(val_trained)))


def test_hpo_trials_train_and_score_on_the_validation_split_only(halving):
    calls, ev = halving["calls"], halving["ev"]
    tests = [c for c in calls if c["role"] == "test"]
    vals = [c for c in calls if c["role"] == "validation"]
    # the offline metrics' split, and one validation split per trial per rung (plus Search's check)
    assert len(tests) == 1
    trials = halving["version"]["hpoTrials"]
    assert len(vals) == 1 + sum(len(t["rungs"]) for t in trials)
    assert sorted(c["budget"] for c in vals if c["budget"] < 1.0) == sorted(
        r["budget"] for t in trials for r in t["rungs"] if r["budget"] < 1.0)
    test_users = set(tests[0]["split"].users)
    for c in vals:
        users, trained = _held_and_trained(ev, c["split"])
        assert not users & test_users
        assert not trained & test_users
        assert not trained & users


# -- 4. determinism across parallelism ------------------------------------------------------

def test_parallelism_does_not_change_the_search(sample_db, tmp_path_factory, halving):
    with pypersonalize.open(_copy(sample_db, tmp_path_factory, "serial"), quiet=True) as pp:
        pp.create_solution(name="sims", dataset_group="movies", recipe=SIMS, perform_hpo=True,
                           solution_config=_hpo(parallel="1", searchMethod="SUCCESSIVE_HALVING"))
        serial = _describe(pp, pp.create_solution_version("sims")["solutionVersionArn"])
        # and the same search again, in the same file: the same trials
        pp.create_solution(name="again", dataset_group="movies", recipe=SIMS, perform_hpo=True,
                           solution_config=_hpo(parallel="1", searchMethod="SUCCESSIVE_HALVING"))
        again = _describe(pp, pp.create_solution_version("again")["solutionVersionArn"])
    parallel = halving["version"]
    assert serial["hpo"]["maxParallelTrainingJobs"] == 1
    strip = lambda trials: [{k: v for k, v in t.items() if k != "seconds"} for t in trials]  # noqa: E731
    assert strip(serial["hpoTrials"]) == strip(parallel["hpoTrials"]) == strip(again["hpoTrials"])
    assert [t["validationMetric"] for t in serial["hpoTrials"]] == [t["validationMetric"] for t in parallel["hpoTrials"]]
    assert serial["tunedHPOParams"] == parallel["tunedHPOParams"] == again["tunedHPOParams"]
    assert serial["solutionConfig"] == parallel["solutionConfig"]


# -- 5. AutoML --------------------------------------------------------------------------------

def _same_value(recipe: str, name: str, a: str, b: str) -> bool:
    hp = next(h for h in get_recipe(recipe).hyperparameters if h.name == name)
    return hp.parse(a) == hp.parse(b)


def test_automl_keeps_the_best_candidate(automl):
    v, sol = automl["version"], automl["solution"]
    cands = v["autoMLCandidates"]
    assert [c["recipeArn"] for c in cands] == [ARN + UP, ARN + HRNN]
    for c in cands:
        assert "failureReason" not in c, c
        assert c["metricName"] == "normalized_discounted_cumulative_gain_at_25"
        assert isinstance(c["validationMetric"], float) and 0 < c["validationMetric"] <= 1
    best = max(cands, key=lambda c: c["validationMetric"])
    assert sol["autoMLResult"] == {"bestRecipeArn": best["recipeArn"]} == v["autoMLResult"]
    assert v["recipeArn"] == best["recipeArn"] == sol["recipeArn"]
    assert v["status"] == "ACTIVE"
    # the version records the winner's search: one job, its tuned values trained
    assert len(v["hpoTrials"]) == 1 and v["hpoTrials"][0]["status"] == "COMPLETED"
    assert v["hpo"]["bestValidationMetric"] == best["validationMetric"]
    assert v["tunedHPOParams"]["algorithmHyperParameters"] == best["hyperparameters"]
    recipe = best["recipeArn"].rsplit("/", 1)[-1]
    hps = v["solutionConfig"]["algorithmHyperParameters"]
    assert set(hps) == {h.name for h in get_recipe(recipe).hyperparameters}
    for name, value in best["hyperparameters"].items():
        assert _same_value(recipe, name, hps[name], value), (name, hps[name], value)


def test_automl_version_shows_tuned_booleans_as_personalize_does(automl):
    v = automl["version"]
    tuned = v["tunedHPOParams"]["algorithmHyperParameters"]
    assert tuned["recency_mask"] in ("true", "false")
    assert v["solutionConfig"]["algorithmHyperParameters"]["recency_mask"] == tuned["recency_mask"]


def test_automl_solution_describes_hyperparameters_of_the_chosen_recipe(automl):
    sol = automl["solution"]
    chosen = sol["autoMLResult"]["bestRecipeArn"].rsplit("/", 1)[-1]
    assert set(sol["solutionConfig"]["algorithmHyperParameters"]) == {
        h.name for h in get_recipe(chosen).hyperparameters}


# -- 6. too small for a validation split ----------------------------------------------------

def test_data_too_small_for_a_validation_split_trains_untuned(tmp_path):
    """40 users with 25 events and 260 with one: 30 test users can be held out (40 have two or
    more events), but not 30 more for validation."""
    with pypersonalize.open(tmp_path / "p.duckdb", quiet=True) as pp:
        ns = "com.amazonaws.personalize.schema"
        pp.create_dataset_group(name="small")
        pp.create_schema(name="i", schema={"type": "record", "name": "Interactions", "namespace": ns, "fields": [
            {"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
            {"name": "TIMESTAMP", "type": "long"}]})
        pp.create_dataset(name="i", dataset_group="small", dataset_type="Interactions", schema="i")
        rng = np.random.default_rng(0)
        users = [f"h{k % 40}" for k in range(1000)] + [f"s{k}" for k in range(260)]
        frame = pd.DataFrame({"USER_ID": users, "ITEM_ID": [f"i{n}" for n in rng.integers(0, 60, len(users))],
                              "TIMESTAMP": [1_700_000_000 + 60 * k for k in range(len(users))]})
        pp.create_dataset_import_job(dataset="Interactions", dataset_group="small", data_source=frame)
        pp.create_solution(name="sims", dataset_group="small", recipe=SIMS, perform_hpo=True,
                           solution_config=_hpo(jobs="2"))
        arn = pp.create_solution_version("sims")["solutionVersionArn"]
        v = _describe(pp, arn)
        metrics = pp.get_solution_metrics(arn)["metrics"]
    assert v["status"] == "ACTIVE"
    skipped = v["hpo"]["skipped"]
    assert "no validation split" in skipped and "to hold out 60" in skipped
    assert "trained with the given hyperparameters" in skipped
    assert "hpoTrials" not in v and "tunedHPOParams" not in v
    defaults = RECIPES[SIMS].resolve_hyperparameters({})
    assert v["solutionConfig"]["algorithmHyperParameters"] == {k: str(x) for k, x in defaults.items()}
    # the test split (30 of 40) still gives the version its offline metrics
    assert v["evaluation"]["split"]["testUsers"] == 30 and metrics


# -- hostile input beyond the list ----------------------------------------------------------

@pytest.mark.parametrize("key,value", [("maxNumberOfTrainingJobs", 10 ** 400), ("maxNumberOfTrainingJobs", "1e400"),
                                       ("maxNumberOfTrainingJobs", float("inf")),
                                       ("maxParallelTrainingJobs", "-inf")],
                         ids=["jobs 10**400", "jobs '1e400'", "jobs inf", "parallel '-inf'"])
def test_infinite_job_counts_are_invalid_input(checker, key, value):
    config = {"hpoConfig": {"hpoResourceConfig": {key: value}}}
    _refused(checker, dict(recipe=SIMS, perform_hpo=True, solution_config=config), key)


@pytest.mark.parametrize("key,value", [("hpoResourceConfig", []), ("hpoResourceConfig", 0),
                                       ("hpoResourceConfig", ""), ("hpoObjective", False), ("hpoObjective", [])])
def test_wrong_typed_empty_sub_objects_are_refused(checker, key, value):
    _refused(checker, dict(recipe=SIMS, perform_hpo=True, solution_config={"hpoConfig": {key: value}}),
             f"hpoConfig.{key}")


def test_a_hyperparameter_fixed_by_its_alias_cannot_be_searched(checker):
    config = {"algorithmHyperParameters": {"apply_recency_bias": "false"},
              **_hpo(ranges=_ranges(categorical=[{"name": "recency_mask", "values": ["true"]}]))}
    _refused(checker, dict(recipe=UP, perform_hpo=True, solution_config=config),
             r"recency_mask: set in algorithmHyperParameters and searched")


def test_default_search_leaves_out_a_hyperparameter_fixed_by_its_alias():
    plan = tuning.hpo_plan(None, RECIPES[UP], {"apply_recency_bias": "false"})
    names = [r.name for r in plan.ranges]
    assert "hidden_dimension" in names
    assert "recency_mask" not in names


def test_automl_candidates_reach_the_solution_and_its_report(automl):
    v, sol, html = automl["version"], automl["solution"], automl["report"]
    assert sol["autoMLCandidates"] == v["autoMLCandidates"]
    section = html[html.index('id="automl"'):]
    section = section[:section.index("</section>")]
    for c in v["autoMLCandidates"]:
        assert c["recipeArn"].rsplit("/", 1)[-1] in section
        assert f"{c['validationMetric']:.4f}" in section


def test_second_wave_draws_neighbours_of_the_first_waves_best():
    """From 4 jobs, half the configurations are neighbours (one or two hyperparameters
    redrawn) of the best of the first half; the first half starts from the given values."""
    recipe = RECIPES[UP]
    search = object.__new__(tuning.Search)
    search.plan = tuning.hpo_plan({"hpoResourceConfig": {"maxNumberOfTrainingJobs": "12"}}, recipe, {})
    search.base, search.seed = recipe.resolve_hyperparameters({}), 3
    seen: set = set()
    first = search.configurations(count=6, seen=seen)
    assert first[0] == {r.name: search.base[r.name] for r in search.plan.ranges}
    centre = first[4]
    second = search.configurations(center=centre, count=6, seen=seen, wave=1)
    assert len(second) == 6
    keys = {tuple(sorted(h.items())) for h in first + second}
    assert len(keys) == 12                                   # no configuration twice
    for hps in second:
        changed = [k for k in hps if hps[k] != centre[k]]
        assert 1 <= len(changed) <= 2, changed
        assert all(r.holds(hps[r.name]) for r in search.plan.ranges)
    far = [sum(h[k] != first[0][k] for k in h) for h in first[1:]]
    assert max(far) > 2                                      # the first wave also draws whole points
