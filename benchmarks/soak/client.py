"""A small HTTP/1.1 keep-alive client over asyncio streams, for the soak benchmark's load.

It speaks just what the soak app answers: Content-Length or chunked bodies, cookies kept per
connection, and a fresh connection after an error or a ``Connection: close``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, Callable, Sequence
from dataclasses import dataclass, field


@dataclass
class Response:
    status: int
    headers: dict[bytes, bytes]
    body: bytes


class Connection:
    """One keep-alive connection to ``host:port``, opened on first use, reopened after errors."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.cookie = b""

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def request(
        self,
        method: str,
        path: str,
        headers: Sequence[tuple[bytes, bytes]] = (),
        body: bytes | AsyncIterable[bytes] = b"",
        length: int | None = None,
    ) -> Response:
        """Send one request (``body`` in pieces when iterable: give its ``length``); the answer."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        size = len(body) if isinstance(body, bytes) else length
        head = [
            b"%s %s HTTP/1.1" % (method.encode(), path.encode()),
            b"host: " + self.host.encode(),
        ]
        head += [name + b": " + value for name, value in headers]
        if size is not None and (size or method != "GET"):
            head.append(b"content-length: %d" % size)
        if self.cookie:
            head.append(b"cookie: " + self.cookie)
        self.writer.write(b"\r\n".join(head) + b"\r\n\r\n")
        if isinstance(body, bytes):
            self.writer.write(body)
        else:
            async for piece in body:
                self.writer.write(piece)
                await self.writer.drain()
        await self.writer.drain()
        response = await _read_response(self.reader)
        cookie = response.headers.get(b"set-cookie")
        if cookie is not None:
            self.cookie = cookie.partition(b";")[0]
        if response.headers.get(b"connection", b"").lower() == b"close":
            await self.close()
        return response


async def _read_response(reader: asyncio.StreamReader) -> Response:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed before the response")
    status = int(status_line.split()[1])
    headers: dict[bytes, bytes] = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if b"content-length" in headers:
        body = await reader.readexactly(int(headers[b"content-length"]))
    elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        pieces = []
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            pieces.append((await reader.readexactly(size + 2))[:-2])
            if not size:
                break
        body = b"".join(pieces)
    else:
        body = b""
    return Response(status, headers, body)


@dataclass
class LoadResult:
    done: int = 0
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


Request = tuple[str, str, Sequence[tuple[bytes, bytes]], bytes]


async def load(
    host: str,
    port: int,
    requests: Sequence[Request],
    total: int,
    connections: int,
    every: int,
    on_progress: Callable[[int], None],
) -> LoadResult:
    """Send ``total`` requests, cycling through ``requests``, over ``connections`` connections.

    ``on_progress(done)`` is called each time another ``every`` requests have completed. An
    answer that is not 2xx, or a connection error, counts as an error.
    """
    result = LoadResult()
    issued = 0

    async def worker() -> None:
        nonlocal issued
        connection = Connection(host, port)
        while issued < total:
            method, path, headers, body = requests[issued % len(requests)]
            issued += 1
            try:
                response = await connection.request(method, path, headers, body)
            except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError):
                result.errors += 1
                await connection.close()
            else:
                result.statuses[response.status] = result.statuses.get(response.status, 0) + 1
                if not 200 <= response.status < 300:
                    result.errors += 1
            result.done += 1
            if result.done % every == 0:
                on_progress(result.done)
        await connection.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return result
