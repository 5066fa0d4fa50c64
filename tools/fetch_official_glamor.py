"""Maintainers: fetch the authors' GLAMOR-Net checkpoint for real and check it against their pictures.

Needs a network. It does what ``glamor_zoo.create_model("glamor_original.ncaer_s",
pretrained=True)`` does on a user's first load (download the three files at the pinned commit,
verify them, convert them without TensorFlow, cache the folder), into ``--cache`` (default: the
user's cache), then:

1. prints every file's sha256, git blob id and size, so that the sha256 of
   ``Model.data-00001-of-00002`` can be pinned in ``glamor_zoo/convert/official.py`` next to its
   blob id;
2. downloads the authors' four ``test_images/N.jpg`` and the pictures their ``predict.py`` drew
   for them with this checkpoint (``out/N.jpg``), and dlib's MMOD face detector;
3. runs ``glamor-zoo predict --preprocessing official --detector dlib-mmod`` on the four images
   and prints each face's label beside the path of the authors' picture, whose drawn labels
   must agree (read them there: the labels are drawn into the pixels).

Usage::

    python tools/fetch_official_glamor.py --work /tmp/glamor-official
"""

from __future__ import annotations

import argparse
import bz2
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

from glamor_zoo.convert.official import GLAMOR_NET, TF_MIRROR_ENV, ensure_official_weights

MMOD_URL = "http://dlib.net/files/mmod_human_face_detector.dat.bz2"
IMAGES = (1, 2, 3, 4)


def build_parser() -> argparse.ArgumentParser:
    """The script's arguments."""
    parser = argparse.ArgumentParser(
        description="Fetch, verify and convert the authors' GLAMOR-Net checkpoint, then compare "
        "the zoo's predictions on their test images with the pictures their code drew."
    )
    parser.add_argument(
        "--work", type=Path, required=True, help="folder for the test images, pictures, detector"
    )
    parser.add_argument(
        "--cache",
        type=Path,
        help="cache folder for the converted checkpoint (default: the user's, "
        "<torch hub dir>/glamor_zoo)",
    )
    parser.add_argument(
        "--mirror",
        help=f"folder URL or local folder serving the three files (default: ${TF_MIRROR_ENV}, "
        "else the authors' repository at the pinned commit)",
    )
    parser.add_argument(
        "--mmod",
        type=Path,
        help=f"dlib's mmod_human_face_detector.dat (default: downloaded from {MMOD_URL})",
    )
    parser.add_argument(
        "--skip-predict", action="store_true", help="only fetch, verify, convert and print hashes"
    )
    return parser


def _download(url: str, path: Path) -> Path:
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(url, timeout=60) as response:
            path.write_bytes(response.read())
    return path


def _repository_file(name: str, work: Path) -> Path:
    url = f"https://raw.githubusercontent.com/{GLAMOR_NET.repository}/{GLAMOR_NET.commit}/{name}"
    return _download(url, work / name)


def _print_hashes(folder: Path) -> None:
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    source = config["conversion"]["source"]
    print(f"converted folder: {folder}")
    print(f"downloaded from:  {source['downloaded_from']} (commit {source['commit']})")
    for record in source["files"]:
        print(
            f"  {record['name']:<28} {record['bytes']:>10,} bytes  sha256 {record['sha256']}  "
            f"git blob {record['git_blob']}"
        )
    shard = source["files"][-1]
    print(f"pin next to the blob id of {shard['name']}: sha256={shard['sha256']!r}")


def _predict(folder: Path, work: Path, mmod: Path) -> list[dict]:
    command = [
        sys.executable,
        "-m",
        "glamor_zoo",
        "predict",
        *(str(work / "test_images" / f"{n}.jpg") for n in IMAGES),
        "--model",
        f"local-dir:{folder}",
        "--preprocessing",
        "official",
        "--detector",
        "dlib-mmod",
        "--detector-arg",
        f"model_path={mmod}",
        "--format",
        "json",
        "--no-progress",
    ]
    print("$", " ".join(command))
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    folder = ensure_official_weights(GLAMOR_NET, cache_dir=args.cache, mirror=args.mirror)
    _print_hashes(folder)
    if args.skip_predict:
        return 0
    for n in IMAGES:
        _repository_file(f"test_images/{n}.jpg", args.work)
        _repository_file(f"out/{n}.jpg", args.work)
    mmod = args.mmod
    if mmod is None:
        mmod = args.work / "mmod_human_face_detector.dat"
        if not mmod.is_file():
            packed = _download(MMOD_URL, args.work / "mmod_human_face_detector.dat.bz2")
            mmod.write_bytes(bz2.decompress(packed.read_bytes()))
    records = _predict(folder, args.work, mmod)
    print(f"\n{'image':<18} {'the zoo (official preprocessing)':<48} the authors' picture")
    for n, record in zip(IMAGES, records, strict=True):
        faces = ", ".join(
            f"{face['label']} {face['confidence']:.2f} at {face['box']}" for face in record["faces"]
        )
        print(f"test_images/{n}.jpg  {faces or 'no face':<48} {args.work / 'out' / f'{n}.jpg'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
