"""The Project: one DuckDB file holding a whole pypersonalize service.

Method names are those of boto3's Personalize client in snake_case, results are plain
dicts shaped like Personalize's responses, and objects may be given by name or ARN.

>>> import pypersonalize
>>> with pypersonalize.open(":memory:") as pp:
...     arn = pp.create_dataset_group(name="shop", domain="ECOMMERCE")["datasetGroupArn"]
...     pp.describe_dataset_group("shop")["datasetGroup"]["domain"]
'ECOMMERCE'
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from . import engine
from .base import ProjectBase
from .batch import BatchAPI
from .catalog import Catalog
from .connection import Connections, connect
from .datasets import IMPORT_MODES, TABLE_OF, DatasetsAPI
from .event_trackers import EventTrackersAPI
from .events import EventsAPI
from .filters import FiltersAPI
from .metadata_puts import MetadataPutsAPI
from .personal import PersonalAPI
from .progress import Progress, interactive
from .recipes import RECIPES, sql_folders
from .refresh import RefreshAPI
from .serving import ServingAPI
from .solutions import SolutionsAPI
from .sqlkit import execute_all, render, sql_fingerprint, statements
from .training import TrainingAPI

log = logging.getLogger(__name__)


def _only_queries(con, query) -> bool:
    """Whether ``query`` only reads (SELECT, EXPLAIN, ...): then memory stays current."""
    try:
        kinds = [st.type for st in con.extract_statements(query)]
    except Exception:          # noqa: BLE001 - DuckDB reports the error when it runs the text
        return False
    reading = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
    return bool(kinds) and all(k in reading for k in kinds)


def open(path: str | Path = ":memory:", *, region: str | None = None,
         account_id: str | None = None, quiet: bool = False, read_only: bool = False,
         memory_limit: str | None = None) -> Project:
    """Open (or create) the project file at ``path``.

    ``region`` and ``account_id`` fix the ARNs on creation (defaults ``local`` and
    ``000000000000``). Progress is shown on a terminal unless ``quiet``. ``memory_limit``
    (``"12GB"``; default ``$PYPERSONALIZE_MEMORY_LIMIT``, else DuckDB's 80% of RAM) bounds
    what DuckDB holds in memory: larger imports, joins and sorts spill to disk.
    """
    return Project(path, region=region, account_id=account_id, quiet=quiet, read_only=read_only,
                   memory_limit=memory_limit)


class Project(DatasetsAPI, SolutionsAPI, TrainingAPI, RefreshAPI, ServingAPI, PersonalAPI, EventsAPI,
              MetadataPutsAPI, EventTrackersAPI, FiltersAPI, BatchAPI, ProjectBase):
    """One project file, composed of its parts: datasets in :class:`DatasetsAPI`, solutions in
    :class:`SolutionsAPI` (training in :class:`TrainingAPI`), campaigns, recommenders and
    recommendations in :class:`ServingAPI`, keeping models current in :class:`RefreshAPI`.
    What the parts share is declared in :class:`ProjectBase` (listed last, so that every
    part's implementation comes before the declaration)."""

    def __init__(self, path, *, region=None, account_id=None, quiet=False, read_only=False, memory_limit=None):
        self.path = str(path)
        self.read_only = bool(read_only)
        self._connections = Connections(connect(self.path, self.read_only, memory_limit), self.path)
        self.progress = Progress(lambda: self.con, interactive(quiet))
        self.catalog = Catalog(lambda: self.con)
        self._engine_key, self._engine = engine.attach(self.path, self)
        self.engine = engine.Pipeline(self, self._engine)
        try:
            if self.read_only:
                self.catalog.load(region, account_id)
            else:
                self._install(region, account_id)
        except BaseException:
            self.close()
            raise

    # -- plumbing -------------------------------------------------------------------

    def _install(self, region, account_id) -> None:
        """Create or upgrade the catalog, then rebuild the SQL objects if the code changed.

        The views and macros are derived from the catalog and the templates; they are
        rebuilt only when the templates differ from the ones that built them, and one that
        cannot be rebuilt is marked and skipped, so the file always opens.
        """
        with self._transaction():
            self.catalog.install(region, account_id)
            for template in ["serving/00_tables.sql", "events/00_tables.sql"] + [f"recipes/{r.folder}/00_tables.sql"
                                                         for r in sql_folders() if r.model_tables]:
                for statement in statements(render(template)):
                    self.con.execute(statement)
        fingerprint = sql_fingerprint()
        if self.catalog.setting("sql_fingerprint") != fingerprint:
            self._rebuild_sql_objects()
            with self._transaction():
                self.catalog.set_setting("sql_fingerprint", fingerprint)
            self._engine.data_changed()

    def _rebuild_sql_objects(self) -> None:
        """Views and macros, each step on its own, a failing one logged and skipped."""
        for step in (self._refresh_interactions_view, self._create_serving_macros):
            try:
                with self._transaction():
                    step()
            except Exception as exc:       # noqa: BLE001 - the file must open whatever is stored
                log.warning("could not rebuild %s: %s", step.__name__.strip("_"), exc)
        self._refresh_filter_macros(strict=False)

    def _create_serving_macros(self) -> None:
        """Each recipe folder's own macros, then the recommend pipeline over all of them."""
        for recipe in sql_folders():
            if (recipe.sql_root() / "macros.sql").exists():
                names = [r.name for r in RECIPES.values() if r.folder == recipe.folder]
                execute_all(self.con, render(f"recipes/{recipe.folder}/macros.sql", recipes=names))
        self._create_pipeline_macro()

    def _create_pipeline_macro(self) -> None:
        """``pp_recommend`` and its batch form. Each recipe's branch names the endpoints it
        serves, so that DuckDB drops the other recipes' branches when planning a request
        (re-created whenever an endpoint is created, moved or deleted)."""
        served: dict[str, list[str]] = {}
        for name, arn, recipe in self.con.execute(
                "SELECT name, arn, recipe FROM pypersonalize.endpoints ORDER BY name").fetchall():
            folder = RECIPES[recipe].folder if recipe in RECIPES else None
            served.setdefault(folder, []).extend([name, arn])
        execute_all(self.con, render("serving/pipeline.sql", recipes=list(RECIPES), folders=[
            {"folder": r.folder, "names": [x.name for x in RECIPES.values() if x.folder == r.folder],
             "endpoints": served.get(r.folder, [])}
            for r in sql_folders() if r.has_sql_candidates]))

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if getattr(self, "_engine_key", None) is None:
            return
        try:
            self._wait_for_jobs()
            if not self.read_only:
                self.engine.flush_log()
        finally:
            engine.detach(self._engine_key)
            self._engine_key = None
            self._connections.close()

    @contextmanager
    def _transaction(self, changes: bool = True):
        """One writer's transaction; a change on a read-only project is refused here.

        ``changes``: the engine re-reads endpoints and filters afterwards (False for writes
        that keep its memory current themselves, like put_events)."""
        self._check_writable()
        try:
            with self._connections.write() as con:
                if self._engine.pending_log:
                    self.engine.write_log(con)
                yield
        finally:
            if changes:
                self._engine.catalog_changed()
            if not self._connections.in_transaction():
                # after the commit (or rollback): a reader must not reload the old data
                # under the new stamp
                pending = self._connections.local_set("changed_groups")
                for group in list(pending):
                    self._engine.data_changed(group)
                pending.clear()

    def _data_changed(self, group: str | None = None) -> None:
        """A group's interactions, items or users changed: the engine re-reads its histories
        once this transaction ends (and at once, for a change outside one)."""
        if self._connections.in_transaction():
            self._connections.local_set("changed_groups").add(group)
        else:
            self._engine.data_changed(group)

    def sql(self, query: str, params: Any = None) -> duckdb.DuckDBPyRelation:
        """Run any SQL on the project file; e.g. ``pp.sql("SELECT * FROM shop.items").df()``.

        Anything but a query makes the serving engine re-read what it holds in memory."""
        if self._engine.pending_log and not self.read_only:
            self.engine.flush_log()
        reads = _only_queries(self.con, query)
        try:
            return self.con.sql(query, params=params)
        finally:
            if not reads:        # after the write: a reload in between would miss it for good
                self._engine.data_changed()


__all__ = ["open", "Project", "IMPORT_MODES", "TABLE_OF"]
