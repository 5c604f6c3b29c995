"""Batch inference and batch segment jobs, as a part of the Project facade.

A job reads Personalize's JSON Lines input (``batch_io.py``: file, folder, glob or SQL),
answers every record with a solution version (no campaign needed) and writes one output
line per record in Personalize's shape to ``<input>.out``; a record it cannot answer gets
an ``"error"`` on its line and the job goes on. Inference uses the serving engine (events
recorded after training count, unknown users get popular items); users without a filter,
exploration or per-line values are scored a block at a time (``Pipeline.recommend_batch``).
Segments use the USER_SEGMENTATION recipe's scorer on the data of the last training.

Lifecycle as Personalize's: ``CREATE PENDING -> CREATE IN_PROGRESS -> ACTIVE | CREATE FAILED``.
``wait=False`` runs the job on a background thread that ``describe_*`` can poll. A job
killed mid-run is taken up again by creating it again with the same name and settings.
"""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb

from . import batch_io
from .base import ProjectBase
from .batch_runs import SEGMENT_QUERIES, InferenceRun, SegmentRun
from .catalog import Record, check_name
from .configs import SUPPORTED, check_keys
from .connection import writes
from .errors import InvalidInput, PypersonalizeError, ResourceAlreadyExists, ResourceInUse
from .importer import duckdb_reason
from .numbers import finite
from .recipes import get_recipe
from .sqlkit import quote_ident, render
from .texts import text

INFERENCE, SEGMENT = "batch-inference-job", "batch-segment-job"
BLOCK = 2048                    # records scored and written (and synced) together
MAX_RESULTS = 500               # numResults of an inference job
MAX_SEGMENT_USERS = 5_000_000   # numResults of a segment job
NO_BATCH = {"aws-trending-now": "Trending-Now has no batch recommendations (as in Personalize)"}
ANALYST = {"outputTable": SUPPORTED, "outputParquet": SUPPORTED}    # ours, in either job config
INFERENCE_CONFIG = {"itemExplorationConfig": SUPPORTED, "rankingInfluence": SUPPORTED, **ANALYST}
SEGMENT_CONFIG = dict(ANALYST)
MODES = ("BATCH_INFERENCE", "THEME_GENERATION")

_RUNNING: dict[str, threading.Thread] = {}      # job ARN -> its thread, in this process
_RUNNING_LOCK = threading.Lock()


