"""Loading and rendering the jinja2 SQL templates under ``sql/``.

Templates choose structure only: identifiers go through the ``ident`` filter, values are
bound as parameters by the caller. The environment is strict, so a missing template
variable is an error rather than an empty string.
"""

from __future__ import annotations

import hashlib
import logging
import re
from functools import lru_cache
from pathlib import Path

import jinja2

from .errors import InvalidInput

log = logging.getLogger(__name__)

_IDENT_SAFE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Template folders outside the package (a recipe registered from elsewhere): prefix -> folder.
_EXTRA_FOLDERS: dict[str, Path] = {}


def add_sql_folder(prefix: str, folder: Path) -> None:
    """Serve ``<prefix>/<file>`` templates from ``folder`` (e.g. a recipe's own SQL folder)."""
    _EXTRA_FOLDERS[prefix.strip("/")] = Path(folder)


def remove_sql_folder(prefix: str) -> None:
    _EXTRA_FOLDERS.pop(prefix.strip("/"), None)


def _extra_template(name: str):
    prefix, _, rest = name.rpartition("/")
    folder = _EXTRA_FOLDERS.get(prefix)
    if folder is None or not (folder / rest).is_file():
        return None
    path = folder / rest
    text = path.read_text()
    # re-read when the folder is registered again or the file changes
    return text, str(path), lambda: _EXTRA_FOLDERS.get(prefix) == folder and path.is_file() \
        and path.read_text() == text


def sql_dir() -> Path:
    """The folder holding the templates: inside the installed package, or the checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "sql", here.parent / "sql"):
        if (candidate / "catalog").is_dir():
            return candidate
    raise FileNotFoundError(f"SQL templates not found beside {here}")


def quote_ident(name: str) -> str:
    """Quote an identifier for DuckDB: ``quote_ident('a"b') == '"a""b"'``."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise InvalidInput(f"invalid SQL identifier {name!r}")
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote a string literal, for the rare DDL where DuckDB accepts no parameter."""
    return "'" + str(value).replace("'", "''") + "'"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.FunctionLoader(_extra_template),
                                    jinja2.FileSystemLoader(str(sql_dir()))]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        autoescape=False,
    )
    env.filters["ident"] = quote_ident
    env.filters["literal"] = quote_literal
    return env


def render(template: str, **variables) -> str:
    """Render ``sql/<template>`` with ``variables``; e.g. ``render("catalog/00_tables.sql")``."""
    try:
        text = environment().get_template(template).render(**variables)
    except jinja2.TemplateNotFound:
        raise FileNotFoundError(f"no SQL template {template!r} under {sql_dir()}") from None
    log.debug("rendered %s:\n%s", template, text)
    return text


@lru_cache(maxsize=1)
def sql_fingerprint() -> str:
    """A digest of every template and of the code that renders them: the project's views and
    macros are rebuilt when it changes."""
    digest = hashlib.sha256()
    root, package = sql_dir(), Path(__file__).resolve().parent
    files = [(p.relative_to(root), p) for p in root.rglob("*.sql")] + \
        [(p.relative_to(package), p) for p in package.rglob("*.py")] + \
        [(Path(prefix) / p.name, p) for prefix, folder in _EXTRA_FOLDERS.items() for p in folder.glob("*.sql")]
    for name, path in sorted(files):
        digest.update(str(name).encode() + b"\0" + path.read_bytes() + b"\0")
    from .recipes import RECIPES  # the recommend macros dispatch over the registry
    digest.update(",".join(f"{r.name}:{r.folder}" for r in RECIPES.values()).encode())
    return digest.hexdigest()[:32]


def statements(sql: str) -> list[str]:
    """Split rendered SQL on ``;`` at line ends (templates never put ``;`` inside strings)."""
    return [s.strip() for s in re.split(r";\s*(?:\n|$)", sql) if s.strip()]


def one(cursor):
    """The first row of a result, or None, leaving no open result behind.

    DuckDB 2 refuses new work on a connection while a result is only partly fetched, so
    ``fetchone()`` is never used.
    """
    rows = cursor.fetchall()
    return rows[0] if rows else None


def used_params(statement: str, params: dict) -> dict:
    """The entries of ``params`` that ``statement`` names (DuckDB refuses extra ones)."""
    code = re.sub(r"--[^\n]*", "", statement)   # header comments name parameters too
    used = set(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", code))
    return {k: v for k, v in params.items() if k in used}


def execute_all(con, sql: str, params: dict | None = None) -> None:
    """Run every statement of rendered SQL, each with the parameters it names."""
    for statement in statements(sql):
        con.execute(statement, used_params(statement, params or {}))
