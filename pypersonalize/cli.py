"""The ``pypersonalize`` command: a thin layer over the Python API.

Each command opens the project file (``recipe`` commands need none), makes one library
call and prints the result.
Command ``dataset-group create`` <-> method ``create_dataset_group``; flags <-> keywords.
"""

from __future__ import annotations

import functools
import glob
import json
import os
import sys
import threading
from pathlib import Path

import click

from . import __version__, output
from .cli_base import (  # noqa: F401
    DB_ENV,
    ENDPOINT_ENV,
    Context,
    _echo,
    _exploration,
    _library_error,
    _one_line,
    output_options,
    registry_options,
)
from .cli_batch import batch_inference_group, batch_segment_group
from .cli_report import report_command

# Nothing heavy is imported at module level: `--help` and `--version` must not load
# duckdb, numpy, pandas, scipy or jinja2 (a second of start-up). The project module is
# imported by the command that opens a project, the recipe registry by `recipe` commands.

# The import modes of project.IMPORT_MODES, repeated here so that building `--mode`'s
# choices does not import the project module (a test keeps the two equal).
IMPORT_MODES = ("FULL", "INCREMENTAL")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar=DB_ENV, metavar="PATH",
              help=f"Project file (a DuckDB database; created if missing). Default: ${DB_ENV}.")
@click.option("--region", default=None, help="Region in ARNs, fixed when the project is created.")
@click.option("--account-id", default=None, help="12-digit account id in ARNs, fixed on creation.")
@click.option("--format", "fmt", type=click.Choice(output.FORMATS), default="table",
              help="Output format.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@click.option("--read-only", is_flag=True,
              help="Open the project read-only, for readers sharing the file; commands that write fail.")
@click.option("--endpoint-url", envvar=ENDPOINT_ENV, metavar="URL", default=None,
              help="Work through a running `pypersonalize serve` (it owns the file), e.g. "
                   f"http://127.0.0.1:8080. Default: ${ENDPOINT_ENV}.")
@click.version_option(__version__, prog_name="pypersonalize")
@click.pass_context
def main(ctx, db, region, account_id, fmt, quiet, read_only, endpoint_url):
    """Amazon Personalize in one DuckDB file.

    Commands open the project read-write: one process at a time. With --read-only any
    number of processes read it at once (while none has it open read-write).

    \b
    Example:
        pypersonalize --db shop.duckdb dataset-group create shop --domain ECOMMERCE
        pypersonalize --db shop.duckdb --read-only dataset-group list
    """
    ctx.obj = Context(db, region, account_id, fmt, quiet, read_only, endpoint_url)


# -- dataset groups ---------------------------------------------------------------

@main.group("dataset-group")
def dataset_group():
    """Create, list, describe, validate and delete dataset groups."""


@dataset_group.command("create")
@click.argument("name")
@click.option("--domain", type=click.Choice(["VIDEO_ON_DEMAND", "ECOMMERCE"], case_sensitive=False),
              default=None, help="Domain dataset group; omit for a custom one.")
@output_options
def dataset_group_create(pp, name, domain):
    """Create a dataset group.

    \b
    Example:
        pypersonalize dataset-group create movies --domain VIDEO_ON_DEMAND
    """
    return pp.create_dataset_group(name=name, domain=domain)


@dataset_group.command("list")
@output_options
def dataset_group_list(pp):
    """List dataset groups.

    \b
    Example:
        pypersonalize --format json dataset-group list
    """
    return pp.list_dataset_groups()["datasetGroups"]


@dataset_group.command("describe")
@click.argument("dataset_group")
@output_options
def dataset_group_describe(pp, dataset_group):
    """Describe a dataset group, its datasets and its data-requirements report.

    \b
    Example:
        pypersonalize dataset-group describe movies
    """
    out = pp.describe_dataset_group(dataset_group)
    out["datasets"] = {d["datasetType"]: f"{d['tableName']} ({d['rowCount']} rows)"
                       for d in pp.list_datasets(dataset_group)["datasets"]}
    out["dataRequirements"] = pp.validate_dataset_group(dataset_group)
    out["dataRequirements"].pop("datasetGroupArn")
    return out


@dataset_group.command("validate")
@click.argument("dataset_group")
@click.option("--event-type", default=None, help="Count only events of this type.")
@click.option("--event-value-threshold", type=float, default=None,
              help="Count only events with EVENT_VALUE >= this.")
@output_options
def dataset_group_validate(pp, dataset_group, event_type, event_value_threshold):
    """Check Personalize's minimum data requirements; exit 1 when they do not hold.

    \b
    Example:
        pypersonalize dataset-group validate movies --event-type Watch
    """
    report = pp.validate_dataset_group(dataset_group, event_type=event_type,
                                       event_value_threshold=event_value_threshold)
    if not report["meetsMinimum"]:
        click.echo(output.render(report, click.get_current_context().obj.fmt))
        raise click.ClickException("minimum data requirements not met: "
                                   + "; ".join(report["problems"]))
    return report