class BatchAPI(ProjectBase):
    """Mixed into :class:`pypersonalize.Project`."""

    # -- batch inference ------------------------------------------------------------

    def create_batch_inference_job(self, job_name: str, solution_version: str, job_input: Any, job_output: Any,
                                   num_results: int = 25, filter: str | None = None,
                                   batch_inference_job_config: dict | None = None,
                                   batch_inference_job_mode: str | None = None, role_arn: str | None = None,
                                   wait: bool = True) -> dict:
        """Recommendations for every record of ``job_input``, written to ``job_output``.

        >>> pp.create_batch_inference_job("nightly", version_arn, "users.jsonl", "out/")  # doctest: +SKIP
        {'batchInferenceJobArn': 'arn:aws:personalize:...:batch-inference-job/nightly'}
        """
        check_name(job_name, "batch inference job")
        version = self._batch_version(solution_version)
        recipe = get_recipe(version.config["recipe"])
        if recipe.segments:
            raise InvalidInput(f"{version.arn} is a {recipe.name} version: use create_batch_segment_job")
        if recipe.name in NO_BATCH:
            raise InvalidInput(NO_BATCH[recipe.name])
        mode = batch_inference_job_mode or "BATCH_INFERENCE"
        if mode not in MODES:
            raise InvalidInput(f"batch_inference_job_mode must be one of {', '.join(MODES)}, got {mode!r}")
        if mode == "THEME_GENERATION":
            raise InvalidInput("batch_inference_job_mode THEME_GENERATION is not supported yet")
        from .serving import check_exploration, check_ranking_influence
        config = check_keys(batch_inference_job_config, INFERENCE_CONFIG, "batch_inference_job_config")
        check_exploration(config)
        explore = config.get("itemExplorationConfig") or {}
        # weight 0 asks for no exploration, which is what every other recipe does anyway (as on campaigns)
        if explore and finite(explore.get("explorationWeight", 0.3), "explorationWeight") > 0 \
                and not recipe.explores:
            raise InvalidInput(f"itemExplorationConfig is for User-Personalization versions; {recipe.name} "
                               "does not explore")
        check_ranking_influence(config, recipe)
        n = _count(num_results, "num_results", MAX_RESULTS)
        settings = {"solutionVersionArn": version.arn, "numResults": n, "batchInferenceJobMode": mode,
                    "batchInferenceJobConfig": config, "roleArn": role_arn}
        return {"batchInferenceJobArn": self._batch_create(INFERENCE, job_name, version, job_input, job_output,
                                                          filter, settings, wait)}

    def describe_batch_inference_job(self, batch_inference_job: str) -> dict:
        return {"batchInferenceJob": self._batch_job_dict(self.catalog.get(INFERENCE, batch_inference_job))}

    def list_batch_inference_jobs(self, solution_version: str | None = None) -> dict:
        return {"batchInferenceJobs": self._batch_list(INFERENCE, solution_version)}

    # -- batch segments -------------------------------------------------------------

    def create_batch_segment_job(self, job_name: str, solution_version: str, job_input: Any, job_output: Any,
                                 num_results: int = 25, filter: str | None = None, role_arn: str | None = None,
                                 batch_segment_job_config: dict | None = None, wait: bool = True) -> dict:
        """User segments for the items (or item attributes) of ``job_input``.

        ``batch_segment_job_config`` is ours: ``outputTable`` / ``outputParquet`` for the rows
        ``(query, rank, user_id, score)``.

        >>> pp.create_batch_segment_job("fans", version_arn, "items.jsonl", "out/", num_results=100)  # doctest: +SKIP
        """
        check_name(job_name, "batch segment job")
        version = self._batch_version(solution_version)
        recipe = get_recipe(version.config["recipe"])
        if not recipe.segments:
            raise InvalidInput(f"{version.arn} is a {recipe.name} version; batch segment jobs need a "
                               "USER_SEGMENTATION version (aws-item-affinity, aws-item-attribute-affinity)")
        config = check_keys(batch_segment_job_config, SEGMENT_CONFIG, "batch_segment_job_config")
        n = _count(num_results, "num_results", MAX_SEGMENT_USERS)
        settings = {"solutionVersionArn": version.arn, "numResults": n, "batchSegmentJobConfig": config,
                    "roleArn": role_arn}
        return {"batchSegmentJobArn": self._batch_create(SEGMENT, job_name, version, job_input, job_output,
                                                        filter, settings, wait)}

    def describe_batch_segment_job(self, batch_segment_job: str) -> dict:
        return {"batchSegmentJob": self._batch_job_dict(self.catalog.get(SEGMENT, batch_segment_job))}

    def list_batch_segment_jobs(self, solution_version: str | None = None) -> dict:
        return {"batchSegmentJobs": self._batch_list(SEGMENT, solution_version)}

    # -- shared ---------------------------------------------------------------------

    def _batch_version(self, ref: str) -> Record:
        version = self.catalog.get("solution-version", text(ref, "solution_version"))
        if version.status != "ACTIVE":
            raise InvalidInput(f"solution version {version.arn} is {version.status}, not ACTIVE")
        return version

    def _batch_config(self, kind: str, settings: dict) -> dict:
        return settings["batchInferenceJobConfig" if kind == INFERENCE else "batchSegmentJobConfig"]

    def _batch_filter(self, kind: str, filter: str | None, version: Record) -> str | None:
        if filter is None:
            return None
        from .filter_parser import parse_filter
        rec = self.catalog.get("filter", text(filter, "filter"))
        if rec.dataset_group_arn != version.dataset_group_arn:
            raise InvalidInput(f"filter {rec.name!r} belongs to another dataset group than {version.arn}")
        if rec.status != "ACTIVE":
            raise InvalidInput(f"filter {rec.name!r} is {rec.status}: {rec.failure_reason or ''}".rstrip(": "))
        parsed = parse_filter(rec.config["filterExpression"])
        target = parsed.expressions[0].target
        want = "ItemID" if kind == INFERENCE else "UserID"
        if target != want:
            raise InvalidInput(f"filter {rec.name!r} selects {target}s; a {kind.replace('-', ' ')} needs a "
                               f"{want} filter")
        if version.config["recipe"] == "aws-item-attribute-affinity" and \
                any(e.dataset == "Interactions" for e in parsed.expressions):
            raise InvalidInput("Interactions filters cannot be used with Item-Attribute-Affinity (as in Personalize)")
        return rec.arn

    def _batch_analyst(self, config: dict) -> None:
        table = config.get("outputTable")
        if table is not None:
            parts = table.split(".") if isinstance(table, str) else []
            if not 1 <= len(parts) <= 2 or not all(batch_io._TABLE_NAME.match(p) for p in parts):
                raise InvalidInput(f"outputTable must be a table name like 'recs' or 'marketing.recs', got {table!r}")
            groups = {g.name.lower() for g in self.catalog.select("dataset-group")}
            catalogs = {d.lower() for (d,) in self.con.execute("SELECT database_name FROM duckdb_databases()").fetchall()}
            if len(parts) == 2 and parts[0].lower() in catalogs:
                raise InvalidInput(f"outputTable {table!r}: {parts[0]!r} is a database, not a schema; write "
                                   "'schema.table' or 'table'")
            if len(parts) == 2 and (parts[0].lower() == "pypersonalize" or parts[0].lower() in groups):
                raise InvalidInput(f"outputTable {table!r}: schema {parts[0]!r} holds pypersonalize's own tables; "
                                   "choose another")
            kind = self.con.execute(
                "SELECT table_type FROM information_schema.tables WHERE table_catalog = current_database() "
                "AND table_schema = $s AND table_name = $t",
                {"s": parts[0] if len(parts) == 2 else "main", "t": parts[-1]}).fetchall()
            if kind and kind[0][0] != "BASE TABLE":
                raise InvalidInput(f"outputTable {table!r} is a {kind[0][0].lower()}; a job replaces only tables")
        parquet = config.get("outputParquet")
        if parquet is not None:
            if not isinstance(parquet, (str, Path)) or not str(parquet).endswith(".parquet"):
                raise InvalidInput(f"outputParquet must be a path ending in .parquet, got {parquet!r}")
            if not Path(parquet).parent.is_dir():
                raise InvalidInput(f"outputParquet folder {Path(parquet).parent} does not exist")
            if Path(parquet).is_dir():
                raise InvalidInput(f"outputParquet {parquet} is a folder; give a file path")

    def _batch_create(self, kind, job_name, version, job_input, job_output, filter, settings, wait) -> str:
        if wait is not None and not isinstance(wait, bool):
            raise InvalidInput(f"wait must be true, false or None, got {wait!r}")
        for rec in self.catalog.select(kind, name=job_name):
            if rec.status not in ("CREATE PENDING", "CREATE IN_PROGRESS"):
                raise ResourceAlreadyExists(f"a {kind.replace('-', ' ')} named {job_name!r} already exists")
        settings["filterArn"] = self._batch_filter(kind, filter, version)
        self._batch_analyst(self._batch_config(kind, settings))
        sources = batch_io.resolve_input(job_input)
        outputs = batch_io.resolve_output(job_output, sources)
        limit = SEGMENT_QUERIES.get(version.config["recipe"]) if kind == SEGMENT else None
        for s in sources:
            if limit is not None and s.path is not None and _record_count(s.path) > limit:
                raise InvalidInput(f"{s.path} has more than {limit} records; a {version.config['recipe']} batch "
                                   f"segment job reads at most {limit} per input file (as in Personalize)")
        settings.update(jobInput=_jsonable(job_input), jobOutput=_jsonable(job_output),
                        sources=[{"name": s.name, "path": s.path, "sql": s.sql, "isTable": s.is_table,
                                  # a job taken up again must read the very same files
                                  "state": _file_state(s.path)} for s in sources],
                        outputs={k: str(v) for k, v in outputs.items()})
        for folder in {p.parent for p in outputs.values()}:
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise InvalidInput(f"job_output folder {folder} cannot be created: {exc.strerror}") from None
        arn = self._batch_record(kind, job_name, version, settings, claim=wait is not None)
        if wait is None:            # recorded only: creating it again runs it (the CLI's --background)
            return arn
        if wait:
            try:
                self._batch_run(kind, arn)
            finally:
                with _RUNNING_LOCK:
                    _RUNNING.pop(arn, None)
            return arn
        thread = threading.Thread(target=self._batch_background, args=(kind, arn), name=f"pp-{job_name}", daemon=True)
        thread.pp_project = self
        with _RUNNING_LOCK:
            _RUNNING[arn] = thread
        thread.start()
        return arn

    @writes
    def _batch_record(self, kind: str, job_name: str, version: Record, settings: dict, claim: bool) -> str:
        """The job's ARN, recorded as CREATE PENDING or found unfinished with the same settings
        (taken up); with ``claim`` this process runs it, so nobody else may meanwhile."""
        found = self.catalog.select(kind, name=job_name)
        what = kind.replace("-", " ")
        if found:
            rec = found[0]
            same = all(rec.config.get(k) == v for k, v in settings.items())
            unfinished = rec.status in ("CREATE PENDING", "CREATE IN_PROGRESS")
            if unfinished and same:
                with _RUNNING_LOCK:
                    if rec.arn in _RUNNING:
                        raise ResourceInUse(f"{what} {job_name!r} is running")
                    if claim:
                        _RUNNING[rec.arn] = None
                return rec.arn          # killed mid-run: taken up where it stopped
            if unfinished and all(rec.config.get(k) == v for k, v in settings.items() if k != "sources"):
                changed = [n["path"] or n["name"] for n, o in zip(settings["sources"], rec.config["sources"]) if n != o]
                raise InvalidInput(f"{what} {job_name!r} was stopped before it finished, and its input "
                                   f"{', '.join(changed) or 'files'} changed since: restore them to take it up, or "
                                   "give the job another name")
            raise ResourceAlreadyExists(f"a {what} named {job_name!r} already exists"
                                        + (" (unfinished, with other settings: create it again with the same "
                                           "settings to take it up)" if unfinished else ""))
        arn = self.catalog.arn(kind, job_name)
        with self._transaction():
            self.catalog.add(arn=arn, kind=kind, name=job_name, dataset_group_arn=version.dataset_group_arn,
                             parent_arn=version.arn, config={**settings, "finished": []}, status="CREATE PENDING")
        if claim:
            with _RUNNING_LOCK:
                _RUNNING[arn] = None
        return arn

    def _batch_background(self, kind: str, arn: str) -> None:
        try:
            self._batch_run(kind, arn)
        except Exception:       # noqa: BLE001 - recorded as CREATE FAILED; the thread has nobody to tell
            pass
        finally:
            with _RUNNING_LOCK:
                _RUNNING.pop(arn, None)

    def _wait_for_jobs(self) -> None:
        """Closing the project waits for the jobs it runs in the background."""
        with _RUNNING_LOCK:
            mine = [t for t in _RUNNING.values() if t is not None and getattr(t, "pp_project", None) is self]
        for thread in mine:
            thread.join()

    def _batch_set(self, arn: str, kind: str, **changes) -> Record:
        with self._connections.write_lock:
            rec = self.catalog.get(kind, arn)
            config = changes.pop("config", None)
            with self._transaction(changes=False):
                self.catalog.update(rec, config={**rec.config, **(config or {})} if config else None, **changes)
            return self.catalog.get(kind, arn)

    def _batch_status(self, rec: Record, done: int | None = None, force: bool = False) -> None:
        """The job's status file (read by the CLI's describe while this process holds the file)."""
        if self.path == ":memory:" or (not force and time.monotonic() - getattr(self, "_status_at", 0.0) < 1.0):
            return
        self._status_at = time.monotonic()
        body = self._batch_job_dict(rec)
        if done is not None:
            body["recordsDone"] = done
        target = status_path(self.path, rec.arn)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(body, default=str))
        os.replace(tmp, target)

    def _batch_run(self, kind: str, arn: str) -> None:
        rec = self._batch_set(arn, kind, status="CREATE IN_PROGRESS")
        self._batch_status(rec, 0, force=True)
        token = batch_io.job_token(arn)
        runner = None
        try:
            runner = (InferenceRun if kind == INFERENCE else SegmentRun)(self, rec)
            for s in rec.config["sources"]:
                if s["name"] in rec.config["finished"]:
                    continue
                self._batch_source(runner, rec, batch_io.Source(s["name"], s["path"], s["sql"], s["isTable"]), token)
                rec = self._batch_set(arn, kind, config={"finished": rec.config["finished"] + [s["name"]]})
            counts = self._batch_finish(kind, rec, token)
            self._batch_status(self._batch_set(arn, kind, status="ACTIVE", config=counts), force=True)
        except (PypersonalizeError, OSError, ValueError, MemoryError, duckdb.Error) as exc:
            self._batch_clean(rec, token)
            reason = " ".join(str(exc).split()) or type(exc).__name__
            self._batch_status(self._batch_set(arn, kind, status="CREATE FAILED", failure_reason=reason),
                               force=True)
            if isinstance(exc, PypersonalizeError):
                raise
            raise PypersonalizeError(f"batch job {rec.name!r} failed: {reason}") from None
        finally:
            if runner is not None:
                runner.close()

    def _batch_source(self, runner, rec: Record, source: batch_io.Source, token: str) -> None:
        final = Path(rec.config["outputs"][source.name])
        final.parent.mkdir(parents=True, exist_ok=True)
        path = source.path
        if path is None:            # a query or table: its rows, once, as a file
            path = batch_io.snapshot_path(final, token)
            if not path.exists():
                from .importer import Part as ImportPart
                from .importer import _query, _table
                relation = _table(self.con, ImportPart("table", source.sql, obj=source.sql)) if source.is_table \
                    else _query(self.con, source.sql)
                try:
                    batch_io.write_snapshot(self.con, source, path, relation)
                except duckdb.Error as exc:
                    raise InvalidInput(f"job_input {source.label} failed: {duckdb_reason(exc)}") from None
        limit = getattr(runner, "limit", None)
        if limit is not None and _record_count(path) > limit:
            raise InvalidInput(f"{source.label} has more than {limit} records; a {runner.recipe.name} batch segment "
                               f"job reads at most {limit} per input (as in Personalize)")
        out = batch_io.Writer(batch_io.partial_path(final, token), final)
        rows = batch_io.Writer(batch_io.rows_path(final, token), batch_io.rows_path(final, token)) \
            if runner.analyst else None
        try:
            done = batch_io.align(out.partial, rows.partial if rows else None)
            total = _record_count(path) if self.progress.enabled else 0   # a second read only to draw progress
            counter = self.progress.counter(f"{rec.name}: {Path(str(source.label)).name}", total)
            counter.add(done)
            # the next block is scored (numpy, GIL released) while this one is written (Python)
            with ThreadPoolExecutor(1, thread_name_prefix="pp-batch") as pool:
                pending = None
                for block in _blocks(batch_io.records(path, skip=done)):
                    scoring = pool.submit(runner.score, block)
                    if pending is not None:
                        runner.emit(pending[0], pending[1].result(), out, rows)
                        counter.add(len(pending[0]))
                        self._batch_status(rec, counter.done)
                    pending = (block, scoring)
                if pending is not None:
                    runner.emit(pending[0], pending[1].result(), out, rows)
                    counter.add(len(pending[0]))
            counter.close()
            if rows:
                rows.flush()
            out.finish()
        finally:
            out.close()
            if rows:
                rows.close()
        if source.path is None:
            path.unlink(missing_ok=True)

    def _batch_finish(self, kind: str, rec: Record, token: str) -> dict:
        """Counts from the output files, and the analyst table / Parquet file from the rows."""
        finals = [Path(p) for p in rec.config["outputs"].values()]
        ok = failed = 0
        for path in finals:
            with open(path, "rb") as handle:
                for line in handle:
                    if line.endswith(b',"error":null}\n'):
                        ok += 1
                    else:
                        failed += 1
        config = self._batch_config(kind, rec.config)
        rows = [batch_io.rows_path(p, token) for p in finals]
        if config.get("outputTable") or config.get("outputParquet"):
            sql = render("batch/analyst_rows.sql", segment=kind == SEGMENT)
            params = {"files": [str(p) for p in rows]}
            with self._connections.write_lock, self._transaction(changes=False):
                if config.get("outputTable"):
                    parts = config["outputTable"].split(".")
                    if len(parts) == 2:
                        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(parts[0])}")
                    name = ".".join(quote_ident(p) for p in parts)
                    self.con.execute(f"CREATE OR REPLACE TABLE {name} AS {sql}", params)
                if config.get("outputParquet"):
                    target = Path(config["outputParquet"])
                    tmp = target.with_name(f".{target.name}.{token}.tmp")
                    try:
                        self.con.sql(sql, params=params).write_parquet(str(tmp))     # the path is never SQL text
                        os.replace(tmp, target)
                    finally:
                        tmp.unlink(missing_ok=True)
        for p in rows:
            p.unlink(missing_ok=True)
        return {"recordsProcessed": ok + failed, "recordsSucceeded": ok, "recordsFailed": failed}

    def _batch_clean(self, rec: Record, token: str) -> None:
        """A failed job leaves nothing behind: its partial, row and snapshot files, and its outputs."""
        for name, out in rec.config["outputs"].items():
            final = Path(out)
            for p in (batch_io.partial_path(final, token), batch_io.rows_path(final, token),
                      batch_io.snapshot_path(final, token)):
                p.unlink(missing_ok=True)
            if name in rec.config.get("finished", []):
                final.unlink(missing_ok=True)

    def _batch_list(self, kind: str, solution_version: str | None) -> list[dict]:
        parent = self.catalog.get("solution-version", solution_version).arn if solution_version else None
        return [self._batch_summary(kind, r) for r in self.catalog.select(kind, parent_arn=parent)]

    @staticmethod
    def _batch_summary(kind: str, rec: Record) -> dict:
        key = "batchInferenceJobArn" if kind == INFERENCE else "batchSegmentJobArn"
        out = {key: rec.arn, "jobName": rec.name, "status": rec.status, "solutionVersionArn": rec.parent_arn,
               "creationDateTime": rec.created_at, "lastUpdatedDateTime": rec.updated_at}
        if rec.failure_reason:
            out["failureReason"] = rec.failure_reason
        if kind == INFERENCE:
            out["batchInferenceJobMode"] = rec.config.get("batchInferenceJobMode")
        return out

    def _batch_job_dict(self, rec: Record) -> dict:
        c = rec.config
        out = self._batch_summary(rec.kind, rec)
        out.update(filterArn=c.get("filterArn"), numResults=c["numResults"],
                   jobInput={"s3DataSource": {"path": _shown(c["jobInput"])}},
                   jobOutput={"s3DataDestination": {"path": _shown(c["jobOutput"])}})
        if c.get("roleArn"):
            out["roleArn"] = c["roleArn"]
        if rec.kind == INFERENCE:
            out["batchInferenceJobConfig"] = c["batchInferenceJobConfig"]
        else:
            out["batchSegmentJobConfig"] = c["batchSegmentJobConfig"]
        for key in ("recordsProcessed", "recordsSucceeded", "recordsFailed"):
            if key in c:
                out[key] = c[key]
        out["outputFiles"] = list(c["outputs"].values())
        return out


