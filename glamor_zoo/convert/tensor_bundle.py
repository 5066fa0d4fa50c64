"""Read TensorFlow 2 checkpoints (tensor bundles) into numpy arrays, without TensorFlow.

A checkpoint ``PREFIX`` written by ``tf.train.Checkpoint`` / Keras ``model.save_weights`` is
``PREFIX.index`` plus the data shards ``PREFIX.data-0000K-of-0000N``. Sources for the format:

- ``tensorflow/core/util/tensor_bundle/tensor_bundle.{h,cc}``: the index is a LevelDB table
  (see :mod:`glamor_zoo.convert.sstable`) whose empty key holds a ``BundleHeaderProto``
  (num_shards, endianness, version) and whose other keys are variable names mapped to
  ``BundleEntryProto`` (dtype, shape, shard_id, offset, size, masked crc32c, slices);
- ``tensorflow/core/protobuf/tensor_bundle.proto`` and ``tensor_shape.proto``: field numbers;
- ``tensorflow/core/framework/types.proto``: dtype codes;
- a tensor is ``size`` raw bytes at ``offset`` in shard ``shard_id`` (row-major, the header's
  byte order), and the entry's crc32c covers exactly those bytes;
- a string tensor (``WriteStringTensor``) is the varint lengths of its elements, the masked
  CRC-32C of the lengths, then the bytes; its entry's crc32c covers each length as a fixed
  4-byte (8 if over 2**32 - 1) little-endian integer, the 4 checksum bytes, then the bytes.

Every index block and every tensor is checked against its stored CRC-32C. Entries of
partitioned variables (``slices``) are not supported: Keras never writes them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from glamor_zoo.convert._wire import WireError, iter_fields, read_varint
from glamor_zoo.convert.crc32c import crc32c, unmask
from glamor_zoo.convert.sstable import TableError, iter_table

__all__ = [
    "OBJECT_GRAPH_KEY",
    "BundleEntry",
    "ChecksumError",
    "MissingShardError",
    "TFCheckpointError",
    "TensorBundle",
    "read_checkpoint",
    "resolve_prefix",
]

OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"

# tensorflow/core/framework/types.proto → numpy (little-endian; swapped for big-endian bundles).
_DTYPES: dict[int, str] = {
    1: "float32",
    2: "float64",
    3: "int32",
    4: "uint8",
    5: "int16",
    6: "int8",
    7: "string",
    9: "int64",
    10: "bool",
    14: "bfloat16",
    17: "uint16",
    19: "float16",
    22: "uint32",
    23: "uint64",
}
_LITTLE, _BIG = 0, 1


class TFCheckpointError(ValueError):
    """A TensorFlow checkpoint that cannot be read: truncated, corrupt, or not a tensor bundle.

    Args:
        message: What is wrong, naming the file and the variable.
        path: The file at fault.
        variable: The variable concerned, when there is one.

    Attributes:
        path: The file at fault, as a Path (or ``None``).
        variable: As given.
    """

    def __init__(
        self, message: str, path: str | Path | None = None, variable: str | None = None
    ) -> None:
        super().__init__(message)
        self.path = None if path is None else Path(path)
        self.variable = variable


class ChecksumError(TFCheckpointError):
    """Stored and computed CRC-32C differ: the file is corrupt."""


class MissingShardError(TFCheckpointError):
    """A data shard named by the index does not exist."""


@dataclass(frozen=True)
class BundleEntry:
    """Where and how one tensor is stored (a decoded ``BundleEntryProto``).

    Attributes:
        name: The variable's checkpoint key.
        dtype: numpy dtype name, or ``"string"`` / ``"bfloat16"``.
        shape: The tensor's shape.
        shard_id: Index of the data shard.
        offset: Byte offset in the shard.
        size: Byte size in the shard.
        crc32c: The CRC-32C of those bytes (unmasked).
    """

    name: str
    dtype: str
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: int


def _int64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _parse_shape(data: bytes) -> tuple[int, ...]:
    dims = []
    for field, value in iter_fields(data):
        if field == 2:  # repeated Dim {int64 size = 1; string name = 2}
            size = 0
            for dim_field, dim_value in iter_fields(value):
                if dim_field == 1:
                    size = _int64(dim_value)
            dims.append(size)
        elif field == 3 and value:
            raise WireError("tensor shape of unknown rank")
    return tuple(dims)


def _parse_entry(name: str, data: bytes) -> BundleEntry:
    fields: dict[str, object] = {
        "dtype": 0,
        "shape": (),
        "shard_id": 0,
        "offset": 0,
        "size": 0,
        "crc32c": 0,
    }
    for field, value in iter_fields(data):
        if field == 1:
            fields["dtype"] = value
        elif field == 2:
            fields["shape"] = _parse_shape(value)
        elif field == 3:
            fields["shard_id"] = value
        elif field == 4:
            fields["offset"] = value
        elif field == 5:
            fields["size"] = value
        elif field == 6:
            fields["crc32c"] = unmask(value)
        elif field == 7:
            raise WireError("partitioned variables (slices) are not supported")
    code = int(fields.pop("dtype"))
    if code not in _DTYPES:
        raise WireError(f"unsupported TensorFlow dtype code {code}")
    return BundleEntry(name=name, dtype=_DTYPES[code], **fields)  # type: ignore[arg-type]


def _parse_header(data: bytes) -> tuple[int, int]:
    num_shards, endianness = 1, _LITTLE
    for field, value in iter_fields(data):
        if field == 1:
            num_shards = int(value)
        elif field == 2:
            endianness = int(value)
    return num_shards, endianness


def _string_lengths(entry: BundleEntry, data: bytes, path: Path) -> tuple[list[int], int]:
    """The element lengths of a string tensor and where its 4-byte length checksum starts."""
    lengths, pos = [], 0
    try:
        for _ in range(math.prod(entry.shape)):
            length, pos = read_varint(data, pos)
            lengths.append(length)
    except WireError as exc:
        raise TFCheckpointError(
            f"{path}: string variable {entry.name!r} is corrupt ({exc})", path, entry.name
        ) from None
    return lengths, pos


def _string_crc32c(entry: BundleEntry, data: bytes, path: Path) -> int:
    lengths, pos = _string_lengths(entry, data, path)
    crc = 0
    for length in lengths:
        crc = crc32c(length.to_bytes(4 if length <= 0xFFFFFFFF else 8, "little"), crc)
    return crc32c(data[pos:], crc)


def resolve_prefix(path: str | Path) -> Path:
    """The checkpoint prefix named by ``path``.

    Accepts the prefix itself (``.../Model``), its ``.index`` or a ``.data-*`` file, or a folder
    holding a TF ``checkpoint`` file or exactly one ``*.index``.

    Raises:
        FileNotFoundError: nothing there looks like a TF checkpoint.
    """
    path = Path(path)
    if path.is_dir():
        state = path / "checkpoint"
        if state.is_file():
            for line in state.read_text().splitlines():
                if line.startswith("model_checkpoint_path:"):
                    name = line.split(":", 1)[1].strip().strip('"')
                    return resolve_prefix(path / name)
        indexes = sorted(path.glob("*.index"))
        if len(indexes) == 1:
            return indexes[0].with_suffix("")
        raise FileNotFoundError(
            f"{path} is a folder without a TF 'checkpoint' file and with {len(indexes)} '*.index' "
            "files; pass the checkpoint prefix (e.g. weights/glamor-net/Model)"
        )
    name = path.name
    if name.endswith(".index"):
        path = path.with_name(name[: -len(".index")])
    elif ".data-" in name:
        path = path.with_name(name[: name.rindex(".data-")])
    if not path.with_name(path.name + ".index").is_file():
        raise FileNotFoundError(
            f"no TensorFlow checkpoint at {path}: {path.name}.index does not exist (pass the "
            "prefix shared by PREFIX.index and PREFIX.data-*, e.g. weights/glamor-net/Model)"
        )
    return path


class TensorBundle:
    """A TF2 checkpoint opened for reading: its entries, and each tensor on demand.

    Args:
        prefix: The checkpoint (see :func:`resolve_prefix` for the accepted spellings).
        verify: Check each tensor's CRC-32C when it is read.

    Raises:
        FileNotFoundError: no checkpoint there.
        TFCheckpointError: the index is truncated or corrupt, or not a tensor bundle.
        MissingShardError: a data shard is missing.

    Example:
        >>> bundle = TensorBundle("weights/glamor-net/Model")
        >>> bundle.variables()["final_classify/kernel/.ATTRIBUTES/VARIABLE_VALUE"]
        (128, 7)
        >>> kernel = bundle.read("final_classify/kernel/.ATTRIBUTES/VARIABLE_VALUE")
    """

    def __init__(self, prefix: str | Path, verify: bool = True) -> None:
        self.prefix = resolve_prefix(prefix)
        self.index_path = self.prefix.with_name(self.prefix.name + ".index")
        self.verify = verify
        header: tuple[int, int] | None = None
        entries: dict[str, BundleEntry] = {}
        name = ""
        try:
            for key, value in iter_table(self.index_path):
                name = key.decode("utf-8", errors="replace")
                if key == b"":
                    header = _parse_header(value)
                else:
                    entries[name] = _parse_entry(name, value)
        except TableError as exc:
            raise TFCheckpointError(str(exc), self.index_path) from None
        except WireError as exc:
            raise TFCheckpointError(
                f"{self.index_path}: entry {name!r} is not a tensor-bundle record ({exc}); "
                "is this a TensorFlow 2 checkpoint index?",
                self.index_path,
                name or None,
            ) from None
        if header is None:
            raise TFCheckpointError(
                f"{self.index_path}: no bundle header; this is a LevelDB table but not a "
                "TensorFlow checkpoint index",
                self.index_path,
            )
        self.num_shards, endianness = header
        self._byte_order = ">" if endianness == _BIG else "<"
        self.entries = entries
        for entry in entries.values():
            if not 0 <= entry.shard_id < self.num_shards:
                raise TFCheckpointError(
                    f"{self.index_path}: variable {entry.name!r} is in shard {entry.shard_id} of a "
                    f"{self.num_shards}-shard checkpoint; the index is corrupt",
                    self.index_path,
                    entry.name,
                )
        for shard in range(self.num_shards):
            path = self.shard_path(shard)
            if not path.is_file():
                held = sorted(e.name for e in entries.values() if e.shard_id == shard)
                raise MissingShardError(
                    f"data shard {path} is missing ({len(held)} variables live in it, e.g. "
                    f"{held[0] if held else '-'!r}); copy every {self.prefix.name}.data-* file "
                    "next to the index",
                    path,
                    held[0] if held else None,
                )

    def shard_path(self, shard_id: int) -> Path:
        """The file of data shard ``shard_id``."""
        return self.prefix.with_name(
            f"{self.prefix.name}.data-{shard_id:05d}-of-{self.num_shards:05d}"
        )

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def variables(self) -> dict[str, tuple[int, ...]]:
        """Name → shape of every stored tensor, like ``tf.train.list_variables``."""
        return {name: entry.shape for name, entry in self.entries.items()}

    def read_bytes(self, name: str) -> bytes:
        """The raw stored bytes of tensor ``name``, checksum-verified if ``verify``.

        Raises:
            KeyError: no such tensor.
            TFCheckpointError: its shard is truncated; ChecksumError: its bytes are corrupt.
        """
        if name not in self.entries:
            raise KeyError(f"{name!r} is not in checkpoint {self.prefix}")
        entry = self.entries[name]
        path = self.shard_path(entry.shard_id)
        with path.open("rb") as handle:
            handle.seek(entry.offset)
            data = handle.read(entry.size)
        if len(data) != entry.size:
            raise TFCheckpointError(
                f"{path} is truncated: variable {name!r} needs bytes {entry.offset}.."
                f"{entry.offset + entry.size} but the file has {path.stat().st_size} bytes",
                path,
                name,
            )
        if self.verify:
            actual = _string_crc32c(entry, data, path) if entry.dtype == "string" else crc32c(data)
            if actual != entry.crc32c:
                raise ChecksumError(
                    f"{path}: checksum mismatch for variable {name!r} (stored crc32c "
                    f"{entry.crc32c:#010x}, computed {actual:#010x}); the file is corrupt",
                    path,
                    name,
                )
        return data

    def read(self, name: str) -> np.ndarray:
        """Tensor ``name`` as a numpy array (strings: an object array of ``bytes``).

        ``bfloat16`` tensors are widened to ``float32`` (exactly).

        Raises:
            KeyError: no such tensor.
            TFCheckpointError: truncated shard, corrupt bytes, or a size that disagrees with the shape.
        """
        data = self.read_bytes(name)
        entry = self.entries[name]
        count = math.prod(entry.shape)
        if entry.dtype == "string":
            return self._strings(entry, data, count)
        if entry.dtype == "bfloat16":
            raw = self._frombuffer(entry, data, "u2", count)
            return (raw.astype(np.uint32) << 16).view(np.float32).reshape(entry.shape)
        array = self._frombuffer(entry, data, entry.dtype, count)
        return array.astype(array.dtype.newbyteorder("=")).reshape(entry.shape)  # a writable copy

    def _frombuffer(
        self, entry: BundleEntry, data: bytes, dtype: str | np.dtype, count: int
    ) -> np.ndarray:
        dtype = np.dtype(dtype).newbyteorder(self._byte_order)
        if count * dtype.itemsize != len(data):
            raise TFCheckpointError(
                f"{self.shard_path(entry.shard_id)}: variable {entry.name!r} of shape {entry.shape} "
                f"({entry.dtype}) should take {count * dtype.itemsize} bytes, the index says "
                f"{len(data)}; the index is corrupt",
                self.shard_path(entry.shard_id),
                entry.name,
            )
        return np.frombuffer(data, dtype=dtype, count=count)

    def _strings(self, entry: BundleEntry, data: bytes, count: int) -> np.ndarray:
        path = self.shard_path(entry.shard_id)
        lengths, pos = _string_lengths(entry, data, path)
        pos += 4  # the masked CRC-32C of the lengths
        if pos + sum(lengths) != len(data):
            raise TFCheckpointError(
                f"{path}: string variable {entry.name!r} is corrupt (its lengths add up to "
                f"{pos + sum(lengths)} bytes, the index says {len(data)})",
                path,
                entry.name,
            )
        values = []
        for length in lengths:
            values.append(data[pos : pos + length])
            pos += length
        array = np.empty(count, dtype=object)
        array[:] = values
        return array.reshape(entry.shape)


def read_checkpoint(
    prefix: str | Path,
    names: Iterable[str] | None = None,
    include_object_graph: bool = False,
    verify: bool = True,
) -> dict[str, np.ndarray]:
    """Read a TF2 checkpoint into numpy arrays, without TensorFlow.

    Args:
        prefix: The checkpoint (prefix, ``.index`` file, or folder; see :func:`resolve_prefix`).
        names: Only these variables (default: all).
        include_object_graph: Also return the serialized ``_CHECKPOINTABLE_OBJECT_GRAPH``.
        verify: Check every tensor's CRC-32C.

    Returns:
        Checkpoint key (e.g. ``final_fc1/kernel/.ATTRIBUTES/VARIABLE_VALUE``) → array, in the
        index's (sorted) order.

    Raises:
        FileNotFoundError: no checkpoint there.
        TFCheckpointError: missing shard, truncated file, checksum mismatch, or not a tensor bundle.
    """
    bundle = TensorBundle(prefix, verify=verify)
    wanted = list(bundle) if names is None else list(names)
    return {
        name: bundle.read(name)
        for name in wanted
        if include_object_graph or name != OBJECT_GRAPH_KEY
    }
