"""``glamor_original.ncaer_s`` with ``pretrained=True``: the authors' checkpoint at a pinned commit,
downloaded, verified, converted and cached, tested end to end against a local HTTP server.

The server serves the checkpoint that the official code wrote in ``tests/fixtures/tf_official_tiny``
(narrow encoders), pinned by its own hashes (:func:`tiny_source`): the path is the one the real
checkpoint takes, with the real pinned table swapped for the fixture's. The real
``Model.index`` is not in the repository; its pinned facts are checked against the list of the
full model's variables (``tests/fixtures/tf_official_full_variables.txt``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from huggingface_hub import constants
from tf_mirror_server import MirrorServer

import glamor_zoo
from glamor_zoo.convert import compare_with_reference, official, tf_name_to_zoo
from glamor_zoo.convert.download import PinnedFile, git_blob_id
from glamor_zoo.convert.glamor_tf import _to_torch_layout
from glamor_zoo.convert.official import (
    GLAMOR_NET,
    TF_MIRROR_ENV,
    OfficialCheckpoint,
    OfficialWeightsError,
    cached_official_folder,
)

FIXTURE = Path(__file__).parent / "fixtures" / "tf_official_tiny"
FULL_VARIABLES = Path(__file__).parent / "fixtures" / "tf_official_full_variables.txt"
INDEX, DATA = "Model.index", "Model.data-00000-of-00001"
TINY_COMMIT = "0123456789abcdef0123456789abcdef01234567"
FOLDER = f"/minhnhatvt/glamor-net/{TINY_COMMIT}/weights/glamor-net"
TAG = "glamor_original.ncaer_s"


def _bytes(name: str) -> bytes:
    return (FIXTURE / name).read_bytes()


def tiny_source(base_url: str, **changes: object) -> OfficialCheckpoint:
    """The fixture checkpoint pinned as the real one is: the index by sha256 and size, the data
    shard by its git blob id only."""
    index = _bytes(INDEX)
    files = (
        PinnedFile(INDEX, sha256=hashlib.sha256(index).hexdigest(), size=len(index)),
        PinnedFile(DATA, git_blob=git_blob_id(FIXTURE / DATA)),
    )
    fields = dict(
        name="tiny-official",
        tag=TAG,
        architecture="glamor_original",
        repository="minhnhatvt/glamor-net",
        commit=TINY_COMMIT,
        folder="weights/glamor-net",
        files=files,
        base_url=base_url,
    )
    return OfficialCheckpoint(**{**fields, **changes})


def _served(**replace: bytes) -> dict[str, bytes]:
    files = {INDEX: _bytes(INDEX), DATA: _bytes(DATA), **replace}
    return {f"{FOLDER}/{name}": data for name, data in files.items()}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torch hub folder, online, no mirror variable."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(TF_MIRROR_ENV, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return tmp_path / "torch" / "hub" / "glamor_zoo"


def _use(monkeypatch: pytest.MonkeyPatch, source: OfficialCheckpoint) -> None:
    monkeypatch.setitem(official.OFFICIAL_TAGS, TAG, source)


def _leftovers(root: Path) -> list[str]:
    """Everything in the cache but lock files."""
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if not p.name.endswith(".lock"))


def _assert_parity(model: torch.nn.Module) -> None:
    diffs = compare_with_reference(model, FIXTURE / "io.npz")
    assert max(diffs.values()) < 1e-5, diffs


# --- the real checkpoint's pinned facts -------------------------------------------------------


def test_pinned_table_is_the_authors_commit_and_every_full_variable_maps() -> None:
    assert GLAMOR_NET.tag == TAG and GLAMOR_NET.licence == "MIT"
    assert GLAMOR_NET.commit == "c12e1b97aa7354df126795f19402303a00166ec3"
    assert GLAMOR_NET.url == (
        "https://raw.githubusercontent.com/minhnhatvt/glamor-net/"
        "c12e1b97aa7354df126795f19402303a00166ec3/weights/glamor-net"
    )
    index, shard0, shard1 = GLAMOR_NET.files
    assert (index.name, index.size, index.sha256) == (
        "Model.index",
        5408,
        "650936d25a8928cc8af02d8e15250831a769f9cb7f49766628560158cd55b19d",
    )
    assert (shard0.name, shard0.size, shard0.sha256) == (
        "Model.data-00000-of-00002",
        12865,
        "1343522a85305a84b29e6492f09bff8d89b0b0fd2dd5381eaaf172425e6d0c2e",
    )
    assert (shard1.name, shard1.git_blob) == (
        "Model.data-00001-of-00002",
        "4d8ef22f1065c39bfb28267fa2e16477d5bccb3f",
    )
    assert GLAMOR_NET.prefix == "Model" and official.OFFICIAL_TAGS[TAG] is GLAMOR_NET
    # Every variable of the released model maps onto glamor_original with the right shape.
    with torch.device("meta"):
        expected = glamor_zoo.create_model("glamor_original").state_dict()
    mapped = {}
    for line in FULL_VARIABLES.read_text().splitlines():
        name, shape = line.split(" ", 1)
        key = tf_name_to_zoo(name)
        assert key is not None, name
        array = np.zeros(json.loads(shape), dtype=np.float32)
        mapped[key] = tuple(_to_torch_layout(name, array).shape)
    assert len(mapped) == 80
    assert mapped == {k: tuple(v.shape) for k, v in expected.items() if "num_batches" not in k}


def test_git_blob_id_is_gits() -> None:
    # `printf 'hello\n' | git hash-object --stdin`
    assert (
        hashlib.sha1(b"blob 6\0hello\n").hexdigest() == "ce013625030ba8dba906f756967f9e9ca394464a"
    )
    assert git_blob_id(FIXTURE / DATA) == hashlib.sha1(b"blob 110013\0" + _bytes(DATA)).hexdigest()


# --- download → verify → convert → cache → offline reload --------------------------------------


def test_first_load_fetches_verifies_converts_caches_and_later_loads_are_offline(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with MirrorServer(_served()) as server:
        source = tiny_source(server.url + FOLDER)
        _use(monkeypatch, source)
        assert TAG in glamor_zoo.list_models(pretrained=True)
        model = glamor_zoo.create_model(TAG, pretrained=True)
        assert sorted(server.requests) == sorted(f"{FOLDER}/{n}" for n in (INDEX, DATA))
        _assert_parity(model)
        assert glamor_zoo.get_model_spec(model).pipeline == "official"
        assert model.model_args["encoder_widths"] == [4, 8, 8, 16, 16]
    folder = cached_official_folder(source)
    assert folder.parent == cache and _leftovers(cache) == [folder.name]
    config = json.loads((folder / "config.json").read_text())
    record = config["conversion"]["source"]
    assert record["commit"] == TINY_COMMIT and record["downloaded_from"] == server.url + FOLDER
    assert record["repository"] == "https://github.com/minhnhatvt/glamor-net"
    assert [f["name"] for f in record["files"]] == [INDEX, DATA]
    assert record["files"][1]["git_blob"] == source.files[1].git_blob
    assert record["conversion_version"] == official.CONVERSION_VERSION
    assert (
        config["weights_sha256"]
        == hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    )
    card = (folder / "README.md").read_text()
    assert "Not re-measured by the zoo" in card and "glamor-net issue #3" in card
    assert "--preprocessing official" in card and "c12e1b97aa7354df126795f19402303a00166ec3" in card

    # The server is gone and the Hub is offline: every route loads from the cache.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    _assert_parity(timm.create_model(TAG, pretrained=True))
    _assert_parity(glamor_zoo.create_model("glamor_original", pretrained=True))  # default tag
    _assert_parity(glamor_zoo.create_model(f"local-dir:{folder}"))
    loaded = glamor_zoo.load_model(TAG)
    assert loaded.source == "official" and loaded.preprocessing == "official"
    assert "the authors' checkpoint" in loaded.describe()
    recognizer = glamor_zoo.EmotionRecognizer(TAG, detector="mtcnn")
    assert recognizer.spec.pipeline == "official"
    from glamor_zoo.demo.service import available_models

    assert TAG in [choice.name for choice in available_models()]


def test_mirror_variable_and_local_folder(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dead = "http://127.0.0.1:9/nothing-here"
    _use(monkeypatch, tiny_source(dead))
    with MirrorServer(_served()) as server:
        monkeypatch.setenv(TF_MIRROR_ENV, server.url + FOLDER + "/")
        _assert_parity(glamor_zoo.create_model(TAG, pretrained=True))
        assert len(server.requests) == 2
    # An air-gapped machine: the files in a folder, HF_HUB_OFFLINE set, another cache.
    monkeypatch.setenv(TF_MIRROR_ENV, str(FIXTURE))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    other = cache.parent / "elsewhere"
    _assert_parity(glamor_zoo.create_model(TAG, pretrained=True, cache_dir=other))
    assert _leftovers(other) == [tiny_source(dead).cache_name]


@pytest.mark.parametrize(
    ("case", "served", "pinned", "message"),
    [
        (
            "corrupt index",
            {INDEX: _bytes(INDEX)[:100] + b"\xff" + _bytes(INDEX)[101:]},
            {},
            rf"{INDEX}: sha256 [0-9a-f]{{64}}, but the pinned sha256 of {INDEX} .* is [0-9a-f]{{64}}",
        ),
        (
            "truncated index",
            {INDEX: _bytes(INDEX)[:4000]},
            {},
            rf"{INDEX}: size 4,000 bytes \(sha256 [0-9a-f]{{64}}\), but the pinned size .* is "
            r"5,105 bytes \(sha256 [0-9a-f]{64}\)",
        ),
        (
            "corrupt data shard",
            {DATA: _bytes(DATA)[:5000] + b"\x00\x01" + _bytes(DATA)[5002:]},
            {},
            rf"{DATA}: git blob id [0-9a-f]{{40}}, but the pinned git blob id .* is [0-9a-f]{{40}}",
        ),
        (
            "truncated data shard",
            {DATA: _bytes(DATA)[:50_000]},
            {},
            rf"{DATA}: git blob id [0-9a-f]{{40}}, but the pinned",
        ),
        ("wrong pinned hash", {}, {"sha256": "0" * 64}, rf"{INDEX}: sha256 .* is 0{{64}}: these"),
    ],
)
def test_bytes_other_than_the_pinned_ones_are_refused_and_nothing_is_cached(
    cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    served: dict[str, bytes],
    pinned: dict[str, str],
    message: str,
) -> None:
    with MirrorServer(_served(**served)) as server:
        source = tiny_source(server.url + FOLDER)
        if pinned:
            files = (dataclasses.replace(source.files[0], **pinned), *source.files[1:])
            source = dataclasses.replace(source, files=files)
        _use(monkeypatch, source)
        with pytest.raises(OfficialWeightsError, match=message) as info:
            glamor_zoo.create_model(TAG, pretrained=True)
    assert "nothing was cached" in str(info.value) and server.url in str(info.value)
    assert _leftovers(cache) == [], case


def test_a_tensor_whose_crc32c_fails_is_refused_even_when_the_file_is_pinned(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pinned shard hash is the first check, each tensor's CRC-32C (from the index) the
    second: a table that pinned damaged bytes still converts nothing."""
    from glamor_zoo.convert import TensorBundle

    entry = TensorBundle(FIXTURE / "Model").entries["final_fc1/kernel/.ATTRIBUTES/VARIABLE_VALUE"]
    damaged = bytearray(_bytes(DATA))
    damaged[entry.offset + 10] ^= 0xFF
    with MirrorServer(_served(**{DATA: bytes(damaged)})) as server:
        source = tiny_source(server.url + FOLDER)
        blob = hashlib.sha1(b"blob %d\0" % len(damaged) + bytes(damaged)).hexdigest()
        source = dataclasses.replace(
            source, files=(source.files[0], PinnedFile(DATA, git_blob=blob))
        )
        _use(monkeypatch, source)
        with pytest.raises(
            OfficialWeightsError, match=r"checksum mismatch for variable .*stored crc32c"
        ):
            glamor_zoo.create_model(TAG, pretrained=True)
    assert _leftovers(cache) == []