def status_path(db: str, arn: str) -> Path:
    """Where a job's status file lives: beside the project file, by job kind and name."""
    db_path = Path(db)
    kind, name = arn.rsplit(":", 1)[-1].split("/", 1)
    return db_path.parent / f".{db_path.name}.jobs" / f"{kind}-{name}.json"


def read_status(db: str, kind: str, job: str) -> dict | None:
    """The last status a job's process wrote, or None."""
    name = job.rsplit("/", 1)[-1]
    path = status_path(db, f"x:{kind}/{name}")
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return {**found, "note": "the project file is held by the job's process; this is its status file"}


def _file_state(path: str | None) -> list | None:
    if path is None:
        return None
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


def _blocks(records):
    block: list = []
    for record in records:
        block.append(record)
        if len(block) >= BLOCK:
            yield block
            block = []
    if block:
        yield block


def _count(value, what: str, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise InvalidInput(f"{what} must be an integer from 1 to {high:,}, got {value!r}")
    return value


def _record_count(path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for line in handle if line.strip())


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        for key in ("s3DataSource", "s3DataDestination"):
            if key in value:
                return str(value[key]["path"])
        return value["sql"] if "sql" in value else f"table {value.get('table')}"
    return str(value)


__all__ = ["BatchAPI", "status_path", "read_status"]
