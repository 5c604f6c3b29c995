"""What the parts of :class:`pypersonalize.Project` share: the contract they reach through ``self``.

``Project`` (``project.py``) is composed of parts, one module each (datasets, solutions,
training, serving, refresh, personal, events, filters). Every part inherits
:class:`ProjectBase`, so what one part uses of another is declared here once: the state the
facade sets up, the schema lookup every part needs (implemented here), and the members one
part implements and others call (declared here with :func:`provided_by`, implemented once in
the part named). ``Project`` lists ``ProjectBase`` last among its bases, so a part's
implementation always comes before the declaration in the method order.
"""

from __future__ import annotations

import functools
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from .errors import InvalidInput
from .schemas import Schema, parse_schema

if TYPE_CHECKING:
    import duckdb

    from .catalog import Catalog, Record
    from .connection import Connections
    from .engine import EngineState, Pipeline
    from .filters import RequestFilter
    from .progress import Progress


def provided_by(part: str):
    """Declare a member that ``part`` implements and other parts call (the body is the docs)."""
    def declare(stub):
        @functools.wraps(stub)
        def missing(self, *args, **kwargs):
            raise NotImplementedError(f"{stub.__name__} is implemented by {part}, which "
                                      f"{type(self).__name__} does not include")
        missing.provided_by = part
        return missing
    return declare


class ProjectBase:
    """The state and members every part of :class:`pypersonalize.Project` may use."""

    path: str
    """The project file's path (``:memory:`` for an in-memory project)."""
    read_only: bool
    """Opened read-only: every change is refused (``_check_writable``)."""
    catalog: Catalog
    """The object records (``pypersonalize.objects``) and settings, over the calling thread's cursor."""
    progress: Progress
    """Step lines and DuckDB's progress bar (only on a terminal, not ``--quiet``)."""
    engine: Pipeline
    """The serving engine's request pipeline for this project (answers from memory)."""
    _engine: EngineState
    """The serving engine's state, shared by every Project open on the same file in this process."""
    _connections: Connections
    """A cursor per thread over the one DuckDB connection, and the single writer's lock."""

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The calling thread's DuckDB connection (each thread gets its own cursor)."""
        return self._connections.current()

    def _check_writable(self) -> None:
        """Refuse a change on a read-only project (``@writes`` and ``_transaction`` call it)."""
        if self.read_only:
            raise InvalidInput(f"project {self.path} is open read-only; open it without "
                               "read_only (CLI: without --read-only) to change it")

    # -- schema lookup --------------------------------------------------------------

    def _parsed(self, schema_rec: Record) -> Schema:
        """A schema record's Avro JSON as a :class:`Schema`."""
        return parse_schema(schema_rec.config["schema"], domain=schema_rec.config.get("domain"))

    def _schemas_of(self, group: Record) -> dict[str, Schema]:
        """A dataset group's schemas by dataset type (``Interactions``, ``Items``, ``Users``)."""
        out = {}
        for ds in self.catalog.select("dataset", dataset_group_arn=group.arn):
            out[ds.config["datasetType"]] = self._parsed(self.catalog.get("schema", ds.config["schemaArn"]))
        return out

    # -- the facade (project.py) ----------------------------------------------------

    @provided_by("Project")
    def _transaction(self, changes: bool = True) -> AbstractContextManager[None]:
        """One writer's transaction (joining an open one); ``changes``: the engine re-reads endpoints."""

    @provided_by("Project")
    def _data_changed(self, group: str | None = None) -> None:
        """A group's datasets changed: the engine re-reads its histories when the transaction ends."""

    @provided_by("Project")
    def _create_pipeline_macro(self) -> None:
        """Re-create ``pp_recommend`` after endpoints changed (it names each recipe's endpoints)."""

    # -- training (training.py) -----------------------------------------------------

    @provided_by("TrainingAPI")
    def _train(self, *, owner: Record, group: Record, recipe_name: str, hyperparameters: dict,
               event_type, threshold, mode: str, session_gap: int | None = None,
               base_version: str | None = None) -> str:
        """Train a new version of ``owner`` (solution or recommender); its ARN, or raise after recording the failure."""

    @provided_by("TrainingAPI")
    def _data_state(self, group: Record) -> dict:
        """What a model is trained on (interaction count, import jobs): tells whether the data changed."""

    @provided_by("TrainingAPI")
    def _drop_model_rows(self, version_arn: str) -> None:
        """Delete a version's model rows and forget it in the engine."""

    # -- solutions (solutions.py) ---------------------------------------------------

    @provided_by("SolutionsAPI")
    def _check_event_fields(self, group: Record, event_type, threshold) -> None:
        """Refuse an event type or value threshold the group's Interactions schema cannot give."""

    # -- serving (serving.py) -------------------------------------------------------

    @provided_by("ServingAPI")
    def _point(self, name, arn, kind, version: Record, *, exclude, requires=None) -> None:
        """Make the endpoint ``name`` (campaign or recommender) serve ``version``."""

    @provided_by("ServingAPI")
    def update_campaign(self, campaign: str, solution_version: str | None = None,
                        min_provisioned_tps: int | None = None,
                        campaign_config: dict | None = None) -> dict:
        """Switch a campaign to another version of its solution, atomically."""

    @provided_by("ServingAPI")
    def describe_recommender(self, recommender: str) -> dict:
        """A recommender's description, with its model version and staleness."""

    # -- refresh (refresh.py) -------------------------------------------------------

    @provided_by("RefreshAPI")
    def _retrain_recommender(self, rec: Record) -> str:
        """Train a recommender's new model and serve it (dropping the old one's rows); the version ARN."""

    @provided_by("RefreshAPI")
    def _staleness(self, rec: Record, version: Record) -> tuple[bool, list[str]]:
        """Whether a recommender's model is stale, and why (data changed, interval passed)."""

    # -- filters (filters.py) -------------------------------------------------------

    @provided_by("FiltersAPI")
    def _refresh_filter_macros(self, *, strict: bool = True) -> None:
        """Rebuild every filter's SQL macro; ``strict``: a filter that no longer builds stops the change."""

    @provided_by("FiltersAPI")
    def _filter_request(self, filter_ref: str, group_name: str, filter_values, candidate: str,
                        prefix: str = "p", related: bool = False) -> RequestFilter:
        """A request's filter compiled for the serving engine (``engine.Pipeline`` calls it)."""


    @provided_by("BatchAPI")
    def _wait_for_jobs(self) -> None:
        """Wait for the batch jobs this project runs on background threads (``close`` calls it)."""


__all__ = ["ProjectBase", "provided_by"]
