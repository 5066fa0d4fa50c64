"""The released-weights table of README.md, generated from the released weights' configs.

    python tools/readme_table.py            # print the table
    python tools/readme_table.py --write    # replace the table between README.md's markers

One row per tag of the ledger ``glamor_zoo/weights/released.json``, read from its config
``glamor_zoo/weights/<arch>_<tag>.json``: what the model reads, what it was trained on, its
measured figures (``metrics`` and, where present, ``cross_dataset``), its parameter count and
its licence (``weights_terms``). A last row names the authors' GLAMOR-Net weights
(``glamor_original.ncaer_s``, fetched and converted on first use), with the paper's figure.
``tests/test_readme.py`` fails when README.md's block differs.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
WEIGHTS = ROOT / "glamor_zoo" / "weights"
START = "<!-- released-weights:start -->\n"
END = "<!-- released-weights:end -->"

# Dataset names as configs spell them → as people write them.
DATASET_NAMES = {
    "fer2013": "FER-2013",
    "sfew": "SFEW",
    "sfew_holdout": "SFEW hold-out",
    "ckplus": "CK+",
    "ckplus48": "CK+48",
    "caer_s": "CAER-S",
    "ncaer_s": "NCAER-S",
}
# The authors' weights: not in the ledger (fetched from their repository on first use).
OFFICIAL_TAG = "glamor_original.ncaer_s"
OFFICIAL_FIGURES = "NCAER-S test 46.91 (paper)"
HEADER = (
    "| tag | input | trained on | top-1 (%) | params (M) | licence |\n|---|---|---|---|---:|---|\n"
)


def _dataset(name: str) -> str:
    return DATASET_NAMES.get(name, name)


def _config(tag: str) -> dict[str, Any]:
    path = WEIGHTS / f"{tag.replace('.', '_')}.json"
    if not path.is_file():
        raise SystemExit(f"{tag}: its config {path.relative_to(ROOT)} is missing")
    return json.loads(path.read_text(encoding="utf-8"))


def _input(config: Mapping[str, Any]) -> str:
    channels, height, width = config["pretrained_cfg"]["input_size"]
    colour = "grey" if channels == 1 else "RGB"
    model_args = config.get("model_args", {})
    spec = config.get("spec") or model_args.get("spec") or {}
    inputs = spec.get("inputs") or model_args.get("inputs") or "face"
    what = {"face": "face", "context": "scene", "both": "face + scene"}.get(inputs, inputs)
    return f"{what}, {height}×{width} {colour}"


def _training_data(config: Mapping[str, Any]) -> str:
    data = config.get("recipe", {}).get("config", {}).get("data")
    if not isinstance(data, Mapping):
        return _dataset(config["dataset"])
    names = [data.get("name") or data["kind"]]
    names += [source["name"] for source in data.get("sources", [])]
    return " + ".join(_dataset(name) for name in names)


def _top1(value: Any) -> float | None:
    """A cross-dataset figure: a number, ``{"top1": …}``, or the released model's entry of a
    comparison (``{"model": {"top1": …}, "previous_default": …}``); ``None`` for an entry that
    is not a figure (a note of what was scored)."""
    if isinstance(value, Mapping):
        value = value.get("model", value)
        value = value.get("top1") if isinstance(value, Mapping) else None
    return float(value) if isinstance(value, (int, float)) else None


def _figures(config: Mapping[str, Any]) -> str:
    metrics = config["metrics"]
    if "validation" in metrics:
        validation = metrics["validation"]["top1"]
    else:  # the 0.1.0 layout: a fraction under val_accuracy
        validation = 100 * metrics["val_accuracy"]
    figures = [f"{_dataset(config['dataset'])} val **{validation:.2f}**"]
    for name, value in config.get("cross_dataset", {}).items():
        if (top1 := _top1(value)) is not None:
            figures.append(f"{_dataset(name)} {top1:.2f}")
    return ", ".join(figures)


def _params(tag: str) -> str:
    import glamor_zoo

    model = glamor_zoo.create_model(tag, pretrained=False)
    return _millions(sum(p.numel() for p in model.parameters()))


def _millions(count: int) -> str:
    return f"{count / 1e6:.2f}" if count >= 1e6 else f"{count / 1e6:.3f}"


def _official_row() -> str:
    import timm

    import glamor_zoo

    model = glamor_zoo.create_model(OFFICIAL_TAG.split(".")[0], pretrained=False)
    spec = glamor_zoo.get_model_spec(model)
    colour = "grey" if spec.in_chans == 1 else "RGB"
    inputs = f"face {spec.face_size[0]}×{spec.face_size[1]} + scene "
    inputs += f"{spec.context_size[0]}×{spec.context_size[1]}, {colour}"
    params = _millions(sum(p.numel() for p in model.parameters()))
    licence = timm.models.get_pretrained_cfg(OFFICIAL_TAG).license.upper()
    cells = [
        f"`{OFFICIAL_TAG}` (the authors')",
        inputs,
        "NCAER-S",
        OFFICIAL_FIGURES,
        params,
        licence,
    ]
    return "| " + " | ".join(cells) + " |\n"


def _licence(config: Mapping[str, Any]) -> str:
    terms = config.get("weights_terms") or config["pretrained_cfg"].get("license", "")
    return terms.split(":")[0].split(".")[0].strip()


def released_tags() -> list[str]:
    """The ledger's tags, sorted."""
    ledger = json.loads((WEIGHTS / "released.json").read_text(encoding="utf-8"))
    return sorted(ledger)


def weights_table(tags: list[str] | None = None) -> str:
    """The Markdown table of ``tags`` (every released tag by default), the default model
    marked, and the authors' weights last; it ends with a newline."""
    from glamor_zoo.inference.loading import DEFAULT_MODEL

    rows = []
    for tag in released_tags() if tags is None else tags:
        config = _config(tag)
        name = f"`{tag}`" + (" (default)" if tag == DEFAULT_MODEL else "")
        cells = [name, _input(config), _training_data(config), _figures(config)]
        cells += [_params(tag), _licence(config)]
        rows.append("| " + " | ".join(cells) + " |\n")
    return HEADER + "".join(rows) + _official_row()


def readme_block(readme: str) -> str:
    """The text between README.md's table markers."""
    if START not in readme or END not in readme:
        raise SystemExit(f"README.md has no {START.strip()} … {END} markers")
    return readme[readme.index(START) + len(START) : readme.index(END)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="replace README.md's table block")
    args = parser.parse_args()
    table = weights_table()
    if not args.write:
        print(table, end="")
        return
    readme = README.read_text(encoding="utf-8")
    old = readme_block(readme)
    README.write_text(readme.replace(START + old + END, START + table + END), encoding="utf-8")
    print("README.md: table " + ("unchanged" if old == table else "rewritten"))


if __name__ == "__main__":
    main()
