"""Released tags: one tag names one file forever, checked at load; the wheel stays small.

The ledger ``glamor_zoo/weights/released.json`` records every released tag's file and sha256.
These tests walk timm's registry: every tag that names a file is in the ledger, its cfg's sha256
is the ledger's, and the file (wherever it is installed) hashes to it. A tag's hash never
changes: the hashes frozen below and every committed version of the ledger must agree.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import timm
import torch

import glamor_zoo
from glamor_zoo.models._checkpoint import CheckpointError
from glamor_zoo.models._released import (
    LEDGER_PATH,
    PACKAGE_WEIGHTS,
    WEIGHTS_ENV,
    WeightsNotInstalledError,
    find_released_file,
    released_ledger,
)
from glamor_zoo.serialization import file_sha256

REPO = Path(__file__).resolve().parents[1]
# The tags released before the ledger existed, frozen to the files they named then.
FROZEN = {
    "deep_emotion.fer2013": "431cf7e09376da2b0a82dc338813318f3a47dd229601cb23ffc83fb37a8db9fd",
    "face_resnet18.fer2013": "5e855b8580caac2041a810d76443b892ba123360d16d9f2c8cf4baa17fde942a",
    "face_resnet26.fer2013": "8ad24f822840b2cfa7f323351e6eafd9fda1511ed224e7e4e1d58838a355ebd5",
}
IN_THE_WHEEL = (
    "face_resnet26.fer2013_sfew_hardfer",  # the default
    "face_resnet26.fer2013",  # the best on FER-2013 itself
    "deep_emotion.fer2013",
)
WHEEL_LIMIT = 25 * 10**6


def _registered_files() -> dict[str, timm.models.PretrainedCfg]:
    """Every zoo ``arch.tag`` whose pretrained cfg names a weights file."""
    names = glamor_zoo.list_models(pretrained=True, unpublished=True)
    cfgs = {name: timm.models.get_pretrained_cfg(name) for name in names}
    return {name: cfg for name, cfg in cfgs.items() if cfg is not None and cfg.file}


def test_every_tag_with_a_file_is_released_and_its_file_hashes_to_cfg_and_ledger() -> None:
    ledger = released_ledger()
    registered = _registered_files()
    assert sorted(registered) == sorted(ledger)
    for tag, cfg in registered.items():
        entry = ledger[tag]
        assert cfg.sha256 == entry["sha256"], tag
        assert Path(cfg.file).name == entry["file"], tag
        path = find_released_file(entry["file"])
        assert path is not None, f"{tag}: {entry['file']} is in no weights folder"
        assert file_sha256(path) == entry["sha256"], f"{tag}: {path} is not the released file"


def test_no_released_tag_ever_changes_its_hash() -> None:
    ledger = released_ledger()
    for tag, sha256 in FROZEN.items():
        assert ledger[tag]["sha256"] == sha256, f"{tag} was re-pointed: give new weights a new tag"
    if shutil.which("git") is None or not (REPO / ".git").exists():
        return
    relative = LEDGER_PATH.relative_to(REPO).as_posix()
    commits = subprocess.run(
        ["git", "log", "--format=%H", "--", relative],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    for commit in commits:
        shown = subprocess.run(
            ["git", "show", f"{commit}:{relative}"], cwd=REPO, capture_output=True, text=True
        )
        if shown.returncode:  # the commit removed the file
            continue
        for tag, entry in json.loads(shown.stdout).items():
            assert tag in ledger, f"{tag} (in the ledger at {commit[:7]}) was dropped"
            assert ledger[tag] == entry, f"{tag} changed since {commit[:7]}"


def test_the_wheel_carries_the_default_and_deep_emotion_within_the_size_limit() -> None:
    from glamor_zoo.inference import DEFAULT_MODEL

    assert DEFAULT_MODEL in IN_THE_WHEEL
    ledger = released_ledger()
    for tag in IN_THE_WHEEL:
        assert (PACKAGE_WEIGHTS / ledger[tag]["file"]).is_file(), f"{tag} must ship in the wheel"
    released_files = {entry["file"] for entry in ledger.values()}
    shipped = {path.name for path in PACKAGE_WEIGHTS.glob("*.safetensors")}
    assert shipped <= released_files, (
        f"unreleased weights in the package: {shipped - released_files}"
    )
    # Uncompressed size of everything under the package: an upper bound of the wheel's size.
    package = PACKAGE_WEIGHTS.parent
    size = sum(
        path.stat().st_size
        for path in package.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )
    assert size <= WHEEL_LIMIT, f"the package holds {size / 1e6:.1f} MB, over the wheel's 25 MB"


def test_a_corrupt_released_file_fails_naming_the_file_and_both_hashes(tmp_path: Path) -> None:
    source = PACKAGE_WEIGHTS / released_ledger()["deep_emotion.fer2013"]["file"]
    broken = tmp_path / source.name
    data = bytearray(source.read_bytes())
    data[-1] ^= 1  # a flipped bit in a tensor: still a readable safetensors file
    broken.write_bytes(bytes(data))
    with pytest.raises(CheckpointError) as caught:
        glamor_zoo.create_model(
            "deep_emotion.fer2013", pretrained=True, pretrained_cfg_overlay={"file": str(broken)}
        )
    message = str(caught.value)
    assert str(broken) in message
    assert FROZEN["deep_emotion.fer2013"] in message and file_sha256(broken) in message


def test_a_tag_outside_the_wheel_says_where_its_file_lives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As installed from the wheel: no source repository beside the package.
    monkeypatch.setattr("glamor_zoo.models._released.REPOSITORY_WEIGHTS", tmp_path / "absent")
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    missing = tmp_path / "face_resnet18_fer2013.safetensors"
    with pytest.raises(WeightsNotInstalledError) as caught:
        glamor_zoo.create_model(
            "face_resnet18.fer2013", pretrained=True, pretrained_cfg_overlay={"file": str(missing)}
        )
    message = str(caught.value)
    assert "weights/face_resnet18_fer2013.safetensors" in message and WEIGHTS_ENV in message
    assert FROZEN["face_resnet18.fer2013"] in message


def test_a_released_file_is_found_in_the_folder_the_environment_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = released_ledger()["deep_emotion.fer2013"]["file"]
    shutil.copy(PACKAGE_WEIGHTS / name, tmp_path / name)
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path))
    monkeypatch.setattr("glamor_zoo.models._released.PACKAGE_WEIGHTS", tmp_path / "absent")
    assert find_released_file(name) == tmp_path / name
    # A tag registered where its file no longer is finds it there at load.
    model = glamor_zoo.create_model(
        "deep_emotion.fer2013",
        pretrained=True,
        pretrained_cfg_overlay={"file": str(tmp_path / "absent" / name)},
    )
    assert model.pretrained_cfg["file"] == str(tmp_path / name)


def test_a_saved_released_tag_is_a_plain_timm_folder(tmp_path: Path) -> None:
    model = glamor_zoo.create_model("deep_emotion.fer2013", pretrained=True).eval()
    assert timm.models.get_pretrained_cfg("deep_emotion.fer2013").sha256  # in the registry
    assert "sha256" not in model.pretrained_cfg  # not in what timm writes into config.json
    folder = glamor_zoo.serialization.save_pretrained(model, tmp_path / "saved")
    config = json.loads((folder / "config.json").read_text())
    assert "sha256" not in config["pretrained_cfg"]
    timm.models.PretrainedCfg(**config["pretrained_cfg"])  # plain timm reads it
    loaded = glamor_zoo.create_model(f"local-dir:{folder}").eval()
    face = torch.rand(2, 1, 48, 48)
    with torch.no_grad():
        torch.testing.assert_close(loaded(face), model(face))
