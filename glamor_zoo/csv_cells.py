"""CSV cells that a spreadsheet cannot run: formula-leading text is neutralised, losslessly.

A text cell that opens with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (or their
full-width forms) is a formula to Excel, LibreOffice and Google Sheets, so a class name such as
``=HYPERLINK("http://…")`` from an untrusted ``config.json`` would run when the CSV is opened.
:func:`neutralize_cell` prefixes such a cell with ``'`` as spreadsheet exporters do; numbers
(also text that reads as a plain number, such as ``-12``) stay as they are. A cell that already
opens with quotes before such a character gets one more, so :func:`restore_cell` gives every
original text back exactly.

A text that cannot be written as UTF-8 (a file name whose bytes are not UTF-8, which Python
holds as lone surrogates) has those bytes written as ``\\xNN`` escapes, so the row can be
written at all; :func:`restore_cell` does not undo that.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

__all__ = ["neutralize_cell", "neutralize_row", "restore_cell"]

_FORMULA = re.compile(r"'*[=+\-@\t\r\uff1d\uff0b\uff0d\uff20]")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _is_formula(text: str) -> bool:
    return bool(_FORMULA.match(text)) and not _NUMBER.fullmatch(text.lstrip("'"))


def neutralize_cell(value: Any) -> Any:
    """``value`` as a safe CSV cell: formula-leading text gets a leading ``'``, bytes that are
    not UTF-8 ``\\xNN`` escapes; the rest as is."""
    if not isinstance(value, str):
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        try:
            value = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:  # a surrogate that is no escaped byte
            value = value.encode("utf-8", "backslashreplace").decode("ascii")
    return "'" + value if _is_formula(value) else value


def neutralize_row(row: Iterable[Any]) -> list[Any]:
    """:func:`neutralize_cell` of every cell of a row."""
    return [neutralize_cell(v) for v in row]


def restore_cell(text: str) -> str:
    """The original text of a cell :func:`neutralize_cell` wrote (its inverse)."""
    if text.startswith("'") and _is_formula(text[1:]):
        return text[1:]
    return text
