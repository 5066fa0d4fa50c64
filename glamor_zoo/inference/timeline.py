"""Per-person emotion timelines and summaries of a tracked video, and the files they go to.

From the records of a tracked video (:mod:`glamor_zoo.inference.tracked`):

- :func:`timeline_rows`: one :class:`TimelineRow` per tracked face per sampled frame: time,
  frame, shot, track, box, the raw and the smoothed probabilities, the label shown (smoothed),
  and whether the track is ``short`` (seen for less than ``min_track`` seconds);
- :func:`summarize_tracks`: one :class:`TrackSummary` per track that is not short: first and
  last sighting, duration, dominant emotion, the share of its sampled frames in each emotion,
  mean confidence;
- :func:`write_video_tracks`: the same for every video of a prediction run, in
  ``DIR/tracks/<video>/``;
- :func:`write_track_files`: ``timeline.csv`` (and ``timeline.parquet`` when pyarrow is
  installed, as with the ``data`` extra), ``summary.csv``, ``summary.json`` and
  ``timeline.png`` in a folder, each written through a temporary file and renamed.

CSV text cells that a spreadsheet would run as a formula (``=…``, ``+…``, ``-…``, ``@…``) are
neutralised (:mod:`glamor_zoo.csv_cells`).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from glamor_zoo.csv_cells import neutralize_cell
from glamor_zoo.inference.tracking import TrackingOptions
from glamor_zoo.serialization import atomic_write_bytes, atomic_write_text, open_temp_beside

__all__ = [
    "TRACK_FILES",
    "TimelineRow",
    "TrackSummary",
    "summarize_tracks",
    "timeline_rows",
    "write_track_files",
    "write_video_tracks",
]

TRACK_FILES = ("timeline.csv", "timeline.parquet", "summary.csv", "summary.json", "timeline.png")


@dataclass(frozen=True)
class TimelineRow:
    """One tracked face in one sampled frame.

    Attributes:
        input: The video.
        time: The frame's time in seconds.
        frame: The frame's number in the video.
        shot: The shot (0 for the first; one more after each cut).
        track: The track (person) id.
        short: The track is seen for less than the minimum track length.
        box: (x1, y1, x2, y2) in the frame's pixels.
        score: The detector's score.
        label: The label shown: the most probable class of the smoothed probabilities.
        confidence: Its smoothed probability.
        raw_label: The most probable class of this frame alone.
        probabilities: This frame's probabilities.
        smoothed: The track's smoothed probabilities at this frame.
    """

    input: str
    time: float
    frame: int
    shot: int
    track: int
    short: bool
    box: tuple[float, float, float, float]
    score: float | None
    label: str
    confidence: float
    raw_label: str
    probabilities: dict[str, float]
    smoothed: dict[str, float]

    def flat(self, labels: Sequence[str]) -> dict[str, Any]:
        """The row as table cells: ``x1`` … ``y2``, ``p_<label>`` raw, ``s_<label>`` smoothed."""
        row: dict[str, Any] = {
            "input": self.input,
            "time": self.time,
            "frame": self.frame,
            "shot": self.shot,
            "track": self.track,
            "short": self.short,
            **dict(zip(("x1", "y1", "x2", "y2"), self.box, strict=True)),
            "score": self.score,
            "label": self.label,
            "confidence": self.confidence,
            "raw_label": self.raw_label,
        }
        row.update({f"p_{k}": self.probabilities[k] for k in labels})
        row.update({f"s_{k}": self.smoothed[k] for k in labels})
        return row


@dataclass(frozen=True)
class TrackSummary:
    """One person (track) over a video.

    Attributes:
        input: The video.
        track: The track id.
        shot: The shot it is in.
        first_seen: Time of its first sighting, in seconds.
        last_seen: Time of its last sighting.
        duration: ``last_seen - first_seen``.
        frames: Sampled frames it is seen in.
        dominant: The label shown most often.
        shares: Per class, the share of its frames shown with that label (sums to 1).
        mean_confidence: Mean smoothed probability of the label shown.
    """

    input: str
    track: int
    shot: int
    first_seen: float
    last_seen: float
    duration: float
    frames: int
    dominant: str
    shares: dict[str, float] = field(default_factory=dict)
    mean_confidence: float = 0.0

    def flat(self, labels: Sequence[str]) -> dict[str, Any]:
        """The summary as table cells, ``share_<label>`` per class."""
        row = {k: v for k, v in asdict(self).items() if k != "shares"}
        row.update({f"share_{k}": self.shares.get(k, 0.0) for k in labels})
        return row


def timeline_rows(
    records: Iterable[Mapping[str, Any]],
    labels: Sequence[str],
    options: TrackingOptions | None = None,
) -> list[TimelineRow]:
    """The tracked faces of a video's records, in frame order (faces with no track left out).

    Args:
        records: The video's records (``predict --format json`` with tracking).
        labels: The model's class names.
        options: Where ``min_track`` comes from (default: :class:`TrackingOptions`).
    """
    min_track = (options or TrackingOptions()).min_track
    raw: list[dict[str, Any]] = []
    for record in records:
        if record.get("frame") is None or record.get("error"):
            continue
        for face in record.get("faces") or []:
            if face.get("track") is None or face.get("smoothed_probabilities") is None:
                continue
            raw.append({"record": record, "face": face})
    raw.sort(key=lambda r: (r["record"]["frame"], r["face"]["track"]))
    seen: dict[int, list[float]] = {}
    for item in raw:
        seen.setdefault(item["face"]["track"], []).append(float(item["record"]["time"]))
    short = {track: max(times) - min(times) < min_track for track, times in seen.items()}
    rows = []
    for item in raw:
        record, face = item["record"], item["face"]
        smoothed = {k: float(face["smoothed_probabilities"][k]) for k in labels}
        rows.append(
            TimelineRow(
                input=str(record.get("input")),
                time=float(record["time"]),
                frame=int(record["frame"]),
                shot=int(record.get("shot") or 0),
                track=int(face["track"]),
                short=short[face["track"]],
                box=tuple(float(v) for v in face["box"]),  # type: ignore[arg-type]
                score=None if face.get("score") is None else float(face["score"]),
                label=str(face["smoothed_label"]),
                confidence=smoothed[face["smoothed_label"]],
                raw_label=str(face["label"]),
                probabilities={k: float(face["probabilities"][k]) for k in labels},
                smoothed=smoothed,
            )
        )
    return rows


def summarize_tracks(
    rows: Sequence[TimelineRow], labels: Sequence[str], include_short: bool = False
) -> list[TrackSummary]:
    """One :class:`TrackSummary` per track of ``rows``, by track id (short ones only with
    ``include_short``)."""
    by_track: dict[int, list[TimelineRow]] = {}
    for row in rows:
        if include_short or not row.short:
            by_track.setdefault(row.track, []).append(row)
    out = []
    for track in sorted(by_track):
        seen = by_track[track]
        counts = Counter(r.label for r in seen)
        first, last = min(r.time for r in seen), max(r.time for r in seen)
        out.append(
            TrackSummary(
                input=seen[0].input,
                track=track,
                shot=seen[0].shot,
                first_seen=first,
                last_seen=last,
                duration=round(last - first, 6),
                frames=len(seen),
                dominant=max(labels, key=lambda k: (counts[k], -labels.index(k))),
                shares={k: counts[k] / len(seen) for k in labels},
                mean_confidence=sum(r.confidence for r in seen) / len(seen),
            )
        )
    return out


def _csv(rows: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fields), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: neutralize_cell(v) for k, v in row.items()})
    return buffer.getvalue()


def _timeline_fields(labels: Sequence[str]) -> list[str]:
    base = ["input", "time", "frame", "shot", "track", "short", "x1", "y1", "x2", "y2"]
    return [
        *base,
        "score",
        "label",
        "confidence",
        "raw_label",
        *(f"p_{k}" for k in labels),
        *(f"s_{k}" for k in labels),
    ]


def _write_parquet(rows: list[dict[str, Any]], path: Path) -> bool:
    """Write ``rows`` as Parquet with pyarrow; ``False`` when pyarrow is not installed."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return False
    fd, temp = open_temp_beside(path, suffix=".parquet")
    os.close(fd)
    try:
        pq.write_table(pa.Table.from_pylist(rows), str(temp))
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return True