@dataset_group.command("delete")
@click.argument("dataset_group")
@output_options
def dataset_group_delete(pp, dataset_group):
    """Delete a dataset group that holds no datasets.

    \b
    Example:
        pypersonalize dataset-group delete movies
    """
    pp.delete_dataset_group(dataset_group)


# -- schemas ----------------------------------------------------------------------

@main.group("schema")
def schema_group():
    """Create, list, describe and delete schemas (Personalize Avro JSON)."""


@schema_group.command("create")
@click.argument("name")
@click.option("--schema", "schema", required=True, metavar="FILE|JSON",
              help="Schema JSON file, or the JSON text itself.")
@click.option("--domain", type=click.Choice(["VIDEO_ON_DEMAND", "ECOMMERCE"], case_sensitive=False),
              default=None, help="Check the schema against a domain's required fields.")
@output_options
def schema_create(pp, name, schema, domain):
    """Validate and store a schema.

    \b
    Example:
        pypersonalize schema create movie-items --schema items.schema.json --domain VIDEO_ON_DEMAND
    """
    return pp.create_schema(name=name, schema=schema, domain=domain)


@schema_group.command("list")
@output_options
def schema_list(pp):
    """List schemas.

    \b
    Example:
        pypersonalize schema list
    """
    return [{k: v for k, v in s.items() if k != "schema"} for s in pp.list_schemas()["schemas"]]


@schema_group.command("describe")
@click.argument("schema")
@output_options
def schema_describe(pp, schema):
    """Describe a schema, its JSON included.

    \b
    Example:
        pypersonalize --format json schema describe movie-items
    """
    return pp.describe_schema(schema)["schema"]


@schema_group.command("delete")
@click.argument("schema")
@output_options
def schema_delete(pp, schema):
    """Delete a schema no dataset uses.

    \b
    Example:
        pypersonalize schema delete old-items
    """
    pp.delete_schema(schema)


# -- datasets ---------------------------------------------------------------------

@main.group("dataset")
def dataset_group_cmd():
    """Create, list, describe, import into and evolve datasets."""


_dg_option = click.option("--dataset-group", default=None,
                          help="Dataset group, to name a dataset by its type.")


@dataset_group_cmd.command("create")
@click.argument("name")
@click.option("--dataset-group", required=True, help="Dataset group that will hold it.")
@click.option("--type", "dataset_type", required=True,
              type=click.Choice(["Interactions", "Items", "Users"], case_sensitive=False))
@click.option("--schema", required=True, help="Name or ARN of a schema made with `schema create`.")
@output_options
def dataset_create(pp, name, dataset_group, dataset_type, schema):
    """Create a dataset (a table in the project file).

    \b
    Example:
        pypersonalize dataset create movies-interactions --dataset-group movies \\
            --type Interactions --schema movie-interactions
    """
    return pp.create_dataset(name=name, dataset_group=dataset_group, dataset_type=dataset_type,
                             schema=schema)


@dataset_group_cmd.command("list")
@_dg_option
@output_options
def dataset_list(pp, dataset_group):
    """List datasets.

    \b
    Example:
        pypersonalize dataset list --dataset-group movies
    """
    return pp.list_datasets(dataset_group=dataset_group)["datasets"]


@dataset_group_cmd.command("describe")
@click.argument("dataset")
@_dg_option
@output_options
def dataset_describe(pp, dataset, dataset_group):
    """Describe a dataset (by name, ARN, or type with --dataset-group).

    \b
    Example:
        pypersonalize dataset describe Interactions --dataset-group movies
    """
    return pp.describe_dataset(dataset, dataset_group=dataset_group)["dataset"]


def _path_source(params: dict) -> None:
    """Without --query, SOURCE must name files: a file, a folder or a glob that matches."""
    source, query = params["source"], params["query"]
    if query:
        if params["data_format"]:
            raise click.BadParameter("--data-format applies to files, not to a --query source",
                                     param_hint="--data-format")
        return
    if source.lower().startswith("s3://"):
        return                   # the library explains what to do with an S3 location
    pattern = any(ch in source for ch in "*?[")
    if os.path.exists(source) or (pattern and glob.glob(source)):
        return
    what = "no file matches" if pattern else "no such file or folder"
    raise click.BadParameter(f"{what}: {source}; pass --query to import from SQL (a SELECT or a table name)",
                             param_hint="SOURCE")


def _check_before_open(check):
    """Run ``check(params)`` before the project is opened: a usage error opens nothing."""
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            check(kwargs)
            return fn(*args, **kwargs)
        return wrapper
    return decorate


