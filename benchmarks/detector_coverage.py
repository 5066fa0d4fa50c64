"""How often the default detector finds the face of images that are one face each, and that it
finds the same faces as before on photos of scenes.

    python benchmarks/detector_coverage.py --data ../shared/data \
        --out benchmarks/results/detector_coverage.json --pictures runs/detector_coverage

Sets (research-only data read from ``--data``, never copied):

- ``sfew_train``: SFEW 2.0 Train (860 aligned colour faces from movie stills, ~143×181);
  images listed in ``benchmarks/sfew_faceless.txt`` show no recognisable face (black frames,
  a window, a blurred cheek…) and are reported apart: coverage is over the others. A picture of
  every image still missed, and one of the excluded ones, go to ``--pictures`` (never
  committed: SFEW is research-only).
- ``fer2013_validation_144``: FER-2013 validation (PublicTest, 3,589 grey 48-px faces)
  upscaled to 144 px (bilinear).
- ``ckplus48_144``: CK+48 (981 grey 48-px faces) upscaled to 144 px.
- ``scenes``: the photos of people in ``scenes/``: the faces the default detector finds against
  MTCNN alone (the detector before retries): same count, each face's IoU, and the faces found
  on face-free crops of the same photos (false positives).

For each set: MTCNN alone (``retry=False``) and the default detector (its retries); a face counts
only at or above the threshold (0.9). Writes one JSON of figures; prints a table.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from PIL import Image

from glamor_zoo.data.detection import Face, box_iou, create_detector
from glamor_zoo.serialization import atomic_write_text

HERE = Path(__file__).resolve().parent


def _load(path: Path, upscale: int | None) -> Image.Image:
    image = Image.open(path).convert("RGB")
    if upscale:
        image = image.resize((upscale, upscale), Image.Resampling.BILINEAR)
    return image


def _found(detector, images: list[Image.Image]) -> list[list[Face]]:
    out: list[list[Face]] = []
    for start in range(0, len(images), 32):
        out.extend(detector.detect(images[start : start + 32]))
    return out


def _sheet(paths: list[Path], out: Path) -> None:
    """A contact sheet of ``paths`` (72×90 each, 10 per row)."""
    if not paths:
        return
    cols = 10
    rows = (len(paths) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * 72, rows * 90), "white")
    for i, path in enumerate(paths):
        sheet.paste(_load(path, None).resize((72, 90)), ((i % cols) * 72, (i // cols) * 90))
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)


def coverage(paths: list[Path], upscale: int | None, plain, default) -> dict:
    start = time.perf_counter()
    images = [_load(p, upscale) for p in paths]
    before = [bool(f) for f in _found(plain, images)]
    after = [bool(f) for f in _found(default, images)]
    return {
        "images": len(paths),
        "mtcnn_alone": sum(before) / len(paths),
        "default_detector": sum(after) / len(paths),
        "missed": [str(p) for p, ok in zip(paths, after, strict=True) if not ok],
        "seconds": round(time.perf_counter() - start, 1),
    }


def scenes(folder: Path, plain, default) -> dict:
    photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".jpeg"})
    rows, false_positives, crops = [], 0, 0
    for path in photos:
        image = _load(path, None)
        t0 = time.perf_counter()
        before = plain.detect_one(image)
        t1 = time.perf_counter()
        after = default.detect_one(image)
        t2 = time.perf_counter()
        ious = [max((box_iou(a.box, b.box) for b in before), default=0.0) for a in after]
        rows.append(
            {
                "photo": path.name,
                "faces_before": len(before),
                "faces_after": len(after),
                "min_iou": round(min(ious), 3) if ious else None,
                "seconds_before": round(t1 - t0, 3),
                "seconds_after": round(t2 - t1, 3),
            }
        )
        # Face-free crops: the four corners of the photo, each a quarter of it, kept only if
        # no face found before overlaps it.
        w, h = image.size
        for box in [
            (0, 0, w // 3, h // 3),
            (2 * w // 3, 0, w, h // 3),
            (0, 2 * h // 3, w // 3, h),
            (2 * w // 3, 2 * h // 3, w, h),
        ]:
            if any(box_iou(box, f.box) > 0 or _inside(f.box, box) for f in before):
                continue
            crops += 1
            false_positives += len(default.detect_one(image.crop(box)))
    return {
        "photos": rows,
        "same_count": all(r["faces_before"] == r["faces_after"] for r in rows),
        "min_iou": min(r["min_iou"] for r in rows if r["min_iou"] is not None),
        "face_free_crops": crops,
        "faces_on_face_free_crops": false_positives,
    }


def _inside(face, box) -> bool:
    cx, cy = (face[0] + face[2]) / 2, (face[1] + face[3]) / 2
    return box[0] <= cx <= box[2] and box[1] <= cy <= box[3]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "detector_coverage.json")
    parser.add_argument("--pictures", type=Path, default=Path("runs/detector_coverage"))
    parser.add_argument("--fer-limit", type=int, default=0, help="FER images (0: all)")
    args = parser.parse_args()

    plain = create_detector("mtcnn", retry=False)
    default = create_detector("mtcnn")
    faceless = {
        line.strip()
        for line in (HERE / "sfew_faceless.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    results: dict = {"threshold": default.threshold, "detector": default.settings()}
    sfew = sorted((args.data / "sfew" / "Train").glob("*/*.png"))
    shown = [p for p in sfew if p.name not in faceless]
    results["sfew_train"] = coverage(shown, None, plain, default)
    results["sfew_train"]["excluded_faceless"] = sorted(p.name for p in sfew if p.name in faceless)
    _sheet([Path(p) for p in results["sfew_train"]["missed"]], args.pictures / "sfew_missed.png")
    _sheet([p for p in sfew if p.name in faceless], args.pictures / "sfew_faceless.png")
    fer = sorted((args.data / "fer2013" / "validation").glob("*/*.jpg"))
    if args.fer_limit:
        fer = sorted(random.Random(0).sample(fer, args.fer_limit))
    results["fer2013_validation_144"] = coverage(fer, 144, plain, default)
    ck = sorted((args.data / "ckplus48").glob("*/*.png"))
    results["ckplus48_144"] = coverage(ck, 144, plain, default)
    results["scenes"] = scenes(args.data / "scenes", plain, default)
    for name in ("sfew_train", "fer2013_validation_144", "ckplus48_144"):
        r = results[name]
        print(
            f"{name:24s} {r['images']:5d} images  MTCNN alone {100 * r['mtcnn_alone']:5.1f} %  "
            f"default {100 * r['default_detector']:5.1f} %  ({len(r['missed'])} missed)"
        )
        r["missed"] = [Path(p).name for p in r["missed"]]
    s = results["scenes"]
    print(
        f"scenes: same count {s['same_count']}, min IoU {s['min_iou']}, "
        f"{s['faces_on_face_free_crops']} faces on {s['face_free_crops']} face-free crops"
    )
    atomic_write_text(args.out, json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
