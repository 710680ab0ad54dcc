"""Route path templates: compiling `/users/{id:int}` to a regex, and filling it back in."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from stellina.convertors import CONVERTOR_TYPES, Convertor, StringConvertor

__all__ = [
    "PARAM_FORMAT_REGEX",
    "PARAM_REGEX",
    "Conversions",
    "compile_path",
    "conversions",
    "convert",
    "fill_template",
    "replace_params",
]

#: A parameter of a route path: `{name}` or `{name:convertor}`.
PARAM_REGEX = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(:[a-zA-Z_][a-zA-Z0-9_]*)?}")
#: A parameter of a path format (the template with the convertors left out): `{name}`.
PARAM_FORMAT_REGEX = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)}")
# The port at the end of a host template ("example.org:8000", "[::1]:8000").
_HOST_PORT = re.compile(r":[0-9]*\Z")

#: How to turn each converted parameter's matched text into its value, in order.
Conversions = tuple[tuple[str, Callable[[str], Any]], ...]


def compile_path(path: str) -> tuple[re.Pattern[str], str, dict[str, Convertor[Any]]]:
    """Compile a route path (or a case-insensitive host, when it does not start with "/").

    Returns the regex, the format string used for reverse lookups ("/users/{id}") and the
    convertor of each parameter. A host's port is left out of its regex: hosts match on
    the name alone.
    """
    is_host = not path.startswith("/")
    convertors: dict[str, Convertor[Any]] = {}
    repeated: list[str] = []
    regex: list[str] = []
    template: list[str] = []
    pieces = PARAM_REGEX.split(path)  # literal, name, ":kind" or None, literal, ...
    for position in range(0, len(pieces) - 1, 3):
        literal, name, kind = pieces[position : position + 3]
        key = kind[1:] if kind else "str"
        assert key in CONVERTOR_TYPES, f"Unknown path convertor '{key}'"
        if name in convertors and name not in repeated:
            repeated.append(name)
        convertors[name] = CONVERTOR_TYPES[key]
        regex.append(f"{re.escape(literal)}(?P<{name}>{convertors[name].regex})")
        template.append(f"{literal}{{{name}}}")
    if repeated:
        plural = "s" if len(repeated) > 1 else ""
        raise ValueError(
            f"Duplicated param name{plural} {', '.join(sorted(repeated))} at path {path}"
        )
    tail = pieces[-1]
    regex.append(re.escape(_HOST_PORT.sub("", tail) if is_host else tail))
    template.append(tail)
    # A "path" parameter takes any remainder, newlines included (fullmatch: no "$" before one).
    flags = re.IGNORECASE if is_host else re.DOTALL
    return re.compile("^" + "".join(regex) + "$", flags), "".join(template), convertors


def replace_params(
    path: str, param_convertors: Mapping[str, Convertor[Any]], path_params: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Fill the `{name}` placeholders of the format `path` in one pass.

    Returns the filled path and the params it has no placeholder for. A value is never
    searched for placeholders itself, and a placeholder without a value is left in place.
    """
    used: set[str] = set()

    def fill(found: re.Match[str]) -> str:
        name = found[1]
        if name not in path_params or name not in param_convertors:
            return found[0]
        used.add(name)
        return param_convertors[name].to_string(path_params[name])

    filled = PARAM_FORMAT_REGEX.sub(fill, path)
    return filled, {key: value for key, value in path_params.items() if key not in used}


def fill_template(
    path: str, param_convertors: Mapping[str, Convertor[Any]], path_params: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """`replace_params`, escaping a leading "//" or "/\\" that would make a host of a value."""
    filled, remaining = replace_params(path, param_convertors, path_params)
    if filled[1:2] in ("/", "\\"):
        filled = "/" + quote(filled[1], safe="") + filled[2:]
    return filled, remaining


def conversions(convertors: Mapping[str, Convertor[Any]]) -> Conversions:
    """How to convert each parameter (text kept as matched needs nothing).

    A built-in convertor's parser is called directly, saving a method frame per parameter.
    """
    steps: list[tuple[str, Callable[[str], Any]]] = []
    for name, convertor in convertors.items():
        cls = type(convertor)
        if cls is StringConvertor:
            continue
        codec = getattr(cls, "codec", None) if cls.convert is _builtin_convert else None
        steps.append((name, codec[0] if codec is not None else convertor.convert))
    return tuple(steps)


_builtin_convert = StringConvertor.convert


def convert(found: re.Match[str], steps: Conversions) -> dict[str, Any] | None:
    """The matched params, converted; None when a value fails conversion (a miss)."""
    params: dict[str, Any] = found.groupdict()
    try:
        for name, step in steps:
            params[name] = step(params[name])
    except Exception:
        return None
    return params