@dataset_group_cmd.command("import")
@click.argument("dataset")
@click.argument("source", metavar="SOURCE")
@_dg_option
@click.option("--query", is_flag=True, default=False,
              help="SOURCE is SQL: one SELECT, or a table or view name, run on the project file.")
@click.option("--mode", "import_mode", type=click.Choice(IMPORT_MODES, case_sensitive=False),
              default="FULL", show_default=True,
              help="FULL replaces the data; INCREMENTAL appends / upserts by id.")
@click.option("--job-name", default=None, help="Name of the import job (default: generated).")
@click.option("--data-format", type=click.Choice(["csv", "parquet", "json"]), default=None,
              help="Format, when the file name does not tell.")
@_check_before_open(_path_source)
@output_options
def dataset_import(pp, dataset, source, dataset_group, query, import_mode, job_name, data_format):
    """Import a file, glob or folder (or, with --query, a SELECT or table) into a dataset, atomically.

    SOURCE is a path unless --query says it is SQL, so a mistyped file name is an error,
    never a query.

    \b
    Example:
        pypersonalize dataset import Interactions 'exports/*.csv' --dataset-group movies
        pypersonalize dataset import movies-items "SELECT * FROM staging.items" --query --mode INCREMENTAL
    """
    # A Path is only ever a path to the library; text may be SQL.
    arn = pp.create_dataset_import_job(dataset=dataset, data_source=source if query else Path(source),
                                       job_name=job_name,
                                       import_mode=import_mode, data_format=data_format,
                                       dataset_group=dataset_group)["datasetImportJobArn"]
    return pp.describe_dataset_import_job(arn)["datasetImportJob"]


@dataset_group_cmd.command("update-schema")
@click.argument("dataset")
@click.option("--schema", required=True, help="The new schema (must only add nullable fields).")
@_dg_option
@output_options
def dataset_update_schema(pp, dataset, schema, dataset_group):
    """Replace an Items or Users dataset's schema by one that adds nullable fields.

    \b
    Example:
        pypersonalize dataset update-schema Items --dataset-group movies --schema movie-items-v2
    """
    return pp.update_dataset(dataset, schema=schema, dataset_group=dataset_group)


@dataset_group_cmd.command("delete")
@click.argument("dataset")
@_dg_option
@output_options
def dataset_delete(pp, dataset, dataset_group):
    """Delete a dataset and its data.

    \b
    Example:
        pypersonalize dataset delete Users --dataset-group movies
    """
    pp.delete_dataset(dataset, dataset_group=dataset_group)


# -- import jobs ------------------------------------------------------------------

@main.group("import-job")
def import_job():
    """List and describe dataset import jobs."""


@import_job.command("list")
@click.option("--dataset", default=None, help="Only jobs of this dataset.")
@_dg_option
@output_options
def import_job_list(pp, dataset, dataset_group):
    """List import jobs, newest last.

    \b
    Example:
        pypersonalize import-job list --dataset-group movies
    """
    return pp.list_dataset_import_jobs(dataset=dataset, dataset_group=dataset_group)["datasetImportJobs"]


@import_job.command("describe")
@click.argument("job")
@output_options
def import_job_describe(pp, job):
    """Describe an import job, with its failure reason if it failed.

    \b
    Example:
        pypersonalize import-job describe movies-interactions-1
    """
    return pp.describe_dataset_import_job(job)["datasetImportJob"]


# -- recipes and solutions --------------------------------------------------------

@main.group("recipe")
def recipe_group():
    """List and describe recipes."""


@recipe_group.command("list")
@registry_options
def recipe_list():
    """List the recipes this version implements (no project file needed).

    \b
    Example:
        pypersonalize recipe list
    """
    from .recipes import summaries
    return summaries()


@recipe_group.command("describe")
@click.argument("recipe")
@registry_options
def recipe_describe(recipe):
    """Describe a recipe and its hyperparameters (no project file needed).

    \b
    Example:
        pypersonalize recipe describe aws-sims
        pypersonalize --format json recipe describe aws-sims
    """
    from .recipes import get_recipe, summary
    r = get_recipe(recipe)
    name = recipe.rsplit("/", 1)[-1]
    out = {**summary(r, name if name in r.aliases else None), "sqlFiles": list(r.sql_files),
           "hyperparameters": [h.describe() for h in r.hyperparameters]}
    ctx = click.get_current_context().obj
    if ctx.fmt != "table":
        return out
    # A table cell holding every hyperparameter as JSON was cut at 60 characters; one row
    # each, descriptions folded rather than cut, shows all of them.
    hyperparameters = out.pop("hyperparameters")
    click.echo(output.render(out, "table", wrap=True))
    click.echo()
    click.echo(output.render(hyperparameters, "table", wrap=True))
    return None


_METADATA_FLAG = click.option("--enable-metadata/--no-enable-metadata", "enable_metadata", default=None,
                              help="enableMetadataWithRecommendations: requests may ask for Items columns.")


