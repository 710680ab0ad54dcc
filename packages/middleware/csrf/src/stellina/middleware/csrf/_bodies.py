"""Request bodies: finding the token's form field without consuming the body the app reads."""

from __future__ import annotations

import re
from collections import deque
from urllib.parse import unquote_to_bytes

from stellina.types import Message, Receive

URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
# One ``; key=value`` parameter of a header value, the value a token or a quoted string.
_PARAMETER = re.compile(r'\s*;\s*([^\s;=]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))')
_QUOTED_PAIR = re.compile(r"\\(.)")
# The end of the blanks a delimiter line may end with (RFC 2046 transport padding).
_NOT_BLANK = re.compile(rb"[^ \t]")
# RFC 2046: 1 to 70 characters, not ending with a space.
BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")


def header_parameter(value: str, key: str) -> str | None:
    """The ``key`` (lowercase) parameter of a header value like ``type; key=value``."""
    position = value.find(";")
    while position != -1:
        match = _PARAMETER.match(value, position)
        if match is None:
            return None
        if match[1].lower() == key:
            quoted = match[2]
            return match[3].strip() if quoted is None else _QUOTED_PAIR.sub(r"\1", quoted)
        position = match.end()
    return None


class UrlencodedScan:
    """Finds a field's value in an urlencoded body fed in pieces, in linear time.

    The name is searched for as clients send it: a field name is made of characters no
    encoder escapes (see `_FIELD_NAME`), so the search is a plain ``bytes.find``; only
    complete pairs (ended by ``&`` or by the end of the body) are looked at.
    """

    __slots__ = ("data", "name", "searched", "start")

    def __init__(self, field: str) -> None:
        self.name = field.encode("ascii")
        self.data = bytearray()
        self.start = 0  # where the pairs not searched yet begin
        self.searched = 0  # where the search for the last '&' resumes

    def feed(self, chunk: bytes, final: bool) -> bytes | None:
        """The field's value once it is complete; None until then (or at the end, if absent)."""
        data, name = self.data, self.name
        data += chunk
        end = len(data) if final else data.rfind(b"&", self.searched) + 1
        self.searched = len(data)
        position = self.start
        if end <= position:
            return None
        self.start = end
        while (found := data.find(name, position, end)) != -1:
            after = found + len(name)
            if found == 0 or data[found - 1] == 0x26:  # at the start of a pair
                if after == end or data[after] == 0x26:  # "&csrf_token&": an empty value
                    return b""
                if data[after] == 0x3D:  # "="
                    value_end = data.find(b"&", after, end)
                    raw = data[after + 1 : end if value_end == -1 else value_end]
                    return unquote_to_bytes(bytes(raw).replace(b"+", b" "))
            position = found + 1
        return None


class MultipartScan:
    """Finds a field's value in a multipart body fed in pieces, in linear time.

    Only delimiter lines and part headers are parsed; the content of the other parts is
    skipped over. The body gets a leading CRLF so that the first delimiter, which may open
    the body, is found like the others. A delimiter is ``CRLF--boundary`` followed by ``--``
    (the last one) or by optional blanks and a CRLF; anything else is part content.
    """

    __slots__ = (
        "block",
        "content",
        "data",
        "delimiter",
        "field",
        "found",
        "position",
        "state",
        "wanted",
    )

    _SEEK, _LINE, _HEADERS, _DONE = range(4)

    def __init__(self, field: str, boundary: bytes) -> None:
        self.field = field
        self.delimiter = b"\r\n--" + boundary
        self.data = bytearray(b"\r\n")
        self.state = self._SEEK
        self.position = 0  # where the current search resumes
        self.found = 0  # where the delimiter being checked begins
        self.block = 0  # where the current part's header block begins (at a CRLF)
        self.content = 0  # where the current part's content begins
        self.wanted = False  # the current part is the field

    def feed(self, chunk: bytes, final: bool) -> bytes | None:
        """The field's value once its part is complete; None until then (or if absent)."""
        data = self.data
        data += chunk
        while True:
            if self.state == self._SEEK:
                found = data.find(self.delimiter, self.position)
                if found == -1:
                    self.position = max(self.position, len(data) - len(self.delimiter) + 1)
                    return None
                self.found = found
                self.position = found + len(self.delimiter)
                self.state = self._LINE
            elif self.state == self._LINE:
                after = self.found + len(self.delimiter)
                if len(data) < after + 2:
                    return None
                if data[after : after + 2] == b"--":  # the last delimiter
                    self.state = self._DONE
                    return bytes(data[self.content : self.found]) if self.wanted else None
                blanks_end = _NOT_BLANK.search(data, self.position)
                if blanks_end is None:  # transport padding, so far
                    self.position = len(data)
                    return None
                self.position = blanks_end.start()
                if len(data) < self.position + 2:
                    return None
                if data[self.position : self.position + 2] != b"\r\n":  # content, after all
                    self.position = self.found + 1
                    self.state = self._SEEK
                elif self.wanted:
                    return bytes(data[self.content : self.found])
                else:
                    self.block = self.position  # from the CRLF: an empty block is found too
                    self.state = self._HEADERS
            elif self.state == self._HEADERS:
                end = data.find(b"\r\n\r\n", self.position)
                if end == -1:
                    self.position = max(self.position, len(data) - 3)
                    return None
                self.wanted = self._names_field(bytes(data[self.block + 2 : end]))
                self.content = self.position = end + 4
                self.state = self._SEEK
            else:
                return None

    def _names_field(self, block: bytes) -> bool:
        """Whether a part's header block names the field in its Content-Disposition."""
        for line in block.decode("latin-1").split("\r\n"):
            name, colon, value = line.partition(":")
            if colon and name.strip().lower() == "content-disposition":
                return header_parameter(value, "name") == self.field
        return False


class Replay:
    """A ``receive`` that hands out the buffered body messages, then the server's."""

    __slots__ = ("buffered", "receive")

    def __init__(self, buffered: deque[Message], receive: Receive) -> None:
        self.buffered = buffered
        self.receive = receive

    async def __call__(self) -> Message:
        if self.buffered:
            return self.buffered.popleft()
        return await self.receive()
