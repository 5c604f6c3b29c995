"""pypersonalize: Amazon Personalize as an open, SQL-native library on one DuckDB file.

>>> import pypersonalize
>>> pp = pypersonalize.open(":memory:")
>>> pp.create_dataset_group(name="movies", domain="VIDEO_ON_DEMAND")["domain"]
'VIDEO_ON_DEMAND'
"""

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
from .project import Project, open

__version__ = "0.1.0"

__all__ = [
    "open", "Project", "PypersonalizeError", "InvalidInput", "ResourceNotFound",
    "ResourceAlreadyExists", "ResourceInUse", "LimitExceeded", "SchemaError", "DataImportError",
]
