"""Shared-context mode vs the exact per-face mode on the multi-person photos.

For each model: the time of ``EmotionRecognizer`` on the photos (detection excluded: the faces
are detected once with MTCNN and replayed), and how far the shared mode's predictions move
(top-1 agreement, probability and attention differences). Run from the repository root:

    python benchmarks/shared_context.py [--repeats 5] [--device cpu]

Models: the official GLAMOR-Net checkpoint fixture (``../shared/fixtures/tf_official_tiny``,
narrow encoders, non-trivial weights, converted with ``glamor_zoo.convert``), and the
full-size ``glamor_original`` architecture (random weights: for speed; its agreement numbers
say little about a trained model).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

import glamor_zoo
from glamor_zoo.data.detection import create_detector
from glamor_zoo.data.images import load_image
from glamor_zoo.inference import EmotionRecognizer

SCENES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "scenes"
PHOTOS = ["group.jpeg", "apollo11_crew.jpg", "glamor_sample_2.jpg"]
TINY = SCENES.parents[1] / "fixtures" / "tf_official_tiny"


class Replay:
    """Returns detections computed once, so that only recognition is timed."""

    def __init__(self, faces: dict[tuple[int, int], list]) -> None:
        self.faces = faces

    def detect(self, images):
        return [self.faces[image.size] for image in images]


def models() -> dict[str, torch.nn.Module]:
    out = {}
    if TINY.is_dir():
        from glamor_zoo.convert.glamor_tf import convert_checkpoint

        out["official checkpoint fixture (tiny)"] = convert_checkpoint(TINY / "Model")
    torch.manual_seed(0)
    out["glamor_original (random weights)"] = glamor_zoo.create_model("glamor_original").eval()
    return out


def timed_pair(recs: dict[str, EmotionRecognizer], images: list, repeats: int) -> dict:
    """Median time of each recogniser, the modes interleaved so that load drift hits both."""
    results = {mode: rec(images) for mode, rec in recs.items()}  # also warms up
    times: dict[str, list[float]] = {mode: [] for mode in recs}
    for _ in range(repeats):
        for mode, rec in recs.items():
            start = time.perf_counter()
            rec(images)
            times[mode].append(time.perf_counter() - start)
    return {"results": results, **{f"{m}_s": statistics.median(t) for m, t in times.items()}}


def compare(exact: list, shared: list) -> dict[str, float]:
    same, prob, att = [], [], []
    for a, b in zip(exact, shared, strict=True):
        for fa, fb in zip(a.faces, b.faces, strict=True):
            same.append(fa.label == fb.label)
            pa = np.array(list(fa.probabilities.values()))
            pb = np.array(list(fb.probabilities.values()))
            prob.append(np.abs(pa - pb).max())
            att.append(0.5 * np.abs(fa.attention - fb.attention).sum())
    return {
        "faces": len(same),
        "top1_agreement": float(np.mean(same)),
        "max_abs_prob_diff": float(np.max(prob)),
        "mean_abs_prob_diff_max": float(np.mean(prob)),
        "mean_attention_tv_distance": float(np.mean(att)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    images = [load_image(SCENES / name) for name in PHOTOS]
    detector = create_detector("mtcnn")
    faces = {im.size: found for im, found in zip(images, detector.detect(images), strict=True)}
    counts = {name: len(faces[im.size]) for name, im in zip(PHOTOS, images, strict=True)}
    report = {"photos": counts, "threads": torch.get_num_threads(), "device": args.device}
    for label, model in models().items():
        recs = {
            mode: EmotionRecognizer(
                model, detector=Replay(faces), device=args.device, mode=mode, fast=False
            )
            for mode in ("exact", "shared")
        }
        measured = timed_pair(recs, images, args.repeats)
        results = measured.pop("results")
        row = measured
        row["speedup"] = row["exact_s"] / row["shared_s"]
        row.update(compare(results["exact"], results["shared"]))
        report[label] = row
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