def _parse_pairs(values, option: str) -> dict:
    out = {}
    for item in values:
        if "=" not in item:
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint=option)
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


@main.group("solution")
def solution_group():
    """Create, list, describe and delete solutions."""


@solution_group.command("create")
@click.argument("name")
@click.option("--dataset-group", required=True)
@click.option("--recipe", default=None, help="Recipe name or ARN, e.g. aws-sims (left out with --perform-auto-ml).")
@click.option("--hp", "hyperparameters", multiple=True, metavar="NAME=VALUE",
              help="A hyperparameter; repeat for more.")
@click.option("--event-type", default=None, help="Train only on this event type.")
@click.option("--event-value-threshold", type=float, default=None,
              help="Train only on events with EVENT_VALUE >= this.")
@click.option("--auto-training-days", type=int, default=None,
              help="performAutoTraining every N days (1..30), run by `refresh`.")
@click.option("--solution-config", "solution_config", default=None, metavar="JSON|FILE",
              help="Personalize's solutionConfig as JSON or a JSON file (hpoConfig, eventsConfig, ...).")
@click.option("--perform-hpo", is_flag=True, help="Tune the HPO-tunable hyperparameters (hpoConfig).")
@click.option("--perform-auto-ml", is_flag=True, help="Choose the recipe (autoMLConfig.recipeList), with HPO.")
@output_options
def solution_create(pp, name, dataset_group, recipe, hyperparameters, event_type, event_value_threshold,
                    auto_training_days, solution_config, perform_hpo, perform_auto_ml):
    """Create a solution (a recipe with its settings) for a dataset group.

    \b
    Example:
        pypersonalize solution create related --dataset-group movies --recipe aws-sims \\
            --hp min_cointeraction_count=2 --event-type Watch
        pypersonalize solution create tuned --dataset-group movies --recipe aws-sims --perform-hpo \\
            --solution-config '{"hpoConfig": {"hpoResourceConfig": {"maxNumberOfTrainingJobs": "8"}}}'
    """
    config = _json_or_file(solution_config, "--solution-config") if solution_config else {}
    if auto_training_days is not None:
        config["autoTrainingConfig"] = {"schedulingExpression": f"rate({auto_training_days} days)"}
    return pp.create_solution(name=name, dataset_group=dataset_group, recipe=recipe,
                              hyperparameters=_parse_pairs(hyperparameters, "--hp"),
                              event_type=event_type, event_value_threshold=event_value_threshold,
                              perform_auto_training=auto_training_days is not None,
                              solution_config=config or None, perform_hpo=perform_hpo,
                              perform_auto_ml=perform_auto_ml)


def _json_or_file(text: str, hint: str) -> dict:
    """A JSON object given inline or as the path of a file holding one."""
    source = text
    if not text.lstrip().startswith("{"):
        path = Path(text)
        if not path.is_file():
            raise click.BadParameter(f"neither a JSON object nor a file: {text[:60]!r}", param_hint=hint)
        source = path.read_text(encoding="utf-8")
    try:
        value = json.loads(source)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint=hint) from None
    if not isinstance(value, dict):
        raise click.BadParameter("must be a JSON object", param_hint=hint)
    return value


@solution_group.command("list")
@_dg_option
@output_options
def solution_list(pp, dataset_group):
    """List solutions.

    \b
    Example:
        pypersonalize solution list --dataset-group movies
    """
    return [{k: v for k, v in s.items() if k != "solutionConfig"}
            for s in pp.list_solutions(dataset_group=dataset_group)["solutions"]]


@solution_group.command("describe")
@click.argument("solution")
@output_options
def solution_describe(pp, solution):
    """Describe a solution.

    \b
    Example:
        pypersonalize solution describe related
    """
    return pp.describe_solution(solution)["solution"]


@solution_group.command("delete")
@click.argument("solution")
@output_options
def solution_delete(pp, solution):
    """Delete a solution and its versions (refused while a campaign serves one).

    \b
    Example:
        pypersonalize solution delete related
    """
    pp.delete_solution(solution)


@main.group("solution-version")
def solution_version_group():
    """Train (create), list and describe solution versions."""


@solution_version_group.command("create")
@click.argument("solution")
@click.option("--training-mode", type=click.Choice(["FULL", "UPDATE"], case_sensitive=False),
              default="FULL", show_default=True)
@output_options
def solution_version_create(pp, solution, training_mode):
    """Train a new version of a solution.

    \b
    Example:
        pypersonalize solution-version create related
    """
    arn = pp.create_solution_version(solution, training_mode=training_mode)["solutionVersionArn"]
    return pp.describe_solution_version(arn)["solutionVersion"]


