"""What every ``pypersonalize`` command module shares: the global options' context, the
decorators that open the project (or only the recipe registry) and print a result, and the
one-line error rule. Nothing heavy is imported here (see ``cli.py``)."""

from __future__ import annotations

import functools
import os
import sys

import click

from . import output
from .errors import PypersonalizeError

DB_ENV = "PYPERSONALIZE_DB"
ENDPOINT_ENV = "PYPERSONALIZE_ENDPOINT_URL"


class Context:
    """The global options, and the project they name once a command needs it."""

    def __init__(self, db, region, account_id, fmt, quiet, read_only=False, endpoint_url=None):
        self.db, self.region, self.account_id = db, region, account_id
        self.fmt, self.quiet, self.read_only = fmt, quiet, read_only
        self.endpoint_url = endpoint_url

    def project(self):
        """Open the project file (read-only with --read-only), or, with --endpoint-url, the
        project a running ``pypersonalize serve`` owns."""
        if self.endpoint_url:
            if self.db:
                raise click.UsageError("give --db or --endpoint-url, not both (the server owns its file)")
            from .wire import RemoteProject
            return RemoteProject(self.endpoint_url, access_key=os.environ.get("AWS_ACCESS_KEY_ID"))
        if not self.db:
            raise click.UsageError(f"no project file: pass --db PATH or set {DB_ENV}")
        if self.db.strip() == ":memory:":     # each command would start and lose its own project
            raise click.UsageError("--db :memory: keeps nothing between commands; give a file path")
        from .project import open as open_project
        return open_project(self.db, region=self.region, account_id=self.account_id, quiet=self.quiet,
                            read_only=self.read_only)


def _format_options(fn):
    fn = click.option("--quiet", "-q", is_flag=True, default=False, help="No progress output.")(fn)
    return click.option("--format", "fmt", type=click.Choice(output.FORMATS), default=None,
                        help="Output format (default: table).")(fn)


def _echo(ctx: Context, result) -> None:
    if isinstance(result, tuple):    # (columns, rows) from the sql command
        click.echo(output.render(None, ctx.fmt, *result))
    elif result is not None:
        click.echo(output.render(result, ctx.fmt))


def output_options(fn):
    """--format, --quiet and --read-only on every command that opens the project (they may
    also come before the command); opens it, calls ``fn(pp, ...)`` and prints the result."""
    @click.option("--read-only", is_flag=True, default=False,
                  help="Open the project read-only: many readers may share the file; writes fail.")
    @_format_options
    @click.pass_obj
    @functools.wraps(fn)
    def wrapper(ctx: Context, fmt, quiet, read_only, *args, **kwargs):
        if fmt:
            ctx.fmt = fmt
        ctx.quiet = ctx.quiet or quiet
        ctx.read_only = ctx.read_only or read_only
        opened = False
        try:
            with ctx.project() as pp:
                opened = True
                result = fn(pp, *args, **kwargs)
        except Exception as exc:
            if not _library_error(exc):
                raise
            message = _one_line(exc)
            if opened and ctx.read_only and "read-only" in message.lower() and "--read-only" not in message:
                message += " (the project was opened with --read-only; this command writes)"
            raise click.ClickException(message) from None
        _echo(ctx, result)
    return wrapper


def registry_options(fn):
    """--format and --quiet for commands that read only the recipe registry: no --db needed."""
    @_format_options
    @click.pass_obj
    @functools.wraps(fn)
    def wrapper(ctx: Context, fmt, quiet, *args, **kwargs):
        if fmt:
            ctx.fmt = fmt
        try:
            result = fn(*args, **kwargs)
        except PypersonalizeError as exc:
            raise click.ClickException(_one_line(exc)) from None
        _echo(ctx, result)
    return wrapper


def _library_error(exc: Exception) -> bool:
    """True for the errors that become one line and exit 1: ours, and DuckDB's."""
    if isinstance(exc, PypersonalizeError):
        return True
    # duckdb is loaded only once a command opened a project, so before that no exception
    # can be one of its errors, and checking does not need to import it.
    duckdb = sys.modules.get("duckdb")
    return duckdb is not None and isinstance(exc, duckdb.Error)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _exploration(weight, age, metadata=None) -> dict | None:
    explore = {k: str(v) for k, v in (("explorationWeight", weight), ("explorationItemAgeCutOff", age))
               if v is not None}
    out = {"itemExplorationConfig": explore} if explore else {}
    if metadata is not None:
        out["enableMetadataWithRecommendations"] = metadata
    return out or None


__all__ = ["DB_ENV", "Context", "output_options", "registry_options"]
