"""Dataset groups, schemas, datasets and import jobs, as a part of the :class:`Project` facade.

A dataset group is a DuckDB schema of the group's name holding its ``interactions``,
``items`` and ``users`` tables (typed from their Personalize schemas) and the dense id maps.
An import stages, validates and loads in one transaction (``importer.py``); a failed one
leaves the dataset exactly as it was and is recorded as a ``CREATE FAILED`` job.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import duckdb

from . import datacheck, domains, importer
from .base import ProjectBase
from .catalog import Record, check_name
from .connection import PROJECT_CATALOG, writes
from .errors import DataImportError, InvalidInput, PypersonalizeError, ResourceAlreadyExists, ResourceInUse
from .numbers import finite
from .recipes.user_personalization import user_attribute_fields
from .schemas import check_evolution, load_schema_text, parse_schema
from .sqlkit import execute_all, one, quote_ident, render, statements

IMPORT_MODES = ("FULL", "INCREMENTAL")
# Names DuckDB or the catalog already use; a dataset group becomes a DuckDB schema.
_RESERVED_SCHEMAS = {"main", "pypersonalize", "information_schema", "pg_catalog", "temp",
                     "system", "memory", PROJECT_CATALOG}
TABLE_OF = {"Interactions": "interactions", "Items": "items", "Users": "users"}


class DatasetsAPI(ProjectBase):
    """Mixed into :class:`pypersonalize.Project`."""

    # -- dataset groups -------------------------------------------------------------

    @writes
    def create_dataset_group(self, name: str, domain: str | None = None) -> dict:
        """Create a dataset group, custom or of domain ``VIDEO_ON_DEMAND`` / ``ECOMMERCE``."""
        check_name(name, "dataset group")
        domain = domains.normalize_domain(domain)
        if name.lower() in _RESERVED_SCHEMAS:
            raise InvalidInput(f"dataset group name {name!r} is reserved; choose another")
        stem = Path(self.path).name.split(".")[0]
        if self.path != ":memory:" and name.lower() == stem.lower():
            raise InvalidInput(
                f"dataset group name {name!r} is the project file's own name ({Path(self.path).name}): "
                f"in a DuckDB client {name}.interactions would be ambiguous; choose another "
                "group name or file name")
        for other in self.catalog.select("dataset-group"):
            if other.name.lower() == name.lower():
                raise ResourceAlreadyExists(
                    f"dataset group {other.name!r} already exists" +
                    ("" if other.name == name else " (names may not differ only in case: each "
                     "dataset group is a DuckDB schema)"))
        taken = self.con.execute("SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database() "
                                 "AND lower(schema_name) = lower($n)", {"n": name}).fetchall()
        if taken:
            raise ResourceAlreadyExists(f"the project file already has a schema {taken[0][0]!r} (e.g. a batch job's "
                                        "outputTable); a dataset group is a schema of its name: choose another")
        arn = self.catalog.arn("dataset-group", name)
        with self._transaction():
            for statement in statements(render("datasets/create_group.sql", schema_name=name)):
                self.con.execute(statement)
            self.catalog.add(arn=arn, kind="dataset-group", name=name, config={"domain": domain})
        return {"datasetGroupArn": arn, **({"domain": domain} if domain else {})}

    def _refresh_interactions_view(self) -> None:
        groups, users = [], []
        existing = self._existing_tables()
        for ds in self.catalog.select("dataset"):
            group = self.catalog.get("dataset-group", ds.dataset_group_arn)
            if (group.name, TABLE_OF[ds.config["datasetType"]]) not in existing:
                continue        # dropped behind our back: describe/delete still work
            schema = self._parsed(self.catalog.get("schema", ds.config["schemaArn"]))
            if ds.config["datasetType"] == "Interactions":
                groups.append({"name": group.name, "has_event_type": schema.field("EVENT_TYPE") is not None,
                               "has_impression": schema.field("IMPRESSION") is not None,
                               "has_recommendation_id": schema.field("RECOMMENDATION_ID") is not None})
            elif ds.config["datasetType"] == "Users":
                users.append({"name": group.name, "fields": user_attribute_fields(schema)})
        execute_all(self.con, render("serving/interactions_view.sql", groups=groups, users=users))

    def _existing_tables(self) -> set[tuple[str, str]]:
        return set(self.con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database()"
        ).fetchall())

    def describe_dataset_group(self, dataset_group: str) -> dict:
        rec = self.catalog.get("dataset-group", dataset_group)
        return {"datasetGroup": self._group_dict(rec)}

    def list_dataset_groups(self) -> dict:
        return {"datasetGroups": [self._group_dict(r) for r in self.catalog.select("dataset-group")]}

    @writes
    def delete_dataset_group(self, dataset_group: str) -> None:
        """Delete an empty dataset group; refused while it still holds datasets."""
        rec = self.catalog.get("dataset-group", dataset_group)
        children = [r for kind in ("solution", "recommender", "filter", "event-tracker", "dataset")
                    for r in self.catalog.select(kind, dataset_group_arn=rec.arn)]
        if children:
            raise ResourceInUse(f"dataset group {rec.name!r} still holds "
                                f"{', '.join(f'{c.kind} {c.name}' for c in children)}; delete them first")
        with self._transaction():
            self.con.execute(f"DROP SCHEMA {quote_ident(rec.name)} CASCADE")
            self._data_changed(rec.name)
            self.con.execute("DELETE FROM pypersonalize.recommendation_log WHERE dataset_group = $g",
                             {"g": rec.name})
            self.catalog.remove(rec)

    @staticmethod
    def _group_dict(rec: Record) -> dict:
        out = {"name": rec.name, "datasetGroupArn": rec.arn, "status": rec.status,
               "creationDateTime": rec.created_at, "lastUpdatedDateTime": rec.updated_at}
        if rec.config.get("domain"):
            out["domain"] = rec.config["domain"]
        return out

    def validate_dataset_group(self, dataset_group: str, *, event_type: str | None = None,
                               event_value_threshold: float | None = None) -> dict:
        """Check Personalize's minimum data requirements; report counts and problems."""
        rec = self.catalog.get("dataset-group", dataset_group)
        if event_value_threshold is not None:
            event_value_threshold = finite(event_value_threshold, "event_value_threshold")
        report = datacheck.requirements(self.con, rec.name, self._schemas_of(rec),
                                        rec.config.get("domain"), event_type, event_value_threshold)
        return {"datasetGroupArn": rec.arn, **report}

    # -- schemas --------------------------------------------------------------------

    @writes
    def create_schema(self, name: str, schema: str | dict | Path, domain: str | None = None) -> dict:
        """Store a Personalize schema JSON (text, dict or file path) after validating it."""
        check_name(name, "schema")
        domain = domains.normalize_domain(domain)
        text = load_schema_text(schema)
        parsed = parse_schema(text, domain=domain)
        if self.catalog.select("schema", name=name):
            raise ResourceAlreadyExists(f"schema {name!r} already exists")
        arn = self.catalog.arn("schema", name)
        self.catalog.add(arn=arn, kind="schema", name=name,
                         config={"schema": text, "domain": domain,
                                 "datasetType": parsed.dataset_type})
        return {"schemaArn": arn}

    def describe_schema(self, schema: str) -> dict:
        return {"schema": self._schema_dict(self.catalog.get("schema", schema))}

    def list_schemas(self) -> dict:
        return {"schemas": [self._schema_dict(r) for r in self.catalog.select("schema")]}

    @writes
    def delete_schema(self, schema: str) -> None:
        rec = self.catalog.get("schema", schema)
        users = [d.name for d in self.catalog.select("dataset") if d.config["schemaArn"] == rec.arn]
        if users:
            raise ResourceInUse(f"schema {rec.name!r} is used by dataset(s) {', '.join(users)}")
        self.catalog.remove(rec)

    @staticmethod
    def _schema_dict(rec: Record) -> dict:
        out = {"name": rec.name, "schemaArn": rec.arn, "schema": rec.config["schema"],
               "creationDateTime": rec.created_at, "lastUpdatedDateTime": rec.updated_at}
        if rec.config.get("domain"):
            out["domain"] = rec.config["domain"]
        return out

    # -- datasets -------------------------------------------------------------------

    @writes
    def create_dataset(self, name: str, dataset_group: str, dataset_type: str, schema: str) -> dict:
        """Create the ``dataset_type`` dataset of a group as a table typed by ``schema``."""
        check_name(name, "dataset")
        group = self.catalog.get("dataset-group", dataset_group)
        dtype = domains.normalize_dataset_type(dataset_type)
        schema_rec = self.catalog.get("schema", schema)
        parsed = self._parsed(schema_rec)
        if parsed.dataset_type != dtype:
            raise InvalidInput(f"schema {schema_rec.name!r} describes {parsed.dataset_type}, "
                               f"not {dtype}")
        group_domain = group.config.get("domain")
        if schema_rec.config.get("domain") != group_domain:
            raise InvalidInput(
                f"schema {schema_rec.name!r} was created for "
                f"{schema_rec.config.get('domain') or 'custom dataset groups'} but dataset group "
                f"{group.name!r} is {group_domain or 'custom'}; create the schema with "
                f"domain={group_domain!r}")
        arn = self.catalog.arn("dataset", group.name, dtype.upper())
        if self.catalog.select("dataset", arn=arn):
            raise ResourceAlreadyExists(f"dataset group {group.name!r} already has an {dtype} dataset")
        with self._transaction():
            self.con.execute(render("datasets/create_table.sql", schema_name=group.name,
                                    table=TABLE_OF[dtype], fields=parsed.fields))
            self.catalog.add(arn=arn, kind="dataset", name=name, dataset_group_arn=group.arn,
                             config={"datasetType": dtype, "schemaArn": schema_rec.arn})
            self._refresh_interactions_view()
            self._data_changed(group.name)
        return {"datasetArn": arn}

    def _dataset(self, dataset: str, dataset_group: str | None = None) -> Record:
        group_arn = None
        if dataset_group is not None:
            group = self.catalog.get("dataset-group", dataset_group)
            group_arn = group.arn
            if isinstance(dataset, str) and not dataset.startswith("arn:"):
                try:
                    dtype = domains.normalize_dataset_type(dataset)
                    return self.catalog.get("dataset", self.catalog.arn("dataset", group.name, dtype.upper()))
                except PypersonalizeError:
                    pass
        return self.catalog.get("dataset", dataset, dataset_group_arn=group_arn)

    def describe_dataset(self, dataset: str, dataset_group: str | None = None) -> dict:
        """Describe a dataset, given by ARN, by name, or by type with ``dataset_group``."""
        return {"dataset": self._dataset_dict(self._dataset(dataset, dataset_group))}

    def list_datasets(self, dataset_group: str | None = None) -> dict:
        group_arn = self.catalog.get("dataset-group", dataset_group).arn if dataset_group else None
        return {"datasets": [self._dataset_dict(r)
                             for r in self.catalog.select("dataset", dataset_group_arn=group_arn)]}

    @writes
    def delete_dataset(self, dataset: str, dataset_group: str | None = None) -> None:
        rec = self._dataset(dataset, dataset_group)
        group = self.catalog.get("dataset-group", rec.dataset_group_arn)
        if rec.config["datasetType"] == "Interactions":
            users = [r for kind in ("solution", "recommender")
                     for r in self.catalog.select(kind, dataset_group_arn=group.arn)]
            if users:
                raise ResourceInUse(f"the Interactions dataset of {group.name!r} is used by "
                                    f"{', '.join(f'{u.kind} {u.name}' for u in users)}")
        with self._transaction():
            self.con.execute(f"DROP TABLE IF EXISTS {quote_ident(group.name)}."
                             f"{quote_ident(TABLE_OF[rec.config['datasetType']])}")
            for job in self.catalog.select("dataset-import-job", parent_arn=rec.arn):
                self.catalog.remove(job)
            self.catalog.remove(rec)
            self._refresh_interactions_view()
            self._refresh_filter_macros()      # refuses the delete if a filter reads it
            self._data_changed(group.name)

    @writes
    def update_dataset(self, dataset: str, schema: str, dataset_group: str | None = None) -> dict:
        """Replace an Items/Users schema by one that only adds nullable fields."""
        rec = self._dataset(dataset, dataset_group)
        group = self.catalog.get("dataset-group", rec.dataset_group_arn)
        old_rec = self.catalog.get("schema", rec.config["schemaArn"])
        new_rec = self.catalog.get("schema", schema)
        if new_rec.config.get("domain") != old_rec.config.get("domain"):
            raise InvalidInput(f"schema {new_rec.name!r} is for "
                               f"{new_rec.config.get('domain') or 'custom'} dataset groups, "
                               f"the dataset's group is {group.config.get('domain') or 'custom'}")
        old, new = self._parsed(old_rec), self._parsed(new_rec)
        check_evolution(old, new)
        table = f"{quote_ident(group.name)}.{quote_ident(TABLE_OF[rec.config['datasetType']])}"
        with self._transaction():
            for f in new.fields:
                if old.field(f.name) is None:
                    self.con.execute(f"ALTER TABLE {table} ADD COLUMN {quote_ident(f.name)} {f.sql_type}")
            self.catalog.update(rec, config={**rec.config, "schemaArn": new_rec.arn})
            self._refresh_interactions_view()      # new fields may be new attributes
            self._refresh_filter_macros()          # refuses a change that breaks a filter
            self._data_changed(group.name)
        return {"datasetArn": rec.arn}

    def _dataset_dict(self, rec: Record) -> dict:
        group = self.catalog.get("dataset-group", rec.dataset_group_arn)
        name = TABLE_OF[rec.config["datasetType"]]
        out = {"name": rec.name, "datasetArn": rec.arn, "datasetGroupArn": rec.dataset_group_arn,
               "datasetType": rec.config["datasetType"].upper(), "schemaArn": rec.config["schemaArn"],
               "status": rec.status, "creationDateTime": rec.created_at,
               "lastUpdatedDateTime": rec.updated_at, "tableName": f"{group.name}.{name}"}
        if (group.name, name) not in self._existing_tables():
            out.update(status="FAILED", failureReason=f"table {group.name}.{name} is missing (dropped "
                       "outside pypersonalize); delete the dataset and create it again")
            return out
        out["rowCount"] = one(self.con.execute(f"SELECT count(*) FROM {quote_ident(group.name)}."
                                               f"{quote_ident(name)}"))[0]
        return out

    # -- import jobs ----------------------------------------------------------------

    @writes
    def create_dataset_import_job(self, dataset: str, data_source: Any, job_name: str | None = None,
                                  import_mode: str = "FULL", data_format: str | None = None,
                                  dataset_group: str | None = None) -> dict:
        """Import ``data_source`` (path, glob, folder, DataFrame, table or SELECT) atomically.

        ``FULL`` replaces the dataset; ``INCREMENTAL`` appends interactions and replaces
        items/users with the same id. A bad row raises :class:`DataImportError` naming the
        file, row and column; the dataset is then exactly as before and the job is
        recorded as ``CREATE FAILED``.
        """
        mode = str(import_mode).upper()
        if mode not in IMPORT_MODES:
            raise InvalidInput(f"unknown import_mode {import_mode!r}; expected FULL or INCREMENTAL")
        rec = self._dataset(dataset, dataset_group)
        group = self.catalog.get("dataset-group", rec.dataset_group_arn)
        dtype = rec.config["datasetType"]
        if job_name is None:
            existing = len(self.catalog.select("dataset-import-job", parent_arn=rec.arn))
            job_name = f"{group.name}-{dtype.lower()}-{existing + 1}"
        check_name(job_name, "dataset import job")
        if self.catalog.select("dataset-import-job", name=job_name):
            raise ResourceAlreadyExists(f"dataset import job {job_name!r} already exists")
        arn = self.catalog.arn("dataset-import-job", job_name)
        schema = self._parsed(self.catalog.get("schema", rec.config["schemaArn"]))
        config = {"dataSource": {"dataLocation": importer.describe_source(data_source)},
                  "importMode": mode, "datasetType": dtype}
        start = time.perf_counter()
        try:
            parts = importer.resolve_source(data_source, data_format)
            with self._transaction():
                with self.progress.bar(f"staging {dtype.lower()} from {config['dataSource']['dataLocation']}"):
                    staged = importer.stage(self.con, schema, parts)
                self.progress.step(f"validating {staged.rows:,} rows")
                importer.validate(self.con, schema, staged)
                with self.progress.bar(f"loading {staged.rows:,} rows ({mode})"):
                    importer.load(self.con, schema, group.name, TABLE_OF[dtype], mode)
                importer.drop_stage(self.con)
                config.update(rowCount=staged.rows, files=len(parts),
                              durationSeconds=round(time.perf_counter() - start, 3))
                self.catalog.add(arn=arn, kind="dataset-import-job", name=job_name,
                                 dataset_group_arn=group.arn, parent_arn=rec.arn, config=config)
                self._data_changed(group.name)
        except DataImportError as exc:
            exc.job_arn = arn
            self._record_failed_job(arn, job_name, group, rec, config, str(exc))
            raise
        except duckdb.Error as exc:       # a safety net: the importer converts its own errors
            message = importer.duckdb_reason(exc)
            self._record_failed_job(arn, job_name, group, rec, config, message)
            raise DataImportError(message, job_arn=arn) from None
        self.progress.step(f"imported {staged.rows:,} rows into {group.name}.{TABLE_OF[dtype]}")
        return {"datasetImportJobArn": arn}

    def _record_failed_job(self, arn, job_name, group, rec, config, reason) -> None:
        importer.drop_stage(self.con)
        self.catalog.add(arn=arn, kind="dataset-import-job", name=job_name,
                         dataset_group_arn=group.arn, parent_arn=rec.arn, config=config,
                         status="CREATE FAILED", failure_reason=reason)

    def describe_dataset_import_job(self, dataset_import_job: str) -> dict:
        return {"datasetImportJob": self._job_dict(self.catalog.get("dataset-import-job",
                                                                    dataset_import_job))}

    def list_dataset_import_jobs(self, dataset: str | None = None,
                                 dataset_group: str | None = None) -> dict:
        parent = self._dataset(dataset, dataset_group).arn if dataset else None
        group_arn = (self.catalog.get("dataset-group", dataset_group).arn
                     if dataset_group and not dataset else None)
        jobs = self.catalog.select("dataset-import-job", parent_arn=parent, dataset_group_arn=group_arn)
        return {"datasetImportJobs": [self._job_dict(j) for j in jobs]}

    @staticmethod
    def _job_dict(rec: Record) -> dict:
        out = {"jobName": rec.name, "datasetImportJobArn": rec.arn, "datasetArn": rec.parent_arn,
               "dataSource": rec.config["dataSource"], "importMode": rec.config["importMode"],
               "status": rec.status, "creationDateTime": rec.created_at,
               "lastUpdatedDateTime": rec.updated_at}
        for key in ("rowCount", "files", "durationSeconds"):
            if key in rec.config:
                out[key] = rec.config[key]
        if rec.failure_reason:
            out["failureReason"] = rec.failure_reason
        return out


__all__ = ["DatasetsAPI", "IMPORT_MODES", "TABLE_OF"]
