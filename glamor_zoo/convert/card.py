"""A short, truthful model card for a folder written by ``glamor-zoo convert-tf``.

It states only what the conversion knows: the source files and their hashes, the architecture
and preprocessing stored in ``config.json``, and the output-parity check when one was run. It
claims no accuracy, because converting weights measures none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["render_card"]

_CITATION = """@article{le2021glamor,
  title   = {Global-local attention for emotion recognition},
  author  = {Le, Nhat and Nguyen, Khanh and Nguyen, Anh and Le, Bac},
  journal = {Neural Computing and Applications},
  year    = {2021},
  note    = {arXiv:2111.04129}
}"""


def _usage(name: str, config: Mapping[str, Any]) -> str:
    pre = config.get("preprocess_cfg", {})
    fh, fw = pre.get("face_size", [96, 96])
    ch, cw = pre.get("context_size", [112, 112])
    load = (
        f'model = glamor_zoo.create_model("{name}")'
        if name.startswith(("hf-hub:", "local-dir:"))
        else f'model = glamor_zoo.create_model("{name}", pretrained=True)'
    )
    return f"""```python
import torch
import glamor_zoo  # registers the architecture with timm

{load}
model.eval()
face = torch.rand(1, 3, {fh}, {fw})        # RGB face crop, pixels / 255
context = torch.rand(1, 3, {ch}, {cw})    # whole image, face box zeroed, pixels / 255
probs = model(face, context).softmax(dim=1)
labels = model.pretrained_cfg["label_names"]
```"""


def render_card(config: Mapping[str, Any], hub_id: str | None = None) -> str:
    """The ``README.md`` of a converted model folder, from its ``config.json`` dict.

    Args:
        config: The folder's ``config.json`` (with the ``conversion`` record).
        hub_id: The Hub repository it will be published as; the usage example loads it from
            there (``hf-hub:ORG/NAME``), else from the folder (``local-dir:PATH``).
    """
    conversion = config.get("conversion", {})
    pre = config.get("preprocess_cfg", {})
    args = config.get("model_args", {})
    labels = config.get("label_names") or []
    name = f"hf-hub:{hub_id}" if hub_id else "local-dir:PATH/TO/THIS/FOLDER"
    files = "\n".join(
        f"| `{file}` | {info['bytes']:,} | `{info['sha256']}` |"
        for file, info in conversion.get("files", {}).items()
    )
    check = conversion.get("reference_check")
    if check:
        diffs = ", ".join(f"{k} {v:.2g}" for k, v in check["max_abs_diff"].items())
        parity = (
            f"Checked against outputs of the original TensorFlow code (`{check['reference']}`): "
            f"largest absolute differences {diffs} (tolerance {check['tolerance']:g})."
        )
    else:
        parity = (
            "No reference outputs were given at conversion time, so output parity with the "
            "original code was not checked for this folder (the converter's tests check it on "
            "a checkpoint written by the official code)."
        )
    front = [
        "---",
        "library_name: timm",
        "license: mit",
        "tags:",
        "- image-classification",
        "- emotion-recognition",
        "- glamor-zoo",
        "- timm",
        "---",
    ]
    body = f"""
# {config.get("architecture", "glamor_original")}{f" — {hub_id}" if hub_id else ""}

{config.get("pretrained_cfg", {}).get("description", "GLAMOR-Net weights converted from TensorFlow.")}

GLAMOR-Net (Le, Nguyen, Nguyen and Le, *Global-local attention for emotion recognition*,
Neural Computing and Applications 2021) classifies the emotion of a person from a face crop
and from the scene around it (the whole image with the face box zeroed).

## Usage

{_usage(name, config)}

## Model

- Architecture: `{config.get("architecture")}`, {config.get("num_classes")} classes: {", ".join(labels) or "unnamed"}
- Encoder widths: {args.get("encoder_widths")}
- Face input {pre.get("face_size")}, context input {pre.get("context_size")} (H, W); pixels / 255,
  no mean/std; context resized to {pre.get("context_resize")} and cropped at {pre.get("context_crop_offset")}.
- The model returns logits; the original code returned their softmax.

## Provenance

Converted by {conversion.get("converter", "glamor_zoo")} from the TensorFlow 2 checkpoint
`{conversion.get("checkpoint", "?")}` ({conversion.get("num_variables", "?")} variables):

| file | bytes | sha256 |
|---|---:|---|
{files}

{parity}

## Evaluation

None: this card reports no accuracy, because a conversion measures none. Evaluate the model on
your data before relying on it.

## Citation

```bibtex
{_CITATION}
```
"""
    return "\n".join(front) + "\n" + body.lstrip("\n")
