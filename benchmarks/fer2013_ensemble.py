"""Would averaging two FER-2013 face models beat the packaged one? Measured on the hold-out only.

    python benchmarks/fer2013_ensemble.py face_resnet18.fer2013 \
        local-dir:runs/face_resnet18_fer2013_member/model --weights 0.5 0.6 0.7

Scores each model, then ``glamor_zoo.models.ensemble.combine_face_models([first, second],
[w, 1 - w])`` for each ``--weights`` w, on the stratified 10 % hold-out of FER-2013 train that
``--recipe`` names (every choice of the zoo's FER-2013 weights is made there; validation is
never read here). The rule in docs/weights.md: the ensemble replaces the packaged model only if
its best weight gains at least 0.3 points on the hold-out.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import glamor_zoo
from glamor_zoo.models.ensemble import combine_face_models
from glamor_zoo.spec import get_model_spec
from glamor_zoo.train.config import load_config
from glamor_zoo.train.data import HOLDOUT_SPLIT, build_split

REPO = Path(__file__).resolve().parents[1]


def holdout_top1(model: torch.nn.Module, recipe: Path) -> float:
    """Top-1 (%) of ``model`` (eval mode) on ``recipe``'s hold-out."""
    data = load_config(recipe).data
    preprocess = get_model_spec(model).preprocess_cfg()
    dataset = build_split(data, HOLDOUT_SPLIT, preprocess, train=False, seed=0)
    model = model.eval()
    hits = total = 0
    with torch.inference_mode():
        for batch in torch.utils.data.DataLoader(dataset, batch_size=256):
            hits += int((model(batch["face"]).argmax(1) == batch["label"]).sum())
            total += len(batch["label"])
    return 100.0 * hits / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", help="a face model tag or local-dir: (weight w)")
    parser.add_argument("second", help="another one (weight 1 - w)")
    parser.add_argument("--weights", type=float, nargs="+", default=[0.5])
    parser.add_argument(
        "--recipe", type=Path, default=REPO / "recipes" / "face_resnet18_fer2013_member.yaml"
    )
    args = parser.parse_args()

    first = glamor_zoo.create_model(args.first, pretrained=True)
    second = glamor_zoo.create_model(args.second, pretrained=True)
    print("| model | hold-out top-1 |\n|---|---:|")
    print(f"| {args.first} | {holdout_top1(first, args.recipe):.2f} |")
    print(f"| {args.second} | {holdout_top1(second, args.recipe):.2f} |")
    for weight in args.weights:
        ensemble = combine_face_models([first, second], [weight, 1.0 - weight])
        print(
            f"| ensemble, weights {weight:g} / {1 - weight:g} | {holdout_top1(ensemble, args.recipe):.2f} |"
        )


if __name__ == "__main__":
    main()
