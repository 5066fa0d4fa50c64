"""Append-only JSONL journals of finished inputs, so that interrupted runs resume.

Each finished input (an image, a sampled video frame, a dataset row) is one JSON line with a
``key``; a line is flushed as soon as it is written, so a run that is killed loses at most the
line being written. A run in one process appends to ``predictions.jsonl``; in a job of several
processes each process appends to its own ``parts/predictions.<rank>.jsonl``, and the main
process merges them (:func:`merge_journals`) into ``predictions.jsonl`` before the job starts
(the parts a killed job left) and after it ends. Reading keeps every complete line and drops a
line torn by a kill. A ``run.json`` beside them holds the run's settings and the journal's
format; a run with other settings, or a journal of an older format (faces numbered from 0,
before format 2), is refused rather than resumed into the same folder. Lines are ASCII JSON:
a file name that is not valid UTF-8 (Python keeps its bytes as lone surrogates) is written as
``\\udcXX`` escapes and read back as the same name.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from glamor_zoo.serialization import atomic_write_text

__all__ = [
    "JOURNAL_FORMAT",
    "JOURNAL_NAME",
    "PARTS_NAME",
    "RUN_NAME",
    "JournalMismatchError",
    "JournalWriter",
    "check_settings",
    "merge_journals",
    "part_journal",
    "prepare_folder",
    "read_journal",
]

JOURNAL_NAME = "predictions.jsonl"
RUN_NAME = "run.json"
PARTS_NAME = "parts"
# 2: every face record has its number "face", counted from 1 (format 1 had none; its CSV
# counted faces from 0).
JOURNAL_FORMAT = 2


class JournalMismatchError(ValueError):
    """The output folder holds results of a run with other settings."""


def part_journal(folder: str | Path, rank: int) -> Path:
    """The journal that process ``rank`` of a multi-process job appends to."""
    return Path(folder) / PARTS_NAME / f"predictions.{rank}.jsonl"


def _part_journals(folder: Path) -> list[Path]:
    return sorted((folder / PARTS_NAME).glob("predictions.*.jsonl"))


def read_journal(path: str | Path) -> list[dict[str, Any]]:
    """The complete records of a journal, in order (a torn last line and junk are dropped)."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if not line.endswith("\n"):
            break  # torn last line of a killed run
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "key" in record:
            records.append(record)
    return records


def _settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps({**settings, "journal_format": JOURNAL_FORMAT}))


def check_settings(folder: str | Path, settings: Mapping[str, Any]) -> None:
    """Refuse to resume into ``folder`` when its results come from other settings.

    Reads only, so every process of a job can check and fail alike.

    Raises:
        JournalMismatchError: ``folder`` has results of a run with other ``settings``, or of
            an older journal format.
    """
    folder = Path(folder)
    run_path = folder / RUN_NAME
    has_results = (folder / JOURNAL_NAME).exists() or bool(_part_journals(folder))
    if not (run_path.exists() and has_results):
        return
    previous = json.loads(run_path.read_text(encoding="utf-8"))
    if previous.get("journal_format") != JOURNAL_FORMAT:
        raise JournalMismatchError(
            f"{folder} holds results written by an older glamor-zoo (journal format "
            f"{previous.get('journal_format', 1)}, faces numbered from 0), which this "
            f"version would misread; use another output folder, or --overwrite to start "
            "afresh"
        )
    wanted = _settings(settings)
    changed = sorted(k for k in {*previous, *wanted} if previous.get(k) != wanted.get(k))
    if changed:
        detail = ", ".join(f"{k}: {previous.get(k)!r} → {wanted.get(k)!r}" for k in changed)
        raise JournalMismatchError(
            f"{folder} holds results of a run with other settings ({detail}); "
            "use another output folder, or --overwrite to start afresh"
        )


def merge_journals(folder: str | Path) -> list[dict[str, Any]]:
    """Merge the part journals into ``predictions.jsonl``, one record per key; the records.

    The journal is rewritten atomically (with torn lines dropped) before the parts are
    deleted, so a kill at any moment loses nothing. The first record of a key wins.
    """
    folder = Path(folder)
    journal = folder / JOURNAL_NAME
    parts = _part_journals(folder)
    records: dict[str, dict[str, Any]] = {}
    for path in (journal, *parts):
        for record in read_journal(path):
            records.setdefault(record["key"], record)
    merged = list(records.values())
    text = "".join(json.dumps(r) + "\n" for r in merged)
    if parts or not journal.exists() or journal.read_text(encoding="utf-8") != text:
        atomic_write_text(journal, text)
    shutil.rmtree(folder / PARTS_NAME, ignore_errors=True)
    return merged


def prepare_folder(
    folder: str | Path, settings: Mapping[str, Any], overwrite: bool = False
) -> list[dict[str, Any]]:
    """Make ``folder`` ready for a run (main process only); the records already finished.

    Checks the settings (:func:`check_settings`), or with ``overwrite`` discards earlier
    results; merges what earlier runs left (:func:`merge_journals`); writes ``run.json``.

    Raises:
        JournalMismatchError: see :func:`check_settings`.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if overwrite:
        (folder / JOURNAL_NAME).unlink(missing_ok=True)
        shutil.rmtree(folder / PARTS_NAME, ignore_errors=True)
    else:
        check_settings(folder, settings)
    records = merge_journals(folder)
    atomic_write_text(folder / RUN_NAME, json.dumps(_settings(settings), indent=2) + "\n")
    return records


class JournalWriter:
    """Appends finished records to a journal, one flushed line each.

    Args:
        path: The journal (created with its folder if needed).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.written = 0
        self._handle: IO[str] = self.path.open("a", encoding="utf-8")

    def add(self, record: Mapping[str, Any]) -> None:
        """Append one finished record (it must have a ``key``) and flush it to disk."""
        if "key" not in record:
            raise ValueError("a journal record needs a 'key'")
        self._handle.write(json.dumps(record) + "\n")
        self._handle.flush()
        self.written += 1

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