@solution_version_group.command("list")
@click.option("--solution", default=None)
@output_options
def solution_version_list(pp, solution):
    """List solution versions.

    \b
    Example:
        pypersonalize solution-version list --solution related
    """
    return [{k: v for k, v in s.items() if k in ("solutionVersionArn", "status", "trainingMode",
                                                   "creationDateTime", "trainingSeconds")}
            for s in pp.list_solution_versions(solution=solution)["solutionVersions"]]


@solution_version_group.command("describe")
@click.argument("solution_version")
@output_options
def solution_version_describe(pp, solution_version):
    """Describe a solution version: status, data counts, model statistics.

    \b
    Example:
        pypersonalize solution-version describe arn:aws:personalize:local:000000000000:solution/related/1
    """
    return pp.describe_solution_version(solution_version)["solutionVersion"]


@solution_version_group.command("metrics")
@click.argument("solution_version")
@output_options
def solution_version_metrics(pp, solution_version):
    """Offline metrics of a solution version (Personalize's GetSolutionMetrics), one row each.

    \b
    Example:
        pypersonalize solution-version metrics arn:aws:personalize:local:000000000000:solution/picks/1
    """
    found = pp.get_solution_metrics(solution_version)["metrics"]
    return [{"metric": name, "value": value} for name, value in found.items()]


# -- campaigns and recommenders ------------------------------------------------------

@main.group("campaign")
def campaign_group():
    """Deploy solution versions as campaigns."""


@campaign_group.command("create")
@click.argument("name")
@click.option("--solution-version", required=True, help="ARN of an ACTIVE solution version.")
@click.option("--min-provisioned-tps", type=int, default=1, show_default=True)
@click.option("--exploration-weight", type=float, default=None,
              help="itemExplorationConfig explorationWeight (0..1) for User-Personalization.")
@click.option("--exploration-item-age-cut-off", "exploration_age", type=float, default=None,
              help="itemExplorationConfig explorationItemAgeCutOff (days).")
@_METADATA_FLAG
@output_options
def campaign_create(pp, name, solution_version, min_provisioned_tps, exploration_weight, exploration_age,
                    enable_metadata):
    """Create a campaign serving a solution version.

    \b
    Example:
        pypersonalize campaign create related-live \\
            --solution-version arn:aws:personalize:local:000000000000:solution/related/1
    """
    return pp.create_campaign(name=name, solution_version=solution_version,
                              min_provisioned_tps=min_provisioned_tps,
                              campaign_config=_exploration(exploration_weight, exploration_age, enable_metadata))


@campaign_group.command("update")
@click.argument("campaign")
@click.option("--solution-version", default=None, help="Switch to this version of the same solution.")
@click.option("--min-provisioned-tps", type=int, default=None)
@click.option("--exploration-weight", type=float, default=None,
              help="itemExplorationConfig explorationWeight (0..1) for User-Personalization.")
@click.option("--exploration-item-age-cut-off", "exploration_age", type=float, default=None,
              help="itemExplorationConfig explorationItemAgeCutOff (days).")
@_METADATA_FLAG
@output_options
def campaign_update(pp, campaign, solution_version, min_provisioned_tps, exploration_weight, exploration_age,
                    enable_metadata):
    """Switch a campaign to another solution version, atomically.

    \b
    Example:
        pypersonalize campaign update related-live \\
            --solution-version arn:aws:personalize:local:000000000000:solution/related/2
    """
    pp.update_campaign(campaign, solution_version=solution_version,
                       min_provisioned_tps=min_provisioned_tps,
                       campaign_config=_exploration(exploration_weight, exploration_age, enable_metadata))
    return pp.describe_campaign(campaign)["campaign"]


@campaign_group.command("list")
@click.option("--solution", default=None)
@output_options
def campaign_list(pp, solution):
    """List campaigns.

    \b
    Example:
        pypersonalize campaign list
    """
    return pp.list_campaigns(solution=solution)["campaigns"]


@campaign_group.command("describe")
@click.argument("campaign")
@output_options
def campaign_describe(pp, campaign):
    """Describe a campaign.

    \b
    Example:
        pypersonalize campaign describe related-live
    """
    return pp.describe_campaign(campaign)["campaign"]


@campaign_group.command("delete")
@click.argument("campaign")
@output_options
def campaign_delete(pp, campaign):
    """Delete a campaign.

    \b
    Example:
        pypersonalize campaign delete related-live
    """
    pp.delete_campaign(campaign)


@main.group("recommender")
def recommender_group():
    """Domain recommenders: create (and train), list, describe, delete."""


@recommender_group.command("create")
@click.argument("name")
@click.option("--dataset-group", required=True)
@click.option("--use-case", required=True,
              help="Use case title or recipe, e.g. 'Most popular' or aws-vod-most-popular.")
@click.option("--min-rps", "min_rps", type=int, default=None,
              help="minRecommendationRequestsPerSecond (recorded; see README).")
