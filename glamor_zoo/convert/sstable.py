"""A reader for LevelDB-format tables (SSTables), the container of a TF checkpoint's ``.index``.

Format: https://github.com/google/leveldb/blob/main/doc/table_format.md (TensorFlow's copy:
``tensorflow/tsl/lib/io/table_builder.cc``, ``block_builder.cc``, ``format.cc``):

- a 48-byte footer: the block handles (varint offset, varint size) of the meta-index and the
  index block, padding, and the magic number 0xdb4775248b80fb57;
- every block is followed by a 5-byte trailer: compression type (0 none, 1 Snappy) and the
  masked CRC-32C of the block contents and the type byte;
- a block holds prefix-compressed entries (varint shared, varint non-shared, varint value
  length, key suffix, value) then a restart array, which a full scan does not need;
- the index block maps separator keys to the handles of the data blocks, in key order.

Every block checksum is verified.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

from glamor_zoo.convert import snappy
from glamor_zoo.convert._wire import WireError, read_varint
from glamor_zoo.convert.crc32c import crc32c, unmask

__all__ = ["TableError", "iter_table"]

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
_TRAILER_SIZE = 5
_NO_COMPRESSION, _SNAPPY = 0, 1


class TableError(ValueError):
    """A table file that is truncated, corrupt, or not a LevelDB table."""


def _block(data: bytes, offset: int, size: int, path: Path, what: str) -> bytes:
    if offset + size + _TRAILER_SIZE > len(data):
        raise TableError(
            f"{path}: {what} at bytes {offset}..{offset + size + _TRAILER_SIZE} lies past the end "
            f"of the file ({len(data)} bytes); the file is truncated"
        )
    contents = data[offset : offset + size]
    kind = data[offset + size]
    stored = struct.unpack_from("<I", data, offset + size + 1)[0]
    actual = crc32c(data[offset : offset + size + 1])
    if unmask(stored) != actual:
        raise TableError(
            f"{path}: checksum mismatch in the {what} at byte {offset} (stored crc32c "
            f"{unmask(stored):#010x}, computed {actual:#010x}); the file is corrupt"
        )
    if kind == _NO_COMPRESSION:
        return contents
    if kind == _SNAPPY:
        try:
            return snappy.decompress(contents)
        except snappy.SnappyError as exc:
            raise TableError(f"{path}: {what} at byte {offset}: bad Snappy data: {exc}") from None
    raise TableError(f"{path}: {what} at byte {offset} has unknown compression type {kind}")


def _entries(block: bytes, path: Path, what: str) -> Iterator[tuple[bytes, bytes]]:
    if len(block) < 4:
        raise TableError(f"{path}: {what} is too short to be a table block")
    num_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * num_restarts
    if end < 0:
        raise TableError(f"{path}: {what} has a corrupt restart array")
    key = b""
    pos = 0
    try:
        while pos < end:
            shared, pos = read_varint(block, pos)
            non_shared, pos = read_varint(block, pos)
            value_len, pos = read_varint(block, pos)
            if shared > len(key) or pos + non_shared + value_len > end:
                raise TableError(f"{path}: {what} has a corrupt entry at byte {pos}")
            key = key[:shared] + block[pos : pos + non_shared]
            pos += non_shared
            yield key, block[pos : pos + value_len]
            pos += value_len
    except WireError as exc:
        raise TableError(f"{path}: {what} has a corrupt entry: {exc}") from None


def _handle(value: bytes, path: Path, what: str) -> tuple[int, int]:
    try:
        offset, pos = read_varint(value, 0)
        size, _ = read_varint(value, pos)
    except WireError as exc:
        raise TableError(f"{path}: corrupt block handle in the {what}: {exc}") from None
    return offset, size


def iter_table(path: str | Path) -> Iterator[tuple[bytes, bytes]]:
    """Yield every (key, value) of the table at ``path``, in key order.

    Raises:
        FileNotFoundError: no such file.
        TableError: the file is truncated, corrupt, or not a LevelDB table.
    """
    path = Path(path)
    data = path.read_bytes()
    if len(data) < FOOTER_SIZE:
        raise TableError(
            f"{path}: {len(data)} bytes is too short for a table footer ({FOOTER_SIZE} bytes); "
            "the file is truncated or not a TensorFlow checkpoint index"
        )
    footer = data[-FOOTER_SIZE:]
    if struct.unpack_from("<Q", footer, FOOTER_SIZE - 8)[0] != TABLE_MAGIC:
        raise TableError(
            f"{path}: no table magic number at the end of the file; the file is truncated or "
            "not a TensorFlow checkpoint index"
        )
    try:
        _, pos = read_varint(footer, 0)  # meta-index handle: unused
        _, pos = read_varint(footer, pos)
        index_offset, pos = read_varint(footer, pos)
        index_size, _ = read_varint(footer, pos)
    except WireError as exc:
        raise TableError(f"{path}: corrupt table footer: {exc}") from None
    index = _block(data, index_offset, index_size, path, "index block")
    for _, handle in _entries(index, path, "index block"):
        offset, size = _handle(handle, path, "index block")
        yield from _entries(_block(data, offset, size, path, "data block"), path, "data block")
