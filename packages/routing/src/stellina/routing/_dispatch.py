"""The Router's dispatch index: for a path, the few routes that may match it, in order."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from enum import IntEnum
from typing import Any, NamedTuple

from stellina.convertors import FloatConvertor, IntegerConvertor, StringConvertor, UUIDConvertor
from stellina.types import Scope

from ._mounts import Mount
from ._paths import Conversions
from ._routes import BaseRoute, Match, Route, WebSocketRoute

__all__ = ["Candidate", "Kind", "Table"]


class Kind(IntEnum):
    """How the Router treats a candidate route.

    EXACT and PATTERN are plain Routes that the Router matches itself, without a child
    scope; the others run their matcher and, on a full match, CALL `route.app` (all that the
    class's own `handle` does) or HANDLE through `route.handle`.
    """

    EXACT = 0  # a parameterless Route at this very path: only its methods are checked
    PATTERN = 1  # a Route with parameters: `matcher` is its regex's fullmatch
    CALL = 2
    HANDLE = 3


class Candidate(NamedTuple):
    """A route as the Router tries it for a path."""

    route: Any
    kind: Kind
    #: PATTERN: `fullmatch(route_path)`; otherwise `match(scope, route_path)`.
    matcher: Callable[..., Any]
    #: PATTERN: how to convert the matched params.
    steps: Conversions


_SEGMENT_CONVERTORS = (StringConvertor, IntegerConvertor, FloatConvertor, UUIDConvertor)
_BASES = (Route, WebSocketRoute, Mount)


def first_segment(path: str) -> str:
    """The text between the leading "/" and the next one."""
    end = path.find("/", 1)
    return path[1:end] if end >= 0 else path[1:]


def _generic(route: BaseRoute) -> Candidate:
    def match(scope: Scope, route_path: str) -> tuple[Match, Scope]:
        return route.matches(scope)

    return Candidate(route, Kind.HANDLE, match, ())


_Numbered = list[tuple[int, Candidate]]


class Table:
    """Candidate routes per path, in declaration order, for one scope type.

    Parameterless routes sit in a dict by exact path. Routes whose parameters each stay
    within a segment are grouped by (first literal segment, number of "/"); routes that
    can span segments (mounts, `path` params) by first literal segment; anything else
    (hosts, subclasses with their own matching) is a candidate for every path.
    """

    __slots__ = ("by_first", "exact", "static", "unknown")

    def __init__(self, routes: Sequence[BaseRoute], scope_type: str) -> None:
        static: dict[str, _Numbered] = {}
        fixed: dict[tuple[str | None, int], _Numbered] = {}
        prefixed: dict[str, _Numbered] = {}
        everywhere: _Numbered = []
        for index, route in enumerate(routes):
            base = next((cls for cls in _BASES if isinstance(route, cls)), None)
            if base is None or type(route).matches is not base.matches:
                everywhere.append((index, _generic(route)))
                continue
            if base is not Mount and (base is Route) != (scope_type == "http"):
                continue  # can never match this scope type
            assert isinstance(route, Route | WebSocketRoute | Mount)
            own_handle = type(route).handle is not base.handle
            # Only handles that merely call the app are skipped (a Route's answers 405 and
            # applies body limits, a Mount's applies its body limit).
            calls = base is WebSocketRoute or (
                isinstance(route, Mount) and route.max_body_size is None
            )
            kind = Kind.CALL if calls and not own_handle else Kind.HANDLE
            plain = base is Route and not own_handle
            template = route.path + "/{path:path}" if base is Mount else route.path
            segment = first_segment(template)
            first = None if "{" in segment else segment
            if base is not Mount and not route.param_convertors:
                assert isinstance(route, Route | WebSocketRoute)
                entry = Candidate(route, Kind.EXACT if plain else kind, route._match_exact, ())
                static.setdefault(template, []).append((index, entry))
                continue
            if plain:
                assert isinstance(route, Route)
                entry = Candidate(route, Kind.PATTERN, route.path_regex.fullmatch, route._steps)
            else:
                entry = Candidate(route, kind, route._match_path, ())
            if all(type(conv) in _SEGMENT_CONVERTORS for conv in route.param_convertors.values()):
                fixed.setdefault((first, template.count("/")), []).append((index, entry))
            elif first is not None and template.find("/", 1) >= 0:
                prefixed.setdefault(first, []).append((index, entry))
            else:
                everywhere.append((index, entry))

        def bucket(first: str | None, count: int) -> _Numbered:
            found = fixed.get((first, count), []) + everywhere
            if first is not None:
                found += fixed.get((None, count), []) + prefixed.get(first, [])
            return found

        def ordered(items: Iterable[tuple[int, Candidate]]) -> tuple[Candidate, ...]:
            return tuple(entry for _, entry in sorted(items, key=lambda item: item[0]))

        depth = max((count for _, count in fixed), default=0) + 2
        literals = {first for first, _ in fixed if first is not None} | prefixed.keys()
        self.by_first = {
            first: tuple(ordered(bucket(first, count)) for count in range(depth))
            for first in literals
        }
        self.unknown = tuple(ordered(bucket(None, count)) for count in range(depth))
        self.static = {
            path: ordered(found + bucket(first_segment(path), path.count("/")))
            for path, found in static.items()
        }
        #: The parameterless Route declared first for a path, when nothing precedes it.
        self.exact: dict[str, Route] = {
            path: found[0].route
            for path, found in self.static.items()
            if found[0].kind is Kind.EXACT
        }

    def candidates(self, route_path: str) -> tuple[Candidate, ...]:
        """The routes that may match `route_path`, in declaration order."""
        found = self.static.get(route_path)
        if found:
            return found
        end = route_path.find("/", 1)
        first = route_path[1:end] if end >= 0 else route_path[1:]
        by_count = self.by_first.get(first, self.unknown)
        count = route_path.count("/")
        return by_count[count] if count < len(by_count) else by_count[-1]