def test_a_server_dying_mid_file_leaves_nothing_and_the_next_load_succeeds(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with MirrorServer(_served()) as server:
        server.cut_after[f"{FOLDER}/{DATA}"] = 40_000
        _use(monkeypatch, tiny_source(server.url + FOLDER))
        with pytest.raises(OfficialWeightsError) as info:
            glamor_zoo.create_model(TAG, pretrained=True)
        assert f"{DATA}: the connection closed after 40,000 of 110,013 bytes" in str(info.value)
        assert "nothing was cached" in str(info.value)
        assert _leftovers(cache) == []
        server.cut_after.clear()
        _assert_parity(glamor_zoo.create_model(TAG, pretrained=True))


def test_offline_or_unreachable_with_nothing_cached_says_what_to_download_and_where(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from glamor_zoo.inference import ModelLoadError

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    _use(monkeypatch, GLAMOR_NET)
    with pytest.raises(OfficialWeightsError) as info:
        glamor_zoo.create_model(TAG, pretrained=True)
    text = str(info.value)
    for part in (
        str(cached_official_folder(GLAMOR_NET)),
        "HF_HUB_OFFLINE is set",
        "Model.index, Model.data-00000-of-00002, Model.data-00001-of-00002",
        "https://github.com/minhnhatvt/glamor-net/tree/c12e1b97aa7354df126795f19402303a00166ec3/weights/glamor-net",
        f"{TF_MIRROR_ENV}=DIR",
        "glamor-zoo convert-tf DIR/Model OUT",
        "'local-dir:OUT'",
    ):
        assert part in text, part
    with pytest.raises(ModelLoadError, match="HF_HUB_OFFLINE is set"):
        glamor_zoo.load_model(TAG)
    assert _leftovers(cache) == []
    # Online, but the server does not answer.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    _use(monkeypatch, tiny_source("http://127.0.0.1:9/glamor-net"))
    with pytest.raises(OfficialWeightsError, match=r"Model.index: download failed .*DIR/Model OUT"):
        glamor_zoo.create_model(TAG, pretrained=True)


def test_the_real_table_refuses_other_bytes_behind_the_mirror_variable(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user's one line, with the mirror variable pointing at files that are not the authors'."""
    real_names = {"Model.index": _bytes(INDEX), "Model.data-00000-of-00002": b"x"}
    with MirrorServer({f"/m/{k}": v for k, v in real_names.items()}) as server:
        monkeypatch.setenv(TF_MIRROR_ENV, server.url + "/m")
        with pytest.raises(OfficialWeightsError) as info:
            glamor_zoo.create_model(TAG, pretrained=True)
    text = str(info.value)
    assert text.startswith(f"{server.url}/m/Model.index: size 5,105 bytes (sha256 ")
    assert "the pinned size of Model.index (minhnhatvt/glamor-net at commit c12e1b97aa73)" in text
    assert (
        "5,408 bytes (sha256 650936d25a8928cc8af02d8e15250831a769f9cb7f49766628560158cd55b19d)"
        in text
    )
    assert _leftovers(cache) == []


def test_a_damaged_cache_is_reported(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _use(monkeypatch, tiny_source(FIXTURE.as_uri()))
    glamor_zoo.create_model(TAG, pretrained=True)
    weights = cached_official_folder(tiny_source("")) / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(
        OfficialWeightsError, match=r"model.safetensors: sha256 .*delete .* and load again"
    ):
        glamor_zoo.create_model(TAG, pretrained=True)


def test_a_killed_conversion_leaves_no_folder_and_its_leftovers_are_removed(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tiny_source(FIXTURE.as_uri())
    _use(monkeypatch, source)
    stale = cache / f".{source.cache_name}.abc123.tmp"
    (stale / "files").mkdir(parents=True)
    (stale / "files" / INDEX).write_bytes(b"half")
    glamor_zoo.create_model(TAG, pretrained=True)
    assert _leftovers(cache) == [source.cache_name]


def test_other_glamor_tags_stay_unpublished_and_the_table_marks_the_authors_weights() -> None:
    assert glamor_zoo.is_published(TAG) and glamor_zoo.is_published("glamor_original")
    for tag in ("glamor_original.caer_s", "glamor_resnet18.ncaer_s", "glamor_face_only.ncaer_s"):
        assert not glamor_zoo.is_published(tag), tag
        with pytest.raises(glamor_zoo.WeightsNotPublishedError):
            glamor_zoo.create_model(tag, pretrained=True)
    from glamor_zoo_cli.commands._table import model_table

    table = model_table(["glamor_original"])
    assert "† = the authors' checkpoint" in table and "| caer_s*, ncaer_s† |" in table


# --- two processes at once ----------------------------------------------------------------------

_CHILD = """
import dataclasses, json, logging, sys, time
from pathlib import Path
logging.basicConfig(level=logging.INFO, format="%(message)s")
import glamor_zoo, torch
from glamor_zoo.convert import official
from glamor_zoo.convert.download import PinnedFile
spec = json.loads(sys.argv[1])
spec["files"] = tuple(PinnedFile(**f) for f in spec["files"])
official.OFFICIAL_TAGS[spec["tag"]] = official.OfficialCheckpoint(**spec)
ready, everyone = Path(sys.argv[2]), Path(sys.argv[2]).parent
ready.touch()
while len(list(everyone.glob("ready-*"))) < 2:
    time.sleep(0.01)
model = glamor_zoo.create_model("glamor_original.ncaer_s", pretrained=True).eval()
torch.manual_seed(0)
with torch.no_grad():
    out = model(torch.rand(2, 3, 96, 96), torch.rand(2, 3, 112, 112))
print(json.dumps(out.tolist()))
"""


@pytest.mark.slow  # two fresh interpreters import torch (~10 s here); the lock's only proof
def test_two_processes_loading_at_once_convert_once_and_never_see_half_a_cache(
    cache: Path, tmp_path: Path
) -> None:
    """Two ``python -c "import glamor_zoo; glamor_zoo.create_model(...)"`` processes, started
    together, the files behind ``GLAMOR_ZOO_TF_MIRROR`` on a slow server."""
    with MirrorServer(_served(), delay_s=0.5) as server:
        source = tiny_source("http://127.0.0.1:9/not-used")
        spec = json.dumps(dataclasses.asdict(source))
        env = {
            **os.environ,
            "TORCH_HOME": str(tmp_path / "torch"),
            TF_MIRROR_ENV: server.url + FOLDER,
            "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        }
        env.pop("HF_HUB_OFFLINE", None)
        barrier = tmp_path / "barrier"
        barrier.mkdir()
        children = [
            subprocess.Popen(
                [sys.executable, "-c", _CHILD, spec, str(barrier / f"ready-{i}")],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(2)
        ]
        folder = cache / source.cache_name
        deadline = time.monotonic() + 120
        while any(c.poll() is None for c in children) and time.monotonic() < deadline:
            if folder.exists():  # whoever sees the folder sees all of it
                assert (folder / "config.json").is_file() and (
                    folder / "model.safetensors"
                ).is_file()
            time.sleep(0.005)
        results = [c.communicate(timeout=60) for c in children]
    for child, (_out, err) in zip(children, results, strict=True):
        assert child.returncode == 0, err
    logs = "".join(err for _, err in results)
    assert logs.count("verified, converted and cached") == 1, logs
    assert logs.count("waiting for another process converting into") == 1, logs
    assert sorted(server.requests) == sorted(f"{FOLDER}/{n}" for n in (INDEX, DATA))
    assert results[0][0] == results[1][0]
    assert _leftovers(cache) == [source.cache_name]


def test_maintainer_script_arguments() -> None:
    """tools/fetch_official_glamor.py needs a network to run; its arguments are checked here."""
    from tool_modules import tool_module

    script = tool_module("fetch_official_glamor")
    parser = script.build_parser()
    args = parser.parse_args(["--work", "w", "--mirror", "/m", "--mmod", "d.dat", "--skip-predict"])
    assert (args.work, args.mirror, args.mmod, args.skip_predict) == (
        Path("w"),
        "/m",
        Path("d.dat"),
        True,
    )
    assert args.cache is None
    with pytest.raises(SystemExit):
        parser.parse_args([])  # --work is required
