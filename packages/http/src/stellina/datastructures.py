"""URLs, headers, query parameters, forms and the other value types of HTTP.

Each family lives in a private module of its own; this module gathers the public names.
"""

from __future__ import annotations

from urllib.parse import urlsplit  # importable from here in Starlette too

from stellina._headers import Headers, MutableHeaders
from stellina._multidict import ImmutableMultiDict, MultiDict, QueryParams, parse_query_string
from stellina._uploads import FormData, UploadFile
from stellina._urls import URL, URLPath
from stellina._values import Address, CommaSeparatedStrings, Secret, State

__all__ = [
    "URL",
    "Address",
    "CommaSeparatedStrings",
    "FormData",
    "Headers",
    "ImmutableMultiDict",
    "MultiDict",
    "MutableHeaders",
    "QueryParams",
    "Secret",
    "State",
    "URLPath",
    "UploadFile",
    "parse_query_string",
    "urlsplit",
]