@click.option("--exploration-weight", type=float, default=None,
              help="itemExplorationConfig explorationWeight (0..1) for User-Personalization.")
@click.option("--exploration-item-age-cut-off", "exploration_age", type=float, default=None,
              help="itemExplorationConfig explorationItemAgeCutOff (days).")
@_METADATA_FLAG
@output_options
def recommender_create(pp, name, dataset_group, use_case, min_rps, exploration_weight, exploration_age,
                       enable_metadata):
    """Create a recommender for a domain use case and train it.

    \b
    Example:
        pypersonalize recommender create top-movies --dataset-group movies --use-case "Most popular"
    """
    config = {"minRecommendationRequestsPerSecond": min_rps} if min_rps is not None else {}
    config.update(_exploration(exploration_weight, exploration_age, enable_metadata) or {})
    arn = pp.create_recommender(name=name, dataset_group=dataset_group, use_case=use_case,
                                recommender_config=config or None)["recommenderArn"]
    return pp.describe_recommender(arn)["recommender"]


@recommender_group.command("list")
@_dg_option
@output_options
def recommender_list(pp, dataset_group):
    """List recommenders, with whether each is stale.

    \b
    Example:
        pypersonalize recommender list --dataset-group movies
    """
    return [{k: v for k, v in r.items() if k in ("name", "recipeArn", "status", "lastTrainedDateTime",
                                                   "stale")}
            for r in pp.list_recommenders(dataset_group=dataset_group)["recommenders"]]


@recommender_group.command("describe")
@click.argument("recommender")
@output_options
def recommender_describe(pp, recommender):
    """Describe a recommender: when it was trained and whether it is stale.

    \b
    Example:
        pypersonalize recommender describe top-movies
    """
    return pp.describe_recommender(recommender)["recommender"]


@recommender_group.command("delete")
@click.argument("recommender")
@output_options
def recommender_delete(pp, recommender):
    """Delete a recommender and its models.

    \b
    Example:
        pypersonalize recommender delete top-movies
    """
    pp.delete_recommender(recommender)


@main.command("refresh")
@_dg_option
@click.option("--force", is_flag=True, help="Retrain every recommender, stale or not.")
@output_options
def refresh_command(pp, dataset_group, force):
    """Retrain stale recommenders; run due automatic training and updates of solutions; for cron.

    \b
    Example:
        pypersonalize --db shop.duckdb refresh --quiet
    """
    result = pp.refresh_recommenders(dataset_group=dataset_group, force=force)
    solutions = pp.refresh_solutions(dataset_group=dataset_group, force=force)
    return ([{"recommender": r["name"], "action": "retrained", "reason": "; ".join(r["reasons"])}
             for r in result["refreshed"]]
            + [{"recommender": n, "action": "up to date", "reason": ""} for n in result["upToDate"]]
            + [{"solution": s["name"], "action": s["trainingMode"], "reason": s["reason"]}
               for s in solutions["trained"]])


@main.group("filter")
def filter_group():
    """Create, list, describe and delete filters (Personalize filter expressions)."""


@filter_group.command("create")
@click.argument("name")
@click.option("--dataset-group", required=True)
@click.option("--expression", "filter_expression", required=True,
              help="A Personalize filter expression.")
@click.option("--interactions-window", type=int, default=100, show_default=True,
              help="Recent interactions per user and event type that Interactions conditions see.")
@output_options
def filter_create(pp, name, dataset_group, filter_expression, interactions_window):
    """Create a filter after checking it against the dataset group's schemas.

    \b
    Example:
        pypersonalize filter create unwatched --dataset-group movies \\
            --expression 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("Watch")'
    """
    return pp.create_filter(name=name, dataset_group=dataset_group, filter_expression=filter_expression,
                            interactions_window=interactions_window)


@filter_group.command("list")
@_dg_option
@output_options
def filter_list(pp, dataset_group):
    """List filters.

    \b
    Example:
        pypersonalize filter list --dataset-group movies
    """
    return pp.list_filters(dataset_group=dataset_group)["Filters"]


@filter_group.command("describe")
@click.argument("filter_name")
@output_options
def filter_describe(pp, filter_name):
    """Describe a filter.

    \b
    Example:
        pypersonalize filter describe unwatched
    """
    return pp.describe_filter(filter_name)["filter"]


@filter_group.command("delete")
@click.argument("filter_name")
@output_options
def filter_delete(pp, filter_name):
    """Delete a filter.

    \b
    Example:
        pypersonalize filter delete unwatched
    """
    pp.delete_filter(filter_name)


@main.group("event-tracker")
def event_tracker_group():
    """Create, list, describe and delete event trackers (a dataset group's PutEvents target)."""


