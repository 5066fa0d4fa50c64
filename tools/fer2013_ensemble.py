"""Would averaging FER-2013 face models beat the packaged one? Measured on the hold-out only.

    python tools/fer2013_ensemble.py face_resnet18.fer2013 \
        local-dir:runs/face_resnet18_fer2013_member/model --weights 0.5 0.6 0.7
    python tools/fer2013_ensemble.py local-dir:A local-dir:B local-dir:C --soup

Scores each model, then ``face_ensemble.combine_face_models(models, weights)`` (``tools/``)
(the weighted mean of their logits) and, with ``--soup``, ``average_model_weights(models,
weights)`` (the weighted mean of their weights; with ``--bn-refresh N`` its BatchNorm statistics
re-estimated on N augmented training faces), on the stratified 10 % hold-out of FER-2013 train
that ``--recipe`` names (every choice of the zoo's FER-2013 weights is made there; validation
is never read here). With two models each ``--weights`` value w is one mixture (w, 1 - w); with
more, ``--weights`` is the one mixture itself (a weight per model; equal weights by default).
The rule in docs/weights.md: the ensemble replaces the packaged model only if its best mixture
gains at least 0.3 points on the hold-out.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

import glamor_zoo
from glamor_zoo.serialization import save_pretrained
from glamor_zoo.spec import get_model_spec
from glamor_zoo.train.config import load_config
from glamor_zoo.train.data import HOLDOUT_SPLIT, build_split
from glamor_zoo.train.evaluate import forward_batch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))

from face_ensemble import average_model_weights, combine_face_models  # noqa: E402


def holdout_scores(
    model: torch.nn.Module, recipe: Path, overrides: Sequence[str] = ()
) -> tuple[float, float, int]:
    """Top-1 (%), mean per-class accuracy (%) and the count of ``model`` (eval mode) on
    ``recipe``'s hold-out (``overrides``: ``KEY=VALUE`` recipe overrides, as ``train``'s)."""
    data = load_config(recipe, list(overrides)).data
    preprocess = get_model_spec(model).preprocess_cfg()
    dataset = build_split(data, HOLDOUT_SPLIT, preprocess, train=False, seed=0)
    model = model.eval()
    truth, predicted = [], []
    with torch.inference_mode():
        for batch in torch.utils.data.DataLoader(dataset, batch_size=256):
            # as the recogniser and eval run it (test-time flip averaging if the spec says so)
            predicted.append(forward_batch(model, batch, get_model_spec(model).test_flip).argmax(1))
            truth.append(batch["label"])
    true, pred = torch.cat(truth), torch.cat(predicted)
    per_class = [float((pred[true == c] == c).float().mean()) for c in true.unique()]
    top1 = 100.0 * float((pred == true).float().mean())
    return top1, 100.0 * sum(per_class) / len(per_class), len(true)


def holdout_top1(model: torch.nn.Module, recipe: Path, overrides: Sequence[str] = ()) -> float:
    """Top-1 (%) of ``model`` (eval mode) on ``recipe``'s hold-out."""
    return holdout_scores(model, recipe, overrides)[0]


def save_soup(
    soup: torch.nn.Module,
    out: Path,
    recipe: Path,
    soup_record: dict,
    overrides: Sequence[str] = (),
) -> None:
    """A soup as a run folder that ``fer2013_weights.py`` packages: ``model/``, its hold-out
    scores in ``metrics.json`` and how it was made in ``soup.json``."""
    top1, mean_class, count = holdout_scores(soup, recipe, overrides)
    save_pretrained(soup, out / "model")
    final = {
        "val": {
            "dataset": "fer2013",
            "split": "holdout",
            "top1": top1,
            "mean_class_accuracy": mean_class,
            "num_samples": count,
        }
    }
    (out / "metrics.json").write_text(json.dumps({"stages": {}, "final": final}, indent=2) + "\n")
    (out / "soup.json").write_text(json.dumps(soup_record, indent=2) + "\n")
    print(f"saved {out}: hold-out top-1 {top1:.2f}, mean per-class {mean_class:.2f}")


def refresh_batchnorm(
    model: torch.nn.Module, recipe: Path, samples: int, overrides: Sequence[str] = ()
) -> torch.nn.Module:
    """Re-estimate ``model``'s BatchNorm statistics (a cumulative mean) on ``samples`` training
    faces of ``recipe``'s training split, augmented as the recipe trains."""
    data = load_config(recipe, list(overrides)).data
    preprocess = get_model_spec(model).preprocess_cfg()
    if data.preprocess.get("face_augment"):
        preprocess["face_augment"] = data.preprocess["face_augment"]
    dataset = build_split(data, data.train_split, preprocess, train=True, seed=0)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative mean over every batch
    model.train()
    seen = 0
    torch.manual_seed(0)  # the augmentation's draws: a saved soup is rebuilt exactly
    order = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for batch in torch.utils.data.DataLoader(
            dataset, batch_size=256, shuffle=True, generator=order
        ):
            model(batch["face"])
            seen += len(batch["label"])
            if seen >= samples:
                break
    return model.eval()


