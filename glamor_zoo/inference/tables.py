"""Prediction records as a CSV table (one row per face) and as short human-readable text."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from glamor_zoo.csv_cells import neutralize_cell

__all__ = ["CSV_FIELDS", "records_to_csv", "summarize_record"]

CSV_FIELDS = (
    "input",
    "frame",
    "time",
    "width",
    "height",
    "face",
    "x1",
    "y1",
    "x2",
    "y2",
    "score",
    "label",
    "confidence",
)


def records_to_csv(records: Iterable[Mapping[str, Any]], labels: Sequence[str]) -> str:
    """One row per face (``face`` = its number in the image, from 1), then ``p_<label>`` per class,
    ``w_face``, ``w_context`` and ``error``. An image with no face, or one that failed,
    still gets one row (empty face fields; the error in ``error``). Formula-leading text
    (a file or class named ``=…``) is neutralised (:mod:`glamor_zoo.csv_cells`). Records of
    tracked videos add ``shot``, ``track``, ``smoothed_label`` and ``smoothed_confidence``
    before ``error``; records made with a ``min_confidence`` rule add ``uncertain`` (1 or 0).
    """
    records = list(records)
    tracked = any("track" in f for r in records for f in r.get("faces") or [])
    extra = ["shot", "track", "smoothed_label", "smoothed_confidence"] if tracked else []
    if any("uncertain" in f for r in records for f in r.get("faces") or []):
        extra.append("uncertain")
    fields = [
        *CSV_FIELDS,
        *(f"p_{label}" for label in labels),
        "w_face",
        "w_context",
        *extra,
        "error",
    ]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for record in records:
        base = {
            "input": record.get("input"),
            "frame": record.get("frame", ""),
            "time": record.get("time", ""),
            "width": record.get("width"),
            "height": record.get("height"),
            "error": record.get("error") or "",
        }
        if tracked:
            base["shot"] = record.get("shot", "")
        faces = record.get("faces") or []
        if not faces:
            writer.writerow(_safe(base))
        for number, face in enumerate(faces, start=1):
            row = dict(base, face=number, label=face["label"], confidence=face["confidence"])
            if "uncertain" in face:
                row["uncertain"] = int(bool(face["uncertain"]))
            row.update(zip(("x1", "y1", "x2", "y2"), face["box"], strict=True))
            row["score"] = "" if face.get("score") is None else face["score"]
            for label, p in face["probabilities"].items():
                row[f"p_{label}"] = p
            weights = face.get("fusion_weights") or {}
            row["w_face"], row["w_context"] = weights.get("face", ""), weights.get("context", "")
            if tracked and face.get("smoothed_label") is not None:
                row["track"] = "" if face.get("track") is None else face["track"]
                row["smoothed_label"] = face["smoothed_label"]
                row["smoothed_confidence"] = face["smoothed_probabilities"][face["smoothed_label"]]
            writer.writerow(_safe(row))
    return buffer.getvalue()


def _safe(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: neutralize_cell(v) for k, v in row.items()}


def summarize_record(record: Mapping[str, Any], top: int = 3) -> str:
    """A few lines for a terminal: the input, then each face's labels and box."""
    name = record.get("input", "?")
    if record.get("frame") is not None:
        name = f"{name} frame {record['frame']} ({record.get('time', 0):.2f} s)"
    if record.get("error"):
        return f"{name}: error: {record['error']}"
    faces = record.get("faces") or []
    lines = [f"{name}: {len(faces)} face{'s' if len(faces) != 1 else ''}"]
    for index, face in enumerate(faces, start=1):
        ranked = sorted(face["probabilities"].items(), key=lambda kv: -kv[1])[:top]
        probs = "  ".join(f"{label} {p:.2f}" for label, p in ranked)
        box = ", ".join(f"{v:.0f}" for v in face["box"])
        line = f"  face {index}: {probs}   box [{box}]"
        if face.get("uncertain"):
            line += "   uncertain"
        weights = face.get("fusion_weights")
        if weights:
            line += f"   fusion face {weights['face']:.2f} / context {weights['context']:.2f}"
        if face.get("track") is not None:
            line += f"   track {face['track']}: {face['smoothed_label']} (smoothed)"
        lines.append(line)
    return "\n".join(lines)