@event_tracker_group.command("create")
@click.argument("name")
@click.option("--dataset-group", required=True)
@output_options
def event_tracker_create(pp, name, dataset_group):
    """Create the dataset group's event tracker; prints its trackingId.

    \b
    Example:
        pypersonalize event-tracker create site --dataset-group movies
    """
    return pp.create_event_tracker(name=name, dataset_group=dataset_group)


@event_tracker_group.command("list")
@_dg_option
@output_options
def event_tracker_list(pp, dataset_group):
    """List event trackers.

    \b
    Example:
        pypersonalize event-tracker list --dataset-group movies
    """
    return pp.list_event_trackers(dataset_group=dataset_group)["eventTrackers"]


@event_tracker_group.command("describe")
@click.argument("event_tracker")
@output_options
def event_tracker_describe(pp, event_tracker):
    """Describe an event tracker (with its trackingId).

    \b
    Example:
        pypersonalize event-tracker describe site
    """
    return pp.describe_event_tracker(event_tracker)["eventTracker"]


@event_tracker_group.command("delete")
@click.argument("event_tracker")
@output_options
def event_tracker_delete(pp, event_tracker):
    """Delete an event tracker.

    \b
    Example:
        pypersonalize event-tracker delete site
    """
    pp.delete_event_tracker(event_tracker)


@main.command("recommend")
@click.option("--campaign", default=None)
@click.option("--recommender", default=None)
@click.option("--user-id", default=None)
@click.option("--item-id", default=None)
@click.option("-n", "--num-results", type=int, default=25, show_default=True)
@click.option("--filter", "filter_name", default=None, help="A filter's name or ARN.")
@click.option("--filter-value", "filter_values", multiple=True, metavar='NAME=\'"v1","v2"\'',
              help="A value for a $NAME of the filter, in Personalize's quoting; repeatable.")
@click.option("--context", "context", multiple=True, metavar="FIELD=VALUE",
              help="Contextual metadata of the request, e.g. DEVICE=Tablet; repeatable.")
@click.option("--seed", type=int, default=None, help="Makes exploration and promotions reproducible.")
@click.option("--metadata-column", "metadata_columns", multiple=True, metavar="COLUMN",
              help="An Items column to return with each item (metadataColumns ITEMS); repeatable (max 10).")
@click.option("--explain", is_flag=True, help="Say why each item is there (its explanation).")
@output_options
def recommend_command(pp, campaign, recommender, user_id, item_id, num_results, filter_name,
                      filter_values, context, seed, metadata_columns, explain):
    """Get recommendations from a campaign or recommender.

    \b
    Example:
        pypersonalize recommend --recommender because-you-watched --user-id u1 --item-id m7 -n 10
        pypersonalize recommend --recommender top --user-id u1 --filter by-genre \\
            --filter-value 'GENRE="Comedy","Drama"'
        pypersonalize recommend --recommender top-picks --user-id u1 --context DEVICE=Tablet
        pypersonalize recommend --campaign up --user-id u1 --metadata-column GENRES --explain
    """
    out = pp.get_recommendations(campaign=campaign, recommender=recommender, user_id=user_id,
                                 item_id=item_id, num_results=num_results, filter=filter_name,
                                 filter_values=_parse_pairs(filter_values, "--filter-value") or None,
                                 context=_parse_pairs(context, "--context") or None, seed=seed,
                                 metadata_columns={"ITEMS": list(metadata_columns)} if metadata_columns else None,
                                 explain=explain)
    ctx = click.get_current_context().obj
    if ctx.fmt == "json":
        return out
    rows = [{"rank": i, "itemId": r["itemId"], "score": r["score"],
             "reason": ",".join(r.get("reason", []) or ([r["promotionName"]] if "promotionName" in r else []))}
            for i, r in enumerate(out["itemList"], start=1)]
    if not any(r["reason"] for r in rows):      # the column only when some item has one
        for r in rows:
            del r["reason"]
    for row, r in zip(rows, out["itemList"]):
        for column in metadata_columns:
            row[column] = r.get("metadata", {}).get(column)
        if explain:
            row["explanation"] = r.get("explanation", {}).get("text")
    return rows


@main.command("rank")
@click.option("--campaign", required=True)
@click.option("--user-id", required=True)
@click.option("--item", "items", multiple=True, required=True, help="An item to rank; repeatable (max 500).")
@click.option("--context", "context", multiple=True, metavar="FIELD=VALUE")
@click.option("--metadata-column", "metadata_columns", multiple=True, metavar="COLUMN",
              help="An Items column to return with each item (metadataColumns ITEMS); repeatable (max 10).")
