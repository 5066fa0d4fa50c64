"""Top-1 against the face crop rule (margin around the detector's box, square or not) on a
folder of class folders, faces found once by the default detector.

    python tools/holdout_folder.py recipes/face_resnet26_fer2013_sfew.yaml sfew runs/sfew_holdout
    python benchmarks/crop_rule.py runs/sfew_holdout \
        --models face_resnet26.fer2013 face_resnet26.fer2013_sfew \
        --out benchmarks/results/crop_rule_sfew_holdout.json

Each image's best face is detected once (the default detector); for every rule the face is cut
by :class:`glamor_zoo.data.transforms.GlamorTransform` with the model's spec and that rule, and
classified as the recogniser does (test-time flip averaging where the spec asks). A missed face
counts as wrong, as in ``glamor-zoo eval``. Alignment from the detector's five landmarks is not
among the rules.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from PIL import Image

import glamor_zoo
from glamor_zoo.data.datasets.base import class_folders, label_of
from glamor_zoo.data.detection import best_face, create_detector
from glamor_zoo.data.images import list_images
from glamor_zoo.data.transforms import GlamorTransform
from glamor_zoo.serialization import atomic_write_text
from glamor_zoo.train.evaluate import forward_batch

MARGINS = (0.0, 0.1, 0.2, 0.3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a folder of class folders")
    parser.add_argument("--models", nargs="+", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    files = [(p, label_of(c.name)) for c in class_folders(args.folder) for p in list_images(c)]
    images = [Image.open(p).convert("RGB") for p, _ in files]
    detector = create_detector("mtcnn")
    faces = [best_face(f) for f in detector.detect(images)]
    table: dict = {"images": len(files), "faces_found": sum(f is not None for f in faces)}
    for name in args.models:
        model = glamor_zoo.create_model(name, pretrained=True).eval()
        spec = glamor_zoo.get_model_spec(model)
        labels = [label.lower() for label in spec.label_names]
        rows = {}
        for square in (False, True):
            for margin in MARGINS:
                transform = GlamorTransform(spec.replace(face_margin=margin, face_square=square))
                kept = [(i, f) for i, f in enumerate(faces) if f is not None]
                batch = torch.stack([transform(images[i], f.box)["face"] for i, f in kept])
                with torch.no_grad():
                    predicted = forward_batch(model, {"face": batch}, spec.test_flip).argmax(1)
                hits = sum(
                    labels[int(p)] == files[i][1].lower()
                    for (i, _), p in zip(kept, predicted, strict=True)
                )
                key = f"{'square' if square else 'box'}, margin {margin:g}"
                rows[key] = round(100.0 * hits / len(files), 2)
                print(f"{name}: {key}: top-1 {rows[key]:.2f} %")
        table[name] = {"trained_rule": {"margin": spec.face_margin, "square": spec.face_square},
                       "top1": rows}  # fmt: skip
    atomic_write_text(args.out, json.dumps(table, indent=1) + "\n")


if __name__ == "__main__":
    main()
