"""Write a recipe source's hold-out as a folder of class folders (symbolic links), so that
``glamor-zoo eval`` scores exactly the images the trainer held out.

    python tools/holdout_folder.py recipes/face_resnet26_fer2013_sfew.yaml sfew runs/sfew_holdout
    glamor-zoo eval face_resnet26.fer2013_sfew runs/sfew_holdout --kind folder --split all

The hold-out is drawn as the trainer draws it (:func:`glamor_zoo.train.data.group_holdout` for a
``holdout_group``, whole groups such as films; else stratified by class), from the source's
training split; the links keep the class folders' names. An existing ``OUT`` is refused.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from glamor_zoo.data.datasets.base import class_folders
from glamor_zoo.data.datasets.folder import resolve_split_folder
from glamor_zoo.data.images import list_images
from glamor_zoo.train.config import load_config
from glamor_zoo.train.data import group_holdout, stratified_holdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe", type=Path)
    parser.add_argument("source", help="the name of one of the recipe's data.sources")
    parser.add_argument("out", type=Path, help="a new folder")
    args = parser.parse_args()
    config = load_config(args.recipe)
    sources = {s.name: s for s in config.data.sources}
    if args.source not in sources:
        raise SystemExit(f"{args.recipe}: no data source named {args.source!r} ({list(sources)})")
    source = sources[args.source]
    if args.out.exists():
        raise SystemExit(f"{args.out} exists: give a new folder")
    folder = resolve_split_folder(Path(source.root), source.train_split)
    files = [(p, c.name) for c in class_folders(folder) for p in list_images(c)]
    if source.holdout_group:
        held = group_holdout(
            [str(p) for p, _ in files], source.holdout_group, source.holdout, source.holdout_seed
        )
    else:
        held = stratified_holdout([c for _, c in files], source.holdout, source.holdout_seed)
    for index in held:
        path, name = files[int(index)]
        target = args.out / name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(path.resolve(), target)
    print(f"{len(held)} of {len(files)} images of {args.source!r} held out, linked in {args.out}")


if __name__ == "__main__":
    main()
