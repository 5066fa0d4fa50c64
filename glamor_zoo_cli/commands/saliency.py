"""``glamor-zoo saliency``: occlusion saliency maps (Deep-Emotion §IV-C) as PNG files."""

from __future__ import annotations

import argparse
import logging

from glamor_zoo_cli.commands import CliError

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
    from glamor_zoo.data import ImageLoadError, load_image
    from glamor_zoo.inference.saliency import face_saliency
    from glamor_zoo.outputs import OutputFolderError, claim_outputs
    from glamor_zoo.saliency import check_render_size, saliency_file_names, save_saliency_png
    from glamor_zoo_cli.commands._common import load_cli_model

    if args.scale < 1:
        raise CliError(f"--scale must be a whole number >= 1, got {args.scale}")
    loaded = load_cli_model(args.model, pretrained=False if args.random_weights else None)
    try:
        check_render_size(*loaded.spec.face_size, args.scale)
    except ValueError as exc:
        raise CliError(f"--scale: {exc}") from None
    if loaded.uses_context and args.box is None:
        raise CliError(
            f"{loaded.name} reads the face and its context: give the face with --box x1,y1,x2,y2"
        )
    labels = loaded.labels
    target = _target_index(args.target, labels)
    names = saliency_file_names(args.images)
    try:
        claim_outputs(args.out_dir, names, args.overwrite)
    except OutputFolderError as exc:
        raise CliError(str(exc)) from None

    failures = 0
    for path, name in zip(args.images, names, strict=True):
        try:
            result = face_saliency(
                loaded.model,
                loaded.spec,
                load_image(path),
                args.box,
                window=args.window,
                stride=args.stride,
                target=target,
            )
            out = args.out_dir / name
            save_saliency_png(
                str(out), getattr(result.saliency, args.map), result.face, scale=args.scale
            )
        except (ImageLoadError, ValueError, OSError) as exc:
            failures += 1
            _logger.error("%s: %s", path, exc)
            continue
        sal = result.saliency
        name = labels[sal.target] if sal.target < len(labels) else str(sal.target)
        print(f"{path}\t{name}\t{float(sal.probs[sal.target]):.3f}\t{out}")
    return 1 if failures else 0