def write_track_files(
    records: Sequence[Mapping[str, Any]],
    folder: str | os.PathLike[str],
    labels: Sequence[str],
    options: TrackingOptions | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Write a tracked video's :data:`TRACK_FILES` into ``folder``; the paths written.

    ``timeline.parquet`` is written when pyarrow is installed (``pip install
    'glamor-zoo[data]'``), and left out otherwise.

    Args:
        records: The video's records.
        folder: Where the files go (created if needed).
        labels: The model's class names.
        options: The tracking settings (``min_track``; stored in ``summary.json``).
        overwrite: Replace files that exist (else refuse).

    Raises:
        FileExistsError: A file exists and ``overwrite`` is false (nothing is written).
    """
    from glamor_zoo.inference.timeline_plot import plot_timeline

    options = options or TrackingOptions()
    folder = Path(folder)
    if not overwrite:
        existing = [folder / name for name in TRACK_FILES if (folder / name).exists()]
        if existing:
            raise FileExistsError(
                f"{existing[0]} exists; choose another folder or pass overwrite=True"
            )
    folder.mkdir(parents=True, exist_ok=True)
    rows = timeline_rows(records, labels, options)
    summaries = summarize_tracks(rows, labels)
    flat = [row.flat(labels) for row in rows]
    written = [folder / "timeline.csv"]
    atomic_write_text(written[0], _csv(flat, _timeline_fields(labels)))
    if _write_parquet(flat, folder / "timeline.parquet"):
        written.append(folder / "timeline.parquet")
    summary_fields = [
        *(k for k in TrackSummary.__dataclass_fields__ if k != "shares"),
        *(f"share_{k}" for k in labels),
    ]
    atomic_write_text(
        folder / "summary.csv", _csv([s.flat(labels) for s in summaries], summary_fields)
    )
    document = {
        "input": str(records[0].get("input")) if records else None,
        "labels": list(labels),
        "options": options.to_dict(),
        "short_tracks": sorted({r.track for r in rows if r.short}),
        "tracks": [asdict(s) for s in summaries],
    }
    atomic_write_text(folder / "summary.json", json.dumps(document, indent=2) + "\n")
    buffer = io.BytesIO()
    plot_timeline(rows, labels).save(buffer, format="PNG")
    atomic_write_bytes(folder / "timeline.png", buffer.getvalue())
    return [*written, folder / "summary.csv", folder / "summary.json", folder / "timeline.png"]


def write_video_tracks(
    records: Iterable[Mapping[str, Any]],
    videos: Sequence[tuple[str, str | os.PathLike[str]]],
    folder: str | os.PathLike[str],
    labels: Sequence[str],
    options: TrackingOptions | None = None,
) -> dict[str, Path]:
    """Write the track files of each video of a run into ``folder/tracks/<video>/``.

    The files are the run's own (derived from its journal, as ``predictions.json`` is): they
    are replaced when the run is resumed. A video with no record (it failed) gets none.

    Args:
        records: Every record of the run.
        videos: (input path as in the records, its path relative to the output folder).
        folder: The run's output folder.
        labels: The model's class names.
        options: The run's tracking settings.

    Returns:
        The folder written for each video, by input path.
    """
    by_input: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        if record.get("frame") is not None:
            by_input.setdefault(str(record.get("input")), []).append(record)
    out = {}
    for source, relative in videos:
        if source not in by_input:
            continue
        target = Path(folder) / "tracks" / Path(relative).with_suffix("")
        write_track_files(by_input[source], target, labels, options, overwrite=True)
        out[source] = target
    return out
