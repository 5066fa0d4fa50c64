"""An append-only JSONL journal of finished inputs, so that interrupted runs resume.

Each finished input (an image, or one sampled frame of a video) is one JSON line with a
``key``; a line is flushed as soon as it is written, so a run that is killed loses at most the
line being written. Opening the journal again keeps every complete line, drops a torn last
line, and reports the keys already done. A ``run.json`` beside it holds the run's settings and
the journal's format; a run with other settings, or a journal of an older format (faces
numbered from 0, before format 2), is refused rather than resumed into the same folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from glamor_zoo.serialization import atomic_write_text

__all__ = ["JOURNAL_FORMAT", "JOURNAL_NAME", "RUN_NAME", "Journal", "JournalMismatchError"]

JOURNAL_NAME = "predictions.jsonl"
RUN_NAME = "run.json"
# 2: every face record has its number "face", counted from 1 (format 1 had none; its CSV
# counted faces from 0).
JOURNAL_FORMAT = 2


class JournalMismatchError(ValueError):
    """The output folder holds results of a run with other settings."""


class Journal:
    """Finished records of a run in ``folder/predictions.jsonl``.

    Args:
        folder: The run's output folder (created if needed).
        settings: What must not change between a run and its resumption (model, detector,
            mode, frame sampling…).
        overwrite: Start afresh, discarding earlier results in ``folder``.

    Raises:
        JournalMismatchError: ``folder`` has results of a run with other ``settings``.
    """

    def __init__(
        self, folder: str | Path, settings: Mapping[str, Any], overwrite: bool = False
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / JOURNAL_NAME
        run_path = self.folder / RUN_NAME
        settings = json.loads(json.dumps({**settings, "journal_format": JOURNAL_FORMAT}))
        if overwrite:
            self.path.unlink(missing_ok=True)
        elif run_path.exists() and self.path.exists():
            previous = json.loads(run_path.read_text(encoding="utf-8"))
            if previous.get("journal_format") != JOURNAL_FORMAT:
                raise JournalMismatchError(
                    f"{self.folder} holds results written by an older glamor-zoo (journal format "
                    f"{previous.get('journal_format', 1)}, faces numbered from 0), which this "
                    f"version would misread; use another output folder, or --overwrite to start "
                    "afresh"
                )
            changed = sorted(
                k for k in {*previous, *settings} if previous.get(k) != settings.get(k)
            )
            if changed:
                detail = ", ".join(
                    f"{k}: {previous.get(k)!r} → {settings.get(k)!r}" for k in changed
                )
                raise JournalMismatchError(
                    f"{self.folder} holds results of a run with other settings ({detail}); "
                    "use another output folder, or --overwrite to start afresh"
                )
        atomic_write_text(run_path, json.dumps(settings, indent=2) + "\n")
        self.records: list[dict[str, Any]] = list(self._read_and_repair())
        self.done: set[str] = {record["key"] for record in self.records}
        self.resumed = len(self.records)
        self._handle: IO[str] = self.path.open("a", encoding="utf-8")

    def _read_and_repair(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        text = self.path.read_text(encoding="utf-8")
        good: list[str] = []
        for line in text.splitlines(keepends=True):
            if not line.endswith("\n"):
                break  # torn last line of a killed run
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and "key" in record:
                good.append(line)
                yield record
        repaired = "".join(good)
        if repaired != text:
            atomic_write_text(self.path, repaired)

    def add(self, record: Mapping[str, Any]) -> None:
        """Append one finished record (it must have a ``key``) and flush it to disk."""
        if "key" not in record:
            raise ValueError("a journal record needs a 'key'")
        line = json.dumps(record, ensure_ascii=False)
        self._handle.write(line + "\n")
        self._handle.flush()
        self.records.append(dict(record))
        self.done.add(record["key"])

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
