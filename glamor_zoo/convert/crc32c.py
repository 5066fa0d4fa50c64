"""CRC-32C (Castagnoli), and the "masked" form LevelDB and TensorFlow store.

CRC-32C is the reflected CRC with polynomial 0x1EDC6F41 (reversed 0x82F63B78), initial value
and final xor 0xFFFFFFFF (RFC 3720 §B.4; check value ``crc32c(b"123456789") == 0xE3069283``).
LevelDB's ``crc32c::Mask`` (util/crc32c.h, reused by TensorFlow's tensor bundles) rotates the
CRC right by 15 bits and adds 0xA282EAD8, so that a CRC stored next to the data it covers does
not look like data.

# NOTE: implemented here instead of depending on ``crc32c``/``google-crc32c``: checkpoints are
# read once per conversion, and a numpy version (many chunks in parallel, then combined) checks
# the 8.6 MB of the official checkpoint in well under a second.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["crc32c", "mask", "unmask"]

_POLY = 0x82F63B78
_MASK_DELTA = 0xA282EAD8
_CHUNK = 4096  # bytes per lane of the vectorised path
_VECTOR_MIN = 1 << 16  # below this, the byte loop is faster than numpy's overhead


@functools.cache
def _table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


def _update(register: int, data: bytes | memoryview) -> int:
    table = _table()
    for byte in data:
        register = table[(register ^ byte) & 0xFF] ^ (register >> 8)
    return register


@functools.cache
def _np_table() -> np.ndarray:
    return np.array(_table(), dtype=np.uint32)


@functools.cache
def _shift_operator(length: int) -> tuple[int, ...]:
    """Images of the 32 unit registers after ``length`` zero bytes (a linear map over GF(2))."""
    table = _np_table()
    registers = np.left_shift(np.uint32(1), np.arange(32, dtype=np.uint32))
    for _ in range(length):
        registers = table[registers & 0xFF] ^ (registers >> 8)
    return tuple(int(r) for r in registers)


def _apply(operator: tuple[int, ...], register: int) -> int:
    out = 0
    bit = 0
    while register:
        if register & 1:
            out ^= operator[bit]
        register >>= 1
        bit += 1
    return out


def _crc32c_vectorised(data: bytes | memoryview, register: int) -> int:
    # Starting from ``register`` is the same as xoring the first 4 data bytes with it (little
    # endian) and starting from 0, and a register of 0 is unchanged by leading zero bytes. So:
    # fold the register into the first 4 bytes, left-pad with zeros to whole chunks, run every
    # chunk from 0 in parallel, then combine: crc(a || b) = shift_len(b)(crc(a)) ^ crc(b).
    buf = np.frombuffer(data, dtype=np.uint8)
    lanes = -(-buf.size // _CHUNK)
    padded = np.zeros(lanes * _CHUNK, dtype=np.uint8)
    start = padded.size - buf.size
    padded[start:] = buf
    padded[start : start + 4] ^= np.frombuffer(register.to_bytes(4, "little"), dtype=np.uint8)
    chunks = padded.reshape(lanes, _CHUNK).T.copy()  # (CHUNK, lanes): rows are contiguous
    table = _np_table()
    registers = np.zeros(lanes, dtype=np.uint32)
    for row in chunks:
        registers = table[(registers ^ row) & 0xFF] ^ (registers >> 8)
    operator = _shift_operator(_CHUNK)
    crc = 0
    for lane in registers.tolist():
        crc = _apply(operator, crc) ^ lane
    return crc ^ 0xFFFFFFFF


def crc32c(data: bytes | memoryview, crc: int = 0) -> int:
    """The CRC-32C of ``data`` (unmasked), continuing from ``crc``, the CRC of earlier data.

    ``crc32c(b, crc32c(a)) == crc32c(a + b)``, like ``zlib.crc32`` and LevelDB's ``Extend``.
    """
    register = crc ^ 0xFFFFFFFF
    if len(data) >= _VECTOR_MIN:
        return _crc32c_vectorised(data, register)
    return _update(register, data) ^ 0xFFFFFFFF


def mask(crc: int) -> int:
    """LevelDB/TensorFlow's masked form of ``crc``, as stored in tables and bundle entries."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def unmask(masked: int) -> int:
    """Inverse of :func:`mask`."""
    rot = (masked - _MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF
