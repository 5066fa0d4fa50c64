"""Protocol-buffer wire format, just enough to read TensorFlow's bundle protos.

Varints and the (field number, wire type) stream as in
https://protobuf.dev/programming-guides/encoding/. The bundle protos are tiny (a dozen scalar
fields), so a 40-line decoder replaces a dependency on ``protobuf`` and generated code.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

__all__ = ["WireError", "iter_fields", "read_varint"]

_VARINT, _FIXED64, _LENGTH_DELIMITED, _FIXED32 = 0, 1, 2, 5


class WireError(ValueError):
    """Bytes that are not a valid protocol-buffer message (or varint)."""


def read_varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    """Decode the unsigned varint at ``data[pos:]``; returns (value, position after it)."""
    result = shift = 0
    while True:
        if pos >= len(data):
            raise WireError("varint runs past the end of the buffer")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise WireError("varint longer than 10 bytes")


def iter_fields(data: bytes | memoryview) -> Iterator[tuple[int, int | bytes]]:
    """Yield (field number, value) of a message: ints for varint/fixed fields, bytes otherwise.

    Raises:
        WireError: malformed or truncated message, or a deprecated group field.
    """
    pos, end = 0, len(data)
    while pos < end:
        key, pos = read_varint(data, pos)
        field, wire_type = key >> 3, key & 7
        if wire_type == _VARINT:
            value, pos = read_varint(data, pos)
        elif wire_type == _FIXED32:
            if pos + 4 > end:
                raise WireError(f"field {field}: fixed32 runs past the end of the message")
            value = struct.unpack_from("<I", data, pos)[0]
            pos += 4
        elif wire_type == _FIXED64:
            if pos + 8 > end:
                raise WireError(f"field {field}: fixed64 runs past the end of the message")
            value = struct.unpack_from("<Q", data, pos)[0]
            pos += 8
        elif wire_type == _LENGTH_DELIMITED:
            length, pos = read_varint(data, pos)
            if pos + length > end:
                raise WireError(f"field {field}: {length} bytes run past the end of the message")
            value = bytes(data[pos : pos + length])
            pos += length
        else:
            raise WireError(f"field {field}: unsupported wire type {wire_type}")
        yield field, value