def mixtures(models: list[str], weights: list[float] | None) -> list[list[float]]:
    """The weight vectors to try: with two models each value w of ``weights`` is (w, 1 - w)
    (default 0.5); with more, ``weights`` is the one vector (default equal weights)."""
    if len(models) < 2:
        raise SystemExit("fer2013_ensemble.py: name at least two models to average")
    if len(models) == 2:
        return [[w, 1.0 - w] for w in (weights or [0.5])]
    if weights is None:
        return [[1.0 / len(models)] * len(models)]
    if len(weights) != len(models):
        raise SystemExit(
            f"fer2013_ensemble.py: --weights has {len(weights)} values for {len(models)} "
            "models: with more than two models give one weight per model"
        )
    return [list(weights)]


def _shown(recipe: Path) -> str:
    """``recipe`` relative to the repository where it lies inside it."""
    path = recipe.resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def label(mixture: list[float]) -> str:
    """``0.5 / 0.5`` for a mixture's weights."""
    return " / ".join(f"{w:.3g}" for w in mixture)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="face model tags or local-dir: folders (2+)")
    parser.add_argument(
        "--weights",
        type=float,
        nargs="+",
        default=None,
        help="two models: the first model's weight w of each mixture (w, 1 - w) to try; "
        "more models: one weight per model (default: equal)",
    )
    parser.add_argument(
        "--recipe", type=Path, default=REPO / "recipes" / "face_resnet18_fer2013_member.yaml"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a key of --recipe, as train's overrides (e.g. data.root=DIR); repeatable",
    )
    parser.add_argument("--soup", action="store_true", help="also average the weights")
    parser.add_argument("--bn-refresh", type=int, default=0, help="re-estimate the soup's BN")
    parser.add_argument(
        "--save",
        type=Path,
        default=None,
        help="build only the soup of the first mixture and save it here as a run folder",
    )
    parser.add_argument(
        "--trained-run",
        type=Path,
        nargs="*",
        default=[],
        help="with --save: the training runs the soup's members come from (for the record)",
    )
    args = parser.parse_args(argv)
    candidates = mixtures(args.models, args.weights)

    members = [glamor_zoo.create_model(name, pretrained=True) for name in args.models]
    if args.save is not None:
        mixture, started = candidates[0], time.perf_counter()
        soup = average_model_weights(members, mixture)
        if args.bn_refresh:
            soup = refresh_batchnorm(soup, args.recipe, args.bn_refresh, args.overrides)
        given = list(argv) if argv is not None else sys.argv[1:]
        command = " ".join(["python tools/fer2013_ensemble.py", *given])
        record = {
            "members": args.models,
            "weights": mixture,
            "batchnorm_refresh_faces": args.bn_refresh,
            "batchnorm_refresh": "cumulative mean over augmented training faces of the recipe's "
            "train split, torch seed 0",
            "recipe": _shown(args.recipe),
            "recipe_overrides": args.overrides,
            "trained_runs": [str(run) for run in args.trained_run],
            "command": command,
            "minutes": round((time.perf_counter() - started) / 60, 1),
        }
        save_soup(soup, args.save, args.recipe, record, args.overrides)
        return
    print("| model | hold-out top-1 |\n|---|---:|")
    for name, member in zip(args.models, members, strict=True):
        print(f"| {name} | {holdout_top1(member, args.recipe, args.overrides):.2f} |")
    for mixture in candidates:
        ensemble = combine_face_models(members, mixture)
        top1 = holdout_top1(ensemble, args.recipe, args.overrides)
        print(f"| ensemble, weights {label(mixture)} | {top1:.2f} |")
        if args.soup:
            soup = average_model_weights(members, mixture)
            top1 = holdout_top1(soup, args.recipe, args.overrides)
            print(f"| soup, weights {label(mixture)} | {top1:.2f} |")
            if args.bn_refresh:
                soup = refresh_batchnorm(soup, args.recipe, args.bn_refresh, args.overrides)
                top1 = holdout_top1(soup, args.recipe, args.overrides)
                print(
                    f"| soup, weights {label(mixture)}, BatchNorm re-estimated on "
                    f"{args.bn_refresh} faces | {top1:.2f} |"
                )


if __name__ == "__main__":
    main()