@output_options
def rank_command(pp, campaign, user_id, items, context, metadata_columns):
    """Reorder items for a user (Personalize's GetPersonalizedRanking).

    \b
    Example:
        pypersonalize rank --campaign ranking --user-id u1 --item m1 --item m7 --item m42
    """
    out = pp.get_personalized_ranking(campaign, user_id, list(items),
                                      context=_parse_pairs(context, "--context") or None,
                                      metadata_columns={"ITEMS": list(metadata_columns)} if metadata_columns
                                      else None)
    if click.get_current_context().obj.fmt == "json":
        return out
    return [{"rank": i, "itemId": r["itemId"], "score": r["score"],
             **{c: r.get("metadata", {}).get(c) for c in metadata_columns}}
            for i, r in enumerate(out["personalizedRanking"], start=1)]


@main.command("put-events")
@click.option("--dataset-group", default=None, help="The group (or give --tracking-id).")
@click.option("--tracking-id", default=None, help="An event tracker's trackingId (names the group).")
@click.option("--user-id", required=True)
@click.option("--session-id", required=True)
@click.option("--event", "events", multiple=True, required=True, metavar="JSON",
              help='One event as Personalize\'s JSON, e.g. \'{"eventType": "Watch", "itemId": "m7", '
                   '"sentAt": 1700000000}\'; repeatable (max 10).')
@output_options
def put_events_command(pp, dataset_group, tracking_id, user_id, session_id, events):
    """Record real-time events of one user (Personalize's PutEvents).

    \b
    Example:
        pypersonalize put-events --dataset-group movies --user-id u1 --session-id s1 \\
            --event '{"eventType": "Watch", "itemId": "m7", "sentAt": 1700000000}'
    """
    parsed = []
    for n, text in enumerate(events, 1):
        try:
            parsed.append(json.loads(text))
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"event {n} is not valid JSON: {exc}", param_hint="--event") from None
    return pp.put_events(dataset_group, user_id, session_id, parsed, tracking_id=tracking_id)


# -- sql --------------------------------------------------------------------------

@main.command("sql")
@click.argument("query")
@output_options
def sql_command(pp, query):
    """Run any SQL on the project file and print the result.

    \b
    Example:
        pypersonalize sql "SELECT EVENT_TYPE, count(*) FROM movies.interactions GROUP BY 1"
    """
    rel = pp.sql(query)
    if rel is None:
        return None
    return list(rel.columns), [list(r) for r in rel.fetchall()]


# -- serve ------------------------------------------------------------------------

@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (loopback by default; the access-key guard is not AWS-grade auth).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--access-key", "access_keys", multiple=True, metavar="KEY",
              help="Allow only requests signed with this AWS access key id (repeatable). Default: any.")
@click.option("--s3-root", type=click.Path(file_okay=False), default=None,
              help="Folder that s3://bucket/key paths map to (DIR/bucket/key). Default: $PYPERSONALIZE_S3_ROOT.")
@click.option("--max-body-mb", default=8, show_default=True, type=click.IntRange(1, 1024),
              help="Largest request body accepted.")
@click.option("--verbose", is_flag=True, help="Log every request to stderr.")
@click.pass_obj
def serve_command(ctx, host, port, access_keys, s3_root, max_body_mb, verbose):
    """Serve the project over Personalize's HTTP APIs, for boto3 clients (endpoint_url=).

    
    Example:
        pypersonalize --db shop.duckdb serve --port 8080
        python -c "import boto3; boto3.client('personalize-runtime', endpoint_url='http://127.0.0.1:8080',
                   region_name='us-east-1', aws_access_key_id='x', aws_secret_access_key='x')"
    """
    if ctx.endpoint_url:
        raise click.UsageError("serve opens the project itself: give --db, not --endpoint-url")
    if ctx.read_only:
        raise click.UsageError("serve owns the project file: it cannot be --read-only")
    import signal

    from .server import SWITCH_SECONDS, PersonalizeServer
    try:
        pp = ctx.project()
        server = PersonalizeServer(pp, host, port, access_keys=access_keys or None,
                                   s3_root=s3_root or os.environ.get("PYPERSONALIZE_S3_ROOT"),
                                   max_body=max_body_mb * 1024 * 1024, quiet=ctx.quiet, verbose=verbose)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    except Exception as exc:
        if not _library_error(exc):
            raise
        raise click.ClickException(" ".join(str(exc).split())) from None
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    # A thread woken by its socket waits for the GIL until the thread holding it lets go,
    # after up to the switch interval (5 ms by default): at 0.5 ms a request that arrives
    # while another is scored waits a fraction of a millisecond (benchmarks: serve_load).
    sys.setswitchinterval(SWITCH_SECONDS)
    if not ctx.quiet:
        click.echo(f"serving {ctx.db} at {server.url} (Ctrl-C stops)", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        pp.close()


main.add_command(batch_inference_group)
main.add_command(batch_segment_group)
main.add_command(report_command)


def run() -> None:   # pragma: no cover - console entry point wrapper
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    main(prog_name=os.path.basename(sys.argv[0]))
