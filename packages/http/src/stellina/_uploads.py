"""`UploadFile` and `FormData`: what a parsed form holds."""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, TypeVar

from stellina._headers import Headers
from stellina._multidict import ImmutableMultiDict
from stellina.concurrency import run_in_threadpool

_R = TypeVar("_R")

# The default limits of a parsed form (`Request.form`, the parsers): fields and files counted
# separately, and the size of a field.
DEFAULT_MAX_PARTS = 1000
DEFAULT_MAX_PART_SIZE = 1024 * 1024


class UploadFile:
    """An uploaded file: a file object plus its name, size and part headers.

    Each async method works on the file directly while a ``SpooledTemporaryFile`` holds its
    data in memory, and in a worker thread once the data is (or is about to be) on disk.
    """

    def __init__(
        self,
        file: IO[bytes],
        *,
        size: int | None = None,
        filename: str | None = None,
        headers: Headers | None = None,
    ) -> None:
        self.file, self.filename, self.size = file, filename, size
        self.headers = Headers() if headers is None else headers

    @property
    def content_type(self) -> str | None:
        """The part's ``Content-Type``, if it had one."""
        return self.headers.get("content-type", None)

    def _stays_in_memory(self, growth: int = 0) -> bool:
        """Whether the file is in memory, and stays there after ``growth`` more bytes."""
        if getattr(self.file, "_rolled", True):  # not spooled, or spooled to disk already
            return False
        limit: int = getattr(self.file, "_max_size", 0)  # 0: it never rolls over
        return not limit or self.file.tell() + growth <= limit

    async def _run(self, call: Callable[..., _R], *args: object, growth: int = 0) -> _R:
        if self._stays_in_memory(growth):
            return call(*args)
        return await run_in_threadpool(call, *args)

    async def write(self, data: bytes) -> None:
        """Append ``data``."""
        if self.size is not None:
            self.size += len(data)
        await self._run(self.file.write, data, growth=len(data))

    async def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes (all that is left by default)."""
        return await self._run(self.file.read, size)

    async def seek(self, offset: int) -> None:
        """Move to byte ``offset``."""
        await self._run(self.file.seek, offset)

    async def close(self) -> None:
        """Close the file."""
        await self._run(self.file.close)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(filename={self.filename!r}, "
            f"size={self.size!r}, headers={self.headers!r})"
        )


class FormData(ImmutableMultiDict[str, "UploadFile | str"]):
    """Parsed form fields: strings, and `UploadFile` for file parts."""

    __slots__ = ()

    async def close(self) -> None:
        """Close every uploaded file."""
        for _, value in self._pairs:
            if isinstance(value, UploadFile):
                await value.close()
