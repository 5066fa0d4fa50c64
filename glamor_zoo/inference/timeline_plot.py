"""Pictures of people over time: the timeline plot, and frames with per-track colours.

- :func:`plot_timeline`: one row per track, each sampled frame a bar in the colour of the
  label shown (the smoothed one), shot cuts as dashed lines, short tracks faded;
- :func:`draw_tracked_faces`: a frame with each face's box in its track's colour (the same
  colour for the same person in every frame), ``#id Label 0.87`` above it;
- :func:`track_color`: that colour.

Drawn with Pillow only (no plotting library needed).
"""

from __future__ import annotations

import colorsys
import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw

from glamor_zoo.inference.results import FaceRecord
from glamor_zoo.inference.visualize import default_font, draw_labelled_box, label_color

if TYPE_CHECKING:
    from glamor_zoo.inference.timeline import TimelineRow

__all__ = ["draw_tracked_faces", "plot_timeline", "track_color"]

_GOLDEN = 0.618033988749895
_UNTRACKED = (160, 160, 160)


def track_color(track: int) -> tuple[int, int, int]:
    """A fixed colour per track id (hues a golden-ratio step apart: neighbours differ)."""
    hue = (0.12 + track * _GOLDEN) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.75, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


def draw_tracked_faces(image: Image.Image, faces: Sequence[FaceRecord]) -> Image.Image:
    """A copy of ``image`` with each face's box in its track's colour and ``#id Label 0.87``
    (the smoothed label and probability) above it; faces with no track in grey with their
    own label."""
    out = image.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    side = max(out.width, out.height)
    width = max(2, side // 300)
    font = default_font(max(12, side // 45))
    for face in faces:
        if face.track is None or face.smoothed_probabilities is None:
            color, text = _UNTRACKED, f"{face.label} {face.confidence:.2f}"
        else:
            label = face.smoothed_label or face.label
            color = track_color(face.track)
            text = f"#{face.track} {label} {face.smoothed_probabilities[label]:.2f}"
        draw_labelled_box(draw, face.box, text, color, width, font, out.width)
    return out


def _ticks(end: float) -> list[float]:
    for step in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600):
        if end / step <= 10:
            break
    return [i * step for i in range(int(end // step) + 1)]


def plot_timeline(
    rows: Sequence[TimelineRow], labels: Sequence[str], width: int = 900
) -> Image.Image:
    """The timeline of a tracked video as a picture (see the module).

    Args:
        rows: The video's :func:`~glamor_zoo.inference.timeline.timeline_rows`.
        labels: The model's class names (the legend, in order).
        width: The picture's width in pixels.
    """
    tracks = sorted({r.track for r in rows})
    font = default_font(13)
    row_h, top, left, right, bottom = 26, 38, 110, 16, 34
    height = top + max(1, len(tracks)) * row_h + bottom
    out = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(out)
    x = left
    for label in labels:  # legend
        draw.rectangle([x, 10, x + 14, 24], fill=label_color(label))
        draw.text((x + 18, 10), label, fill=(0, 0, 0), font=font)
        x += 28 + int(draw.textlength(label, font=font))
    times = sorted({r.time for r in rows})
    end = max(times[-1] if times else 1.0, 1e-3)
    step = min((b - a for a, b in itertools.pairwise(times)), default=end)
    span = end + step
    scale = (width - left - right) / span

    def px(t: float) -> float:
        return left + t * scale

    plot_bottom = top + max(1, len(tracks)) * row_h
    for tick in _ticks(span):  # time axis
        draw.line([px(tick), plot_bottom, px(tick), plot_bottom + 4], fill=(0, 0, 0))
        text = f"{tick:g} s"
        draw.text((px(tick) - draw.textlength(text, font=font) / 2, plot_bottom + 6), text,
                  fill=(0, 0, 0), font=font)  # fmt: skip
    draw.line([left, plot_bottom, width - right, plot_bottom], fill=(0, 0, 0))
    by_track: dict[int, list[TimelineRow]] = {}
    for row in rows:
        by_track.setdefault(row.track, []).append(row)
    for index, track in enumerate(tracks):
        y = top + index * row_h
        seen = sorted(by_track[track], key=lambda r: r.time)
        short = seen[0].short
        name = f"#{track}" + (" (short)" if short else "")
        draw.rectangle([8, y + 7, 20, y + 19], fill=track_color(track))
        draw.text((26, y + 6), name, fill=(120, 120, 120) if short else (0, 0, 0), font=font)
        for row, following in zip(seen, [*seen[1:], None], strict=True):
            gap = following.time - row.time if following is not None else step
            stop = row.time + (gap if gap <= 1.5 * step else step)
            color = label_color(row.label)
            if short:
                color = tuple(int(c * 0.4 + 255 * 0.6) for c in color)  # type: ignore[assignment]
            draw.rectangle([px(row.time), y + 4, max(px(row.time) + 1, px(stop) - 1), y + 22],
                           fill=color)  # fmt: skip
    shots = sorted({(r.shot, r.time) for r in rows})
    starts: dict[int, float] = {}
    for shot, time in shots:
        starts.setdefault(shot, time)
    for shot, time in starts.items():
        if shot == min(starts):
            continue
        for y in range(top, plot_bottom, 8):
            draw.line([px(time), y, px(time), y + 4], fill=(0, 0, 0), width=2)
    return out
