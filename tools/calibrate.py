"""Fit a trained model's temperature on its recipe's hold-outs and store it in its spec.

    python tools/calibrate.py recipes/face_resnet26_fer2013_sfew.yaml \
        runs/face_resnet26_fer2013_sfew/model --write

Every hold-out the recipe selects with (``data.val_split`` and, with ``data.sources``, each
source's hold-out: the same images the trainer scored) is run through the model in float32,
as ``glamor-zoo eval`` runs it; one temperature is fitted on them together, each hold-out
counting once (:func:`glamor_zoo.train.calibration.fit_temperature`), and the expected
calibration error (15 bins) before and after is printed per hold-out. The temperature is the
one with the lowest mean negative log-likelihood among those that raise no hold-out's error
(1 when the hold-outs pull opposite ways: each set's own lowest-NLL temperature, its top-1 and
mean confidence are in the table, with the standard deviation of its ECE over bootstrap
resamples). ``--write`` stores the
temperature in the model folder's spec (``config.json``; the weights are untouched), and
``--out`` writes the table as JSON (and the hold-outs' log-probabilities beside it, ``.npz``). The top-1 of every set is unchanged by construction.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import glamor_zoo
from glamor_zoo.serialization import atomic_write_text, save_pretrained
from glamor_zoo.spec import get_model_spec, set_model_spec
from glamor_zoo.train.calibration import (
    expected_calibration_error,
    fit_temperature,
    scaled_probabilities,
)
from glamor_zoo.train.config import load_config
from glamor_zoo.train.data import build_holdouts
from glamor_zoo.train.evaluate import predict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe", type=Path, help="the recipe the model was trained with")
    parser.add_argument(
        "model", help="the trained model folder (RUN/model), or a released tag (no --write)"
    )
    parser.add_argument("--write", action="store_true", help="store the temperature in its spec")
    parser.add_argument("--out", type=Path, help="write the ECE table as JSON here")
    args = parser.parse_args()

    config = load_config(args.recipe)
    folder = Path(args.model)
    if args.write and not folder.is_dir():
        parser.error(f"--write stores the temperature in a model folder; {args.model!r} is not one")
    if folder.is_dir():
        model = glamor_zoo.create_model(f"local-dir:{folder.resolve()}").eval()
    else:
        model = glamor_zoo.create_model(args.model, pretrained=True).eval()
    spec = get_model_spec(model)
    sets = build_holdouts(
        config.data, spec.preprocess_cfg(), config.run.seed, list(spec.label_names)
    )
    logs, targets, names = [], [], []
    for split in sets:
        pred = predict(model, split.dataset, batch_size=256, description=f"hold-out {split.name}")
        logs.append(np.log(np.clip(pred.probs, 1e-12, None)))
        targets.append(pred.targets)
        names.append(split.name)
    # NOTE: each hold-out's calibration error must not rise (the released models' rule): with
    # sets that pull opposite ways, the temperature stays 1.
    temperature = fit_temperature(logs, targets, keep_each_ece=True)
    unconstrained = fit_temperature(logs, targets)
    table = {
        "temperature": round(temperature, 4),
        "rule": "lowest mean NLL over the hold-outs (each counted once) among temperatures "
        "that raise no hold-out's ECE",
        "unconstrained_temperature": round(unconstrained, 4),
        "ece_bins": 15,
        "sets": {},
    }
    for name, log_probs, labels in zip(names, logs, targets, strict=True):
        before = expected_calibration_error(scaled_probabilities(log_probs, 1.0), labels)
        after = expected_calibration_error(scaled_probabilities(log_probs, temperature), labels)
        curve = {
            f"{t:g}": round(
                expected_calibration_error(scaled_probabilities(log_probs, t), labels), 2
            )
            for t in (0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2, 1.3, 1.5)
        }
        probs = scaled_probabilities(log_probs, 1.0)
        # Which way the set pulls: over-confident (mean confidence above top-1) wants T > 1.
        table["sets"][name] = {
            "images": len(labels),
            "top1": round(100 * float((probs.argmax(1) == labels).mean()), 2),
            "mean_confidence": round(100 * float(probs.max(1).mean()), 2),
            "own_temperature": round(fit_temperature([log_probs], [labels]), 4),
            "ece_bootstrap_sd": round(_bootstrap_sd(probs, labels), 2),
            "ece_by_temperature": curve,
            "ece_before": round(before, 2),
            "ece_after": round(after, 2),
        }
        print(
            f"{name}: {len(labels)} images, ECE {before:.2f} % -> {after:.2f} % at T {temperature:.3f}"
            f" (this set alone: T {table['sets'][name]['own_temperature']:.3f})"
        )
    if args.out:
        atomic_write_text(args.out, json.dumps(table, indent=1) + "\n")
        # The hold-outs' log-probabilities beside the table, to redo the fit without the model.
        np.savez_compressed(
            args.out.with_suffix(".npz"),
            **{
                f"{n}_{k}": v
                for n, lp, y in zip(names, logs, targets, strict=True)
                for k, v in (("logprobs", lp), ("targets", y))
            },
        )
    if args.write:
        set_model_spec(model, {"temperature": round(temperature, 4)})
        saved = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        extra = {k: v for k, v in saved.items() if k not in _MODEL_KEYS}
        save_pretrained(model, folder, label_names=list(spec.label_names), **extra)
        print(f"stored temperature {temperature:.4f} in {folder / 'config.json'}")


def _bootstrap_sd(probs: np.ndarray, labels: np.ndarray, rounds: int = 200) -> float:
    """The standard deviation of the set's ECE over resamples of its images (seed 0): how far
    the figure moves by chance alone."""
    rng = np.random.default_rng(0)
    draws = (rng.integers(0, len(labels), len(labels)) for _ in range(rounds))
    return float(np.std([expected_calibration_error(probs[i], labels[i]) for i in draws]))


# Keys config.json holds about the network itself (rewritten from the model when saving).
_MODEL_KEYS = (
    "architecture",
    "num_classes",
    "num_features",
    "label_names",
    "model_args",
    "pretrained_cfg",
    "spec",
)


if __name__ == "__main__":
    main()
