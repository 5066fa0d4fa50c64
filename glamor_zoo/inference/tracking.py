"""Linking the faces of a video's frames into tracks (one per person while visible).

:class:`FaceTracker` is a small tracker in the manner of SORT / ByteTrack / OC-SORT, for faces:

1. **Motion.** Each track keeps its last face centre, a constant-velocity estimate of it per
   second and a smoothed face size (the detector's box size jitters far more than a face's
   size changes: see :attr:`TrackingOptions.size_gain`); at a new frame its box is predicted
   forward by the time passed, at most :attr:`TrackingOptions.horizon` seconds (a face unseen
   for long is looked for where it was last going, not carried off-screen).
2. **Association, confident faces first, recent tracks first.** Faces scored at least
   :attr:`TrackingOptions.start_score` are matched to every live track by the IoU of the
   predicted box (greedy, best pairs first, at least :attr:`TrackingOptions.iou`; tracks seen
   in fewer frames ago choose first, as in DeepSORT's matching cascade, so that a hidden
   face's track does not take the face passing in front of it); those left are matched by
   the distance between centres in units of the face's size (sizes within a factor of two; at
   most :attr:`TrackingOptions.jump` sizes for tracks that missed their face in at most
   :attr:`TrackingOptions.jump_misses` frames in a row, one size for tracks hidden longer): a
   face that moved further than its own width between two sampled frames keeps its track (the
   jump is not taken for motion), and a new face appearing a few sizes from a hidden one does
   not take its track.
3. **Low-score faces** (under ``start_score``, as ByteTrack keeps them) only continue tracks
   left unmatched, by IoU, then by distance (to those recently seen tracks only); one that
   continues none gets no track (``None``).
4. **New tracks** start from the confident faces left over; a track unseen for more than
   :attr:`TrackingOptions.max_gap` seconds ends.
5. **Shot cuts.** With a frame :func:`frame_signature` (a coarse colour histogram and a 16×9
   grey thumbnail), a frame whose histogram differs from the previous one's by more than
   :attr:`TrackingOptions.cut` (half the L1 distance, 0 to 1) *and* whose thumbnail correlates
   with the previous one's less than :attr:`TrackingOptions.cut_correlation` starts a new
   shot: every track ends there. The histogram alone would take a flash or a change of
   exposure for a cut, the thumbnail alone a fast pan; a cut changes both.

It needs numpy only. Ids count from 1 in the order tracks start.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from glamor_zoo.data.detection.base import box_iou

__all__ = ["FaceTracker", "TrackingOptions", "frame_signature", "signature_distance"]

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class TrackingOptions:
    """How faces are linked into tracks and how their probabilities are smoothed.

    Attributes:
        max_gap: Seconds a track waits for its face (missed, hidden) before it ends.
        min_track: Tracks seen for less than this many seconds (first to last sighting) are
            flagged ``short``: kept in the timeline, left out of the summaries.
        half_life: Smoothing: seconds after which an observation weighs half as much in the
            exponential moving average of a track's probabilities; 0 turns smoothing off.
        iou: Least IoU between a track's predicted box and a face to match them.
        jump: Largest distance between centres, in face sizes (the geometric mean of width and
            height), at which a face not overlapping any track still continues one that
            missed its face in at most ``jump_misses`` frames in a row (one size for tracks
            hidden longer).
        jump_misses: Frames in a row a track may have missed its face and still follow it
            by a jump (the detector often misses a face for a frame or two as it moves).
        start_score: Faces the detector scores lower only continue tracks, never start one
            (faces with no score count as 1).
        cut: Colour-histogram change (0 to 1) from one sampled frame to the next above which
            (with ``cut_correlation``) a shot cut is found; 1 or more turns cut detection off.
        cut_correlation: Correlation of consecutive frames' grey thumbnails below which (with
            ``cut``) a shot cut is found.
        horizon: Seconds at most that a track's box is moved forward by its velocity.
        size_gain: How far (0 to 1, in log space) a track's face size moves from the predicted
            size to the size of the box just seen: 1 takes the box as it is; lower values
            damp the detector's jitter in box size (centres are taken as seen).
    """

    max_gap: float = 2.5
    min_track: float = 1.0
    half_life: float = 1.0
    iou: float = 0.3
    jump: float = 2.5
    jump_misses: int = 2
    start_score: float = 0.95
    cut: float = 0.2
    cut_correlation: float = 0.5
    horizon: float = 1.0
    size_gain: float = 0.5

    def __post_init__(self) -> None:
        for name in ("max_gap", "min_track", "half_life", "jump", "jump_misses", "cut", "horizon"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"tracking option {name} must be a number >= 0, got {value!r}")
        if not -1 <= self.cut_correlation <= 1:
            raise ValueError(
                f"tracking option cut_correlation must be in [-1, 1], got {self.cut_correlation!r}"
            )
        for name in ("iou", "size_gain"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(
                    f"tracking option {name} must be in (0, 1], got {getattr(self, name)!r}"
                )

    def to_dict(self) -> dict[str, float]:
        """The options as a JSON-ready dict (for a run's settings)."""
        return {k: float(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrackingOptions:
        """Options from :meth:`to_dict` (unknown keys are an error)."""
        return cls(**dict(values))


def frame_signature(image: Image.Image) -> np.ndarray:
    """What :class:`FaceTracker` compares to find shot cuts: a frame's coarse colour histogram
    (4 levels per channel, 64 bins summing to 1, from a 64×36 thumbnail) followed by its 16×9
    grey thumbnail, less its mean, of norm 1 (144 values). A few ms for a 720p frame."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    small = rgb.resize((64, 36), Image.Resampling.BOX)
    quantised = np.asarray(small, dtype=np.uint8) >> 6
    codes = (quantised[..., 0].astype(np.int32) << 4) | (quantised[..., 1] << 2) | quantised[..., 2]
    counts = np.bincount(codes.ravel(), minlength=64).astype(np.float64)
    grey = np.asarray(small.convert("L").resize((16, 9), Image.Resampling.BOX), np.float64)
    grey = grey.ravel() - grey.mean()
    norm = float(np.linalg.norm(grey))
    return np.concatenate([counts / counts.sum(), grey / norm if norm > 0 else grey])


def signature_distance(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """How two :func:`frame_signature` differ: (half the L1 distance of their histograms, 0 to
    1; the correlation of their grey thumbnails, -1 to 1)."""
    return float(0.5 * np.abs(a[:64] - b[:64]).sum()), float(a[64:] @ b[64:])


@dataclass
class _Track:
    id: int
    box: Box
    time: float
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # centre, px per s
    missed: int = 0  # frames since the face was last seen

    def predict(self, time: float, horizon: float) -> Box:
        dt = min(max(0.0, time - self.time), horizon)
        cx, cy, w, h = _centre(self.box)
        cx, cy = cx + self.velocity[0] * dt, cy + self.velocity[1] * dt
        return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)

    def observe(self, box: Box, time: float, size_gain: float, jumped: bool = False) -> None:
        dt = time - self.time
        (cx0, cy0, w0, h0), (cx1, cy1, w1, h1) = _centre(self.box), _centre(box)
        if dt > 0 and not jumped:  # a jump is no motion to predict from
            seen = np.array([(cx1 - cx0) / dt, (cy1 - cy0) / dt])
            # A fresh track takes the first velocity it sees; then half old, half new.
            self.velocity = seen if not self.velocity.any() else 0.5 * self.velocity + 0.5 * seen
        # The detector's box size jitters far more than a face's size changes from one sampled
        # frame to the next: the size kept moves only part way to the size seen (in log space).
        w1 = math.exp(size_gain * math.log(w1) + (1 - size_gain) * math.log(w0))
        h1 = math.exp(size_gain * math.log(h1) + (1 - size_gain) * math.log(h0))
        self.box = (cx1 - w1 / 2, cy1 - h1 / 2, cx1 + w1 / 2, cy1 + h1 / 2)
        self.time, self.missed = time, 0


def _centre(box: Box) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = box
    return (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, 1e-6), max(y2 - y1, 1e-6)


def _size(box: Box) -> float:
    _, _, w, h = _centre(box)
    return math.sqrt(w * h)


def _greedy(pairs: list[tuple[Any, int, int]]) -> list[tuple[int, int]]:
    """Best-first one-to-one matching of (cost, track, face) pairs (lowest cost first; costs
    compare as numbers or tuples)."""
    used_tracks: set[int] = set()
    used_faces: set[int] = set()
    out = []
    for _, track, face in sorted(pairs):
        if track in used_tracks or face in used_faces:
            continue
        used_tracks.add(track)
        used_faces.add(face)
        out.append((track, face))
    return out


class FaceTracker:
    """Assigns a track id to every face of each sampled frame, frame after frame.

    Args:
        options: The tracking settings (default: :class:`TrackingOptions`).
        first_id: The id the first track gets.
        shot: The number of the first shot.

    Attributes:
        shot: The current shot's number (0 for the first; one more at every cut).
    """

    def __init__(
        self, options: TrackingOptions | None = None, first_id: int = 1, shot: int = 0
    ) -> None:
        self.options = options or TrackingOptions()
        self.shot = shot
        self._next_id = first_id
        self._tracks: list[_Track] = []
        self._signature: np.ndarray | None = None

    @property
    def live_ids(self) -> list[int]:
        """The ids of the tracks still waiting for their faces."""
        return [t.id for t in self._tracks]

    def cut(self) -> None:
        """End every track: the next faces start new ones, in a new shot."""
        self._tracks = []
        self.shot += 1

    def update(
        self,
        time: float,
        boxes: Sequence[Sequence[float]],
        scores: Sequence[float | None] | None = None,
        signature: np.ndarray | None = None,
    ) -> list[int | None]:
        """The track id of each face of the frame at ``time`` (seconds), in their order.

        Args:
            time: The frame's time; frames come in increasing time.
            boxes: The faces' (x1, y1, x2, y2) boxes.
            scores: The detector's scores (``None``: every face counts as 1).
            signature: The frame's :func:`frame_signature`, for shot cuts (``None``: not
                checked at this frame).

        Returns:
            One id per face; ``None`` for a low-score face that continues no track.
        """
        opts = self.options
        if signature is not None:
            if self._signature is not None and opts.cut < 1:
                change, correlation = signature_distance(self._signature, signature)
                if change > opts.cut and correlation < opts.cut_correlation:
                    self.cut()
            self._signature = signature
        self._tracks = [t for t in self._tracks if time - t.time <= opts.max_gap]
        faces: list[Box] = [tuple(float(v) for v in b) for b in boxes]  # type: ignore[misc]
        given = list(scores) if scores is not None else [None] * len(faces)
        strong = [i for i, s in enumerate(given) if s is None or s >= opts.start_score]
        weak = [i for i in range(len(faces)) if i not in set(strong)]
        predicted = [t.predict(time, opts.horizon) for t in self._tracks]
        ids: list[int | None] = [None] * len(faces)
        free = set(range(len(self._tracks)))

        def assign(matches: list[tuple[int, int]], jumped: bool = False) -> None:
            for track, face in matches:
                self._tracks[track].observe(faces[face], time, opts.size_gain, jumped)
                ids[face] = self._tracks[track].id
                free.discard(track)

        assign(self._by_iou(predicted, faces, free, strong))
        left = [i for i in strong if ids[i] is None]
        assign(self._by_distance(predicted, faces, free, left), jumped=True)
        assign(self._by_iou(predicted, faces, free, weak))
        left = [i for i in weak if ids[i] is None]
        assign(self._by_distance(predicted, faces, free, left, hidden_too=False), jumped=True)
        for track in self._tracks:
            if track.time != time:
                track.missed += 1
        for i in strong:
            if ids[i] is None:
                self._tracks.append(_Track(self._next_id, faces[i], time))
                ids[i] = self._next_id
                self._next_id += 1
        return ids

    def _by_iou(
        self, predicted: list[Box], faces: list[Box], tracks: set[int], candidates: list[int]
    ) -> list[tuple[int, int]]:
        pairs = []
        for t in tracks:
            for i in candidates:
                overlap = box_iou(predicted[t], faces[i])
                if overlap >= self.options.iou:
                    pairs.append(((self._tracks[t].missed, -overlap), t, i))
        return _greedy(pairs)

    def _by_distance(
        self,
        predicted: list[Box],
        faces: list[Box],
        tracks: set[int],
        candidates: list[int],
        hidden_too: bool = True,
    ) -> list[tuple[int, int]]:
        pairs = []
        for t in tracks:
            recent = self._tracks[t].missed <= self.options.jump_misses
            if not hidden_too and not recent:
                continue
            # A face jumps between sampled frames (the detector may miss it a frame or two
            # around the jump); one hidden for longer reappears within a face size of where
            # it was predicted.
            limit = self.options.jump if recent else 1.0
            cx, cy, _, _ = _centre(predicted[t])
            size = _size(self._tracks[t].box)
            for i in candidates:
                fx, fy, _, _ = _centre(faces[i])
                ratio = _size(faces[i]) / size
                distance = math.hypot(fx - cx, fy - cy) / max(size, _size(faces[i]))
                if 0.5 <= ratio <= 2.0 and distance <= limit:
                    pairs.append((distance, t, i))
        return _greedy(pairs)
