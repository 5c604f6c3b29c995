"""The ``batch-inference`` and ``batch-segment`` command groups (``cli.main`` adds them).

``create --background`` records the job, then starts a detached Python process that runs
it (an interrupted job is taken up by creating it again); ``describe`` reads the job's
status file while that process holds the project open.
"""

from __future__ import annotations

import subprocess
import sys

import click

from .cli_base import Context, _echo, _exploration, _library_error, _one_line, output_options


def _job_options(fn):
    for option in reversed((
        click.argument("name"),
        click.option("--solution-version", required=True, help="ARN of an ACTIVE solution version."),
        click.option("--input", "job_input", default=None,
                     help="JSON Lines input: a file, folder or glob (one record per line)."),
        click.option("--query", default=None, help="Or: a SELECT whose columns are the records' keys "
                                                   "(userId, itemId, itemList, filterValues, itemAttributes)."),
        click.option("--output", "job_output", required=True,
                     help="Output folder (one <input>.out per input file) or, for one input, a file."),
        click.option("--num-results", type=int, default=25, show_default=True),
        click.option("--filter", "filter_name", default=None, help="A filter of the dataset group."),
        click.option("--output-table", default=None, help="Also write the rows to this DuckDB table."),
        click.option("--output-parquet", default=None, help="Also write the rows to this Parquet file."),
        click.option("--background", is_flag=True, default=False,
                     help="Return at once; a detached process runs the job (poll with describe)."),
    )):
        fn = option(fn)
    return fn


def _source(job_input, query):
    if (job_input is None) == (query is None):
        raise click.UsageError("give exactly one of --input or --query")
    return job_input if query is None else {"sql": query}


def _analyst(table, parquet) -> dict:
    return {k: v for k, v in (("outputTable", table), ("outputParquet", parquet)) if v is not None}


_CHILD = "import sys; from pypersonalize.cli_batch import run_detached; run_detached(*sys.argv[1:4])"
OPEN_PATIENCE = 120.0          # seconds the detached job waits for a `describe` (or any reader) to let go


def run_detached(db: str, kind: str, arn: str) -> None:
    """The detached process's body: open the project once no other process holds it, run the job.

    A ``describe`` polling from another process can hold the file at the instant the job starts;
    giving up then would leave the job CREATE PENDING for ever.
    """
    import time

    from . import open as open_project
    from .errors import ResourceInUse
    deadline = time.monotonic() + OPEN_PATIENCE
    while True:
        try:
            pp = open_project(db, quiet=True)
            break
        except ResourceInUse:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    try:
        pp._batch_run(kind, arn)
    finally:
        pp.close()


def _detach(pp, kind: str, arn: str) -> dict:
    """Start the detached process that runs the recorded job, once this one lets the file go."""
    from .batch import status_path
    log = status_path(pp.path, arn).with_suffix(".log")
    log.parent.mkdir(parents=True, exist_ok=True)
    db = pp.path
    pp.close()
    with open(log, "ab") as handle:
        child = subprocess.Popen([sys.executable, "-c", _CHILD, db, kind, arn], stdout=handle,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    return {"jobArn": arn, "status": "CREATE PENDING", "pid": child.pid, "log": str(log)}


@click.group("batch-inference")
def batch_inference_group():
    """Batch inference jobs: recommendations for many users or items, to files."""


@batch_inference_group.command("create")
@_job_options
@click.option("--exploration-weight", type=float, default=None,
              help="itemExplorationConfig explorationWeight (0..1) for User-Personalization.")
@click.option("--exploration-item-age-cut-off", "exploration_age", type=float, default=None,
              help="itemExplorationConfig explorationItemAgeCutOff (days).")
@output_options
def batch_inference_create(pp, name, solution_version, job_input, query, job_output, num_results, filter_name,
                           output_table, output_parquet, background, exploration_weight, exploration_age):
    """Create (and run) a batch inference job.

    \b
    Example:
        pypersonalize batch-inference create nightly \\
            --solution-version arn:aws:personalize:local:000000000000:solution/up/1 \\
            --input users.jsonl --output out/
    """
    config = {**(_exploration(exploration_weight, exploration_age) or {}), **_analyst(output_table, output_parquet)}
    arn = pp.create_batch_inference_job(name, solution_version, _source(job_input, query), job_output,
                                        num_results=num_results, filter=filter_name,
                                        batch_inference_job_config=config or None,
                                        wait=None if background else True)["batchInferenceJobArn"]
    if background:
        return _detach(pp, "batch-inference-job", arn)
    return pp.describe_batch_inference_job(arn)["batchInferenceJob"]


@batch_inference_group.command("describe")
@click.argument("job")
@click.pass_obj
def batch_inference_describe(ctx: Context, job):
    """Describe a batch inference job: status, record counts, output files.

    \b
    Example:
        pypersonalize batch-inference describe nightly
    """
    _describe(ctx, "batch-inference-job", job, lambda pp: pp.describe_batch_inference_job(job)["batchInferenceJob"])


@batch_inference_group.command("list")
@click.option("--solution-version", default=None)
@output_options
def batch_inference_list(pp, solution_version):
    """List batch inference jobs.

    \b
    Example:
        pypersonalize batch-inference list
    """
    return pp.list_batch_inference_jobs(solution_version=solution_version)["batchInferenceJobs"]


@click.group("batch-segment")
def batch_segment_group():
    """Batch segment jobs: the users most likely to interact with items (Item-Affinity)."""


@batch_segment_group.command("create")
@_job_options
@output_options
def batch_segment_create(pp, name, solution_version, job_input, query, job_output, num_results, filter_name,
                         output_table, output_parquet, background):
    """Create (and run) a batch segment job.

    \b
    Example:
        pypersonalize batch-segment create fans \\
            --solution-version arn:aws:personalize:local:000000000000:solution/affinity/1 \\
            --input items.jsonl --output out/ --num-results 100
    """
    arn = pp.create_batch_segment_job(name, solution_version, _source(job_input, query), job_output,
                                      num_results=num_results, filter=filter_name,
                                      batch_segment_job_config=_analyst(output_table, output_parquet) or None,
                                      wait=None if background else True)["batchSegmentJobArn"]
    if background:
        return _detach(pp, "batch-segment-job", arn)
    return pp.describe_batch_segment_job(arn)["batchSegmentJob"]


@batch_segment_group.command("describe")
@click.argument("job")
@click.pass_obj
def batch_segment_describe(ctx: Context, job):
    """Describe a batch segment job.

    \b
    Example:
        pypersonalize batch-segment describe fans
    """
    _describe(ctx, "batch-segment-job", job, lambda pp: pp.describe_batch_segment_job(job)["batchSegmentJob"])


@batch_segment_group.command("list")
@click.option("--solution-version", default=None)
@output_options
def batch_segment_list(pp, solution_version):
    """List batch segment jobs.

    \b
    Example:
        pypersonalize batch-segment list
    """
    return pp.list_batch_segment_jobs(solution_version=solution_version)["batchSegmentJobs"]


def _describe(ctx: Context, kind: str, job: str, call) -> None:
    """The job's record, or, while a detached job process holds the file, its status file."""
    try:
        with ctx.project() as pp:
            result = call(pp)
    except Exception as exc:
        if not _library_error(exc):
            raise
        from .batch import read_status
        held = any(w in str(exc).lower() for w in ("in use by another process", "lock"))
        found = read_status(ctx.db, kind, job) if held else None
        if found is None:
            raise click.ClickException(_one_line(exc)) from None
        result = found
    _echo(ctx, result)


__all__ = ["batch_inference_group", "batch_segment_group"]
