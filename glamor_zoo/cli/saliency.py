"""``glamor-zoo saliency``: occlusion saliency maps (Deep-Emotion §IV-C) as PNG files."""

from __future__ import annotations

import argparse
import logging

from glamor_zoo.cli import CliError

_logger = logging.getLogger(__name__)


def _target_index(target: str | None, labels: list[str]) -> int | None:
    if target is None:
        return None
    if target.isdigit():
        return int(target)
    from glamor_zoo.labels import canonical_label

    try:
        name = canonical_label(target)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if name not in labels:
        raise CliError(f"--target {target!r}: the model's classes are {', '.join(labels)}")
    return labels.index(name)


def run(args: argparse.Namespace) -> int:
    import torch

    from glamor_zoo.cli._common import load_cli_model
    from glamor_zoo.data import GlamorTransform, ImageLoadError, load_image
    from glamor_zoo.data.transforms import crop_face, to_uint8_tensor
    from glamor_zoo.saliency import occlusion_saliency, save_saliency_png

    model = load_cli_model(args.model, pretrained=False if args.random_weights else None).model
    pcfg = model.preprocess_cfg() if hasattr(model, "preprocess_cfg") else {"inputs": "face"}
    two_inputs = pcfg.get("inputs", "face") != "face"
    if two_inputs and args.box is None:
        raise CliError(
            f"{args.model} reads the face and its context: give the face with --box x1,y1,x2,y2"
        )
    labels = list(
        model.pretrained_cfg.get("label_names") or [str(i) for i in range(model.num_classes)]
    )
    target = _target_index(args.target, labels)
    transform = GlamorTransform(pcfg, train=False)
    side = min(transform.face_size)
    window = args.window or max(1, side // 6)
    stride = args.stride or max(1, window // 2)

    failures = 0
    for path in args.images:
        try:
            image = load_image(path)
            box = args.box or (0, 0, image.width, image.height)
            inputs = transform(image, box)
            result = occlusion_saliency(
                model,
                inputs["face"],
                inputs.get("context"),
                window=window,
                stride=stride,
                target=target,
            )
            face = crop_face(
                to_uint8_tensor(image), box, transform.face_size, transform.interpolation
            )
            face_u8 = (face * 255).round().clamp(0, 255).to(torch.uint8)
            out = args.out_dir / f"{path.stem}_saliency.png"
            save_saliency_png(str(out), getattr(result, args.map), face_u8, scale=args.scale)
        except (ImageLoadError, ValueError, OSError) as exc:
            failures += 1
            _logger.error("%s: %s", path, exc)
            continue
        name = labels[result.target] if result.target < len(labels) else str(result.target)
        print(f"{path}\t{name}\t{float(result.probs[result.target]):.3f}\t{out}")
    return 1 if failures else 0
