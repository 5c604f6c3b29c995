"""pypersonalize: Amazon Personalize as an open, SQL-native library on one DuckDB file.

>>> import pypersonalize
>>> pp = pypersonalize.open(":memory:")
>>> pp.create_dataset_group(name="movies", domain="VIDEO_ON_DEMAND")["domain"]
'VIDEO_ON_DEMAND'
"""

from typing import TYPE_CHECKING

from .errors import (
                     DataImportError,
                     InvalidInput,
                     LimitExceeded,
                     PypersonalizeError,
                     ResourceAlreadyExists,
                     ResourceInUse,
                     ResourceNotFound,
                     SchemaError,
)

if TYPE_CHECKING:
    from .clients import client
    from .project import Project, open

__version__ = "0.1.0"

__all__ = [
    "open", "Project", "client", "PypersonalizeError", "InvalidInput", "ResourceNotFound",
    "ResourceAlreadyExists", "ResourceInUse", "LimitExceeded", "SchemaError", "DataImportError",
]

# `project` pulls in duckdb, numpy, pandas and jinja2 (about a second); loading it on first
# use lets `pypersonalize --help` and `import pypersonalize.errors` start at once.
_LAZY = ("open", "Project", "client")


def __getattr__(name: str):
    if name == "client":
        from .clients import client
        globals()["client"] = client
        return client
    if name in _LAZY:
        from . import project
        value = getattr(project, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
