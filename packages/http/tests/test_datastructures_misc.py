"""Address, Secret, CommaSeparatedStrings, State and UploadFile."""

from __future__ import annotations

import io
import pickle
import threading
from tempfile import SpooledTemporaryFile
from typing import Any, BinaryIO, cast

import pytest

from stellina.datastructures import (
    Address,
    CommaSeparatedStrings,
    Headers,
    Secret,
    State,
    UploadFile,
)


def test_address() -> None:
    address = Address("127.0.0.1", 8000)
    assert address.host == "127.0.0.1"
    assert address.port == 8000
    host, port = address
    assert (host, port) == ("127.0.0.1", 8000)
    assert address == ("127.0.0.1", 8000)
    assert repr(address) == "Address(host='127.0.0.1', port=8000)"


def test_secret() -> None:
    value = Secret("a-secret")
    assert repr(value) == "Secret('**********')"
    assert str(value) == "a-secret"
    assert "a-secret" not in repr(value)
    assert bool(value)
    assert not Secret("")


def test_comma_separated_strings() -> None:
    csv = CommaSeparatedStrings("'localhost', 127.0.0.1, \"a, b\" ,x")
    assert list(csv) == ["localhost", "127.0.0.1", "a, b", "x"]
    assert len(csv) == 4
    assert csv[0] == "localhost"
    assert csv[-1] == "x"
    assert csv[1:3] == ["127.0.0.1", "a, b"]
    assert repr(csv) == "CommaSeparatedStrings(['localhost', '127.0.0.1', 'a, b', 'x'])"
    assert str(csv) == "'localhost', '127.0.0.1', 'a, b', 'x'"


def test_comma_separated_strings_from_sequence_and_empty() -> None:
    assert list(CommaSeparatedStrings(["a", "b"])) == ["a", "b"]
    assert list(CommaSeparatedStrings("")) == []
    assert str(CommaSeparatedStrings([])) == ""


def test_comma_separated_strings_unbalanced_quote() -> None:
    with pytest.raises(ValueError):
        CommaSeparatedStrings("a, 'b")


def test_state() -> None:
    state = State()
    state.x = 1
    assert state.x == 1
    assert state._state == {"x": 1}
    del state.x
    with pytest.raises(AttributeError, match="^'State' object has no attribute 'x'$"):
        state.x  # noqa: B018
    with pytest.raises(KeyError):
        del state.x


def test_state_wraps_given_dict() -> None:
    data: dict[str, Any] = {"a": 1}
    state = State(data)
    assert state.a == 1
    state.b = 2
    assert data == {"a": 1, "b": 2}


def test_state_subclass_message_uses_class_name() -> None:
    class AppState(State):
        pass

    with pytest.raises(AttributeError, match="^'AppState' object has no attribute 'y'$"):
        AppState().y  # noqa: B018


def test_state_copies_and_pickles() -> None:
    state = State({"a": 1})
    restored = pickle.loads(pickle.dumps(state))
    assert restored.a == 1


def test_upload_file_attributes() -> None:
    headers = Headers({"content-type": "text/plain"})
    upload = UploadFile(io.BytesIO(b"x"), size=1, filename="a.txt", headers=headers)
    assert upload.filename == "a.txt"
    assert upload.size == 1
    assert upload.headers is headers
    assert upload.content_type == "text/plain"
    assert repr(upload) == (
        "UploadFile(filename='a.txt', size=1, headers=Headers({'content-type': 'text/plain'}))"
    )
    bare = UploadFile(io.BytesIO())
    assert bare.filename is None
    assert bare.size is None
    assert bare.content_type is None
    assert bare.headers == Headers()


@pytest.mark.anyio
async def test_upload_file_in_memory() -> None:
    upload = UploadFile(io.BytesIO(), size=0)
    await upload.write(b"hello ")
    await upload.write(b"world")
    assert upload.size == 11
    await upload.seek(0)
    assert await upload.read(5) == b"hello"
    assert await upload.read() == b" world"
    await upload.close()
    assert upload.file.closed


@pytest.mark.anyio
async def test_upload_file_without_size_does_not_count() -> None:
    upload = UploadFile(io.BytesIO())
    await upload.write(b"abc")
    assert upload.size is None


def rolled(spool: SpooledTemporaryFile[bytes]) -> bool:
    """Whether a SpooledTemporaryFile has moved to disk."""
    return bool(spool._rolled)  # type: ignore[attr-defined]


class RecordingSpool:
    """A SpooledTemporaryFile that records which thread performs each operation."""

    def __init__(self, max_size: int) -> None:
        self.spool: SpooledTemporaryFile[bytes] = SpooledTemporaryFile(max_size=max_size)  # noqa: SIM115
        self._max_size = max_size
        self.threads: list[tuple[str, bool]] = []

    @property
    def _rolled(self) -> bool:
        return rolled(self.spool)

    def _record(self, name: str) -> None:
        self.threads.append((name, threading.current_thread() is threading.main_thread()))

    def tell(self) -> int:
        return self.spool.tell()

    def write(self, data: bytes) -> int:
        self._record("write")
        return self.spool.write(data)

    def read(self, size: int = -1) -> bytes:
        self._record("read")
        return self.spool.read(size)

    def seek(self, offset: int) -> int:
        self._record("seek")
        return self.spool.seek(offset)

    def close(self) -> None:
        self._record("close")
        self.spool.close()


@pytest.mark.anyio
async def test_upload_file_rollover_happens_in_a_thread() -> None:
    spool = RecordingSpool(max_size=10)
    upload = UploadFile(cast(BinaryIO, spool), size=0)
    await upload.write(b"12345")  # stays in memory: main thread
    assert not rolled(spool.spool)
    await upload.write(b"678901")  # pushes past max_size: worker thread
    assert rolled(spool.spool)
    await upload.write(b"x")  # already on disk: worker thread
    await upload.seek(0)
    assert await upload.read() == b"12345678901x"
    await upload.close()
    assert spool.threads == [
        ("write", True),
        ("write", False),
        ("write", False),
        ("seek", False),
        ("read", False),
        ("close", False),
    ]
    assert upload.size == 12


@pytest.mark.anyio
async def test_upload_file_in_memory_spool_stays_on_loop_thread() -> None:
    spool = RecordingSpool(max_size=100)
    upload = UploadFile(cast(BinaryIO, spool))
    await upload.write(b"abc")
    await upload.seek(0)
    assert await upload.read() == b"abc"
    await upload.close()
    assert all(on_main for _, on_main in spool.threads)


@pytest.mark.anyio
async def test_upload_file_with_real_spooled_file_rolls_to_disk() -> None:
    spool: SpooledTemporaryFile[bytes] = SpooledTemporaryFile(max_size=4)  # noqa: SIM115
    upload = UploadFile(cast(BinaryIO, spool), size=0)
    await upload.write(b"ab")
    assert not rolled(spool)
    await upload.write(b"cdef")
    assert rolled(spool)
    await upload.seek(0)
    assert await upload.read() == b"abcdef"
    await upload.close()
    assert spool.closed
