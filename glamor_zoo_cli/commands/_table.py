"""Markdown table of registered models (used by ``glamor-zoo models`` and the README)."""

from __future__ import annotations

from collections.abc import Iterable

PAPER_PARAMS_M = {"glamor_original": 2.23, "glamor_mobilenetv2": 5.83, "glamor_resnet18": 22.90}


def model_table(names: Iterable[str], num_classes: int = 7) -> str:
    """One row per model: trainable parameters, the paper's count, pretrained tags (a tag whose
    weights are not published yet is starred; one whose weights are the authors' checkpoint,
    converted on first load, has a dagger)."""
    import torch

    import glamor_zoo
    from glamor_zoo.models._official import official_source

    pretrained = glamor_zoo.list_models(pretrained=True, unpublished=True)
    rows = [
        "| model | params (M) | paper (M) | pretrained tags (* = not published yet, "
        "† = the authors' checkpoint) |",
        "|---|---:|---:|---|",
    ]
    with torch.device("meta"):
        for name in names:
            model = glamor_zoo.create_model(name, num_classes=num_classes)
            params = sum(p.numel() for p in model.parameters() if p.requires_grad)
            tags = ", ".join(
                t.split(".", 1)[1]
                + ("" if glamor_zoo.is_published(t) else "*")
                + ("†" if official_source(t) is not None else "")
                for t in pretrained
                if t.split(".", 1)[0] == name
            )
            paper = PAPER_PARAMS_M.get(name)
            rows.append(
                f"| {name} | {params / 1e6:.3f} | {paper if paper else '–'} | {tags or '–'} |"
            )
    return "\n".join(rows)
