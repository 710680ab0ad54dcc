"""Authentication: backends, credentials, users and the ``requires`` endpoint decorator."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any, ParamSpec
from urllib.parse import urlencode

from stellina.concurrency import is_async_callable
from stellina.exceptions import HTTPException
from stellina.requests import HTTPConnection, Request
from stellina.responses import RedirectResponse
from stellina.websockets import WebSocket

__all__ = [
    "AuthCredentials",
    "AuthenticationBackend",
    "AuthenticationError",
    "BaseUser",
    "SimpleUser",
    "UnauthenticatedUser",
    "has_required_scope",
    "requires",
]

_P = ParamSpec("_P")


def has_required_scope(conn: HTTPConnection, scopes: Sequence[str]) -> bool:
    """Whether the connection's credentials grant every one of ``scopes``."""
    granted = conn.auth.scopes
    for scope in scopes:  # noqa: SIM110 - a plain loop is cheaper than all() over a generator
        if scope not in granted:
            return False
    return True


def _connection_parameter(func: Callable[..., Any]) -> tuple[str, int]:
    for index, name in enumerate(inspect.signature(func).parameters):
        if name == "request" or name == "websocket":
            return name, index
    raise TypeError(f'No "request" or "websocket" argument on function "{func}"')


def requires(
    scopes: str | Sequence[str],
    status_code: int = 403,
    redirect: str | None = None,
) -> Callable[[Callable[_P, Any]], Callable[_P, Any]]:
    """Restrict an endpoint to connections whose credentials hold all of ``scopes``.

    Refused HTTP requests get ``HTTPException(status_code)``, or a 303 redirect to the route
    named ``redirect`` with the original URL in its ``next`` query parameter; refused
    WebSocket sessions are closed. Works on sync and async functions and methods that take a
    ``request`` or ``websocket`` parameter.
    """
    required = [scopes] if isinstance(scopes, str) else list(scopes)

    def decorator(func: Callable[_P, Any]) -> Callable[_P, Any]:
        kind, index = _connection_parameter(func)

        def refusal(request: Request) -> RedirectResponse:
            if redirect is None:
                raise HTTPException(status_code=status_code)
            query = urlencode({"next": str(request.url)})
            return RedirectResponse(url=f"{request.url_for(redirect)}?{query}", status_code=303)

        if kind == "websocket":

            @functools.wraps(func)
            async def websocket_wrapper(*args: _P.args, **kwargs: _P.kwargs) -> None:
                websocket = kwargs[kind] if kind in kwargs else args[index]
                assert isinstance(websocket, WebSocket)
                if has_required_scope(websocket, required):
                    await func(*args, **kwargs)
                else:
                    await websocket.close()

            return websocket_wrapper

        if is_async_callable(func):

            @functools.wraps(func)
            async def async_wrapper(*args: _P.args, **kwargs: _P.kwargs) -> Any:
                request = kwargs[kind] if kind in kwargs else args[index]
                assert isinstance(request, Request)
                if not has_required_scope(request, required):
                    return refusal(request)
                return await func(*args, **kwargs)

            return async_wrapper

        @functools.wraps(func)
        def sync_wrapper(*args: _P.args, **kwargs: _P.kwargs) -> Any:
            request = kwargs[kind] if kind in kwargs else args[index]
            assert isinstance(request, Request)
            if not has_required_scope(request, required):
                return refusal(request)
            return func(*args, **kwargs)

        return sync_wrapper

    return decorator


class AuthenticationError(Exception):
    """Raised by a backend when the credentials sent are invalid."""


class AuthCredentials:
    """The scopes (permissions) an authenticated connection holds."""

    def __init__(self, scopes: Sequence[str] | None = None) -> None:
        self.scopes: list[str] = [] if scopes is None else list(scopes)


class BaseUser:
    """The interface of the user objects set in ``scope["user"]``."""

    @property
    def is_authenticated(self) -> bool:
        """Whether the user has been authenticated."""
        raise NotImplementedError()

    @property
    def display_name(self) -> str:
        """A name to show for the user."""
        raise NotImplementedError()

    @property
    def identity(self) -> str:
        """A unique identifier of the user."""
        raise NotImplementedError()


class SimpleUser(BaseUser):
    """An authenticated user known only by a username, which is also its name and identity."""

    is_authenticated = True

    def __init__(self, username: str) -> None:
        self.username = username

    display_name = identity = property(attrgetter("username"))


class UnauthenticatedUser(BaseUser):
    """The user of a connection that carried no credentials: no name, no identity."""

    is_authenticated = False
    display_name = identity = ""


class AuthenticationBackend:
    """Subclass and implement ``authenticate`` to read credentials from a connection."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        """Credentials and user for ``conn``, None when it carries none.

        Raise AuthenticationError when the credentials are present but invalid.
        """
        raise NotImplementedError()
