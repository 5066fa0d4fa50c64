"""The TF2 checkpoint reader and the official GLAMOR-Net → glamor_zoo conversion.

``tests/fixtures/tf_official_tiny`` was written by the authors' TF2 code (narrow encoders,
``model.save_weights``); ``io.npz`` holds what that code computed on 4 inputs.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import glamor_zoo
from glamor_zoo.convert import (
    ChecksumError,
    MissingShardError,
    NotGlamorCheckpointError,
    TensorBundle,
    TFCheckpointError,
    compare_with_reference,
    convert_checkpoint,
    convert_tf_checkpoint,
    infer_model_args,
    read_checkpoint,
    resolve_prefix,
    snappy,
    tf_name_to_zoo,
    tf_to_state_dict,
)
from glamor_zoo.convert.crc32c import _update, crc32c, mask, unmask
from glamor_zoo.convert.sstable import TABLE_MAGIC
from glamor_zoo.convert.tensor_bundle import _DTYPES, OBJECT_GRAPH_KEY
from glamor_zoo_cli import main as cli_main

FIXTURE = Path(__file__).parent / "fixtures" / "tf_official_tiny"
# `tf.train.list_variables` of the full-width official model (fixtures README: 2,158,602 weights)
FULL_VARIABLES = Path(__file__).parent / "fixtures" / "tf_official_full_variables.txt"
PREFIX = FIXTURE / "Model"
IO = FIXTURE / "io.npz"
SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
TOL = 1e-5


# ------------------------------------------------------------------ writing test checkpoints


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, value: int | bytes) -> bytes:
    if isinstance(value, bytes):
        return _varint(number << 3 | 2) + _varint(len(value)) + value
    return _varint(number << 3) + _varint(value)


def _snappy_literals(data: bytes) -> bytes:
    """A valid raw Snappy stream made of literals only (what a compressor may emit)."""
    out = bytearray(_varint(len(data)))
    for start in range(0, len(data), 1000):
        chunk = data[start : start + 1000]
        out += bytes([61 << 2]) + (len(chunk) - 1).to_bytes(2, "little") + chunk
    return bytes(out)


def _block(entries: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(_varint(0) + _varint(len(k)) + _varint(len(v)) + k + v for k, v in entries)
    return body + struct.pack("<II", 0, 1)  # one restart point at 0


def _write_table(
    path: Path, entries: list[tuple[bytes, bytes]], compress: bool, per_block: int
) -> None:
    out = bytearray()

    def put(contents: bytes) -> bytes:
        kind = 1 if compress else 0
        stored = _snappy_literals(contents) if compress else contents
        handle = _varint(len(out)) + _varint(len(stored))
        out.extend(stored + bytes([kind]) + struct.pack("<I", mask(crc32c(stored + bytes([kind])))))
        return handle

    index = []
    for start in range(0, len(entries), per_block):
        group = entries[start : start + per_block]
        index.append((group[-1][0], put(_block(group))))
    meta = put(_block([]))
    index_handle = put(_block(index))
    footer = (meta + index_handle).ljust(40, b"\0") + struct.pack("<Q", TABLE_MAGIC)
    path.write_bytes(bytes(out) + footer)


def _entry_proto(
    dtype: str, shape: tuple[int, ...], shard: int, offset: int, size: int, crc: int
) -> bytes:
    code = {v: k for k, v in _DTYPES.items()}[dtype]
    shape_proto = b"".join(_field(2, _field(1, d)) for d in shape)
    return (
        _field(1, code)
        + _field(2, shape_proto)
        + (_field(3, shard) if shard else b"")
        + _field(4, offset)
        + _field(5, size)
        + _varint(6 << 3 | 5)
        + struct.pack("<I", mask(crc))
    )


def write_checkpoint(
    out_prefix: Path,
    tensors: dict[str, tuple[str, tuple[int, ...], bytes, int]],
    num_shards: int = 1,
    compress: bool = False,
    per_block: int = 1000,
    big_endian: bool = False,
) -> Path:
    """Write a tensor bundle: name → (dtype, shape, stored bytes, crc32c), round-robin over shards."""
    shards = [bytearray() for _ in range(num_shards)]
    records = []
    for i, (name, (dtype, shape, data, crc)) in enumerate(tensors.items()):
        shard = i % num_shards
        offset = len(shards[shard])
        shards[shard] += data
        records.append((name.encode(), _entry_proto(dtype, shape, shard, offset, len(data), crc)))
    header = _field(1, num_shards) + _field(2, int(big_endian)) + _field(3, _field(1, 1))
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    for shard, data in enumerate(shards):
        name = f"{out_prefix.name}.data-{shard:05d}-of-{num_shards:05d}"
        out_prefix.with_name(name).write_bytes(data)
    index = out_prefix.with_name(out_prefix.name + ".index")
    _write_table(index, [(b"", header), *sorted(records)], compress, per_block)
    return out_prefix


def rewrite_checkpoint(
    out_prefix: Path, rename: dict[str, str] | None = None, **options: Any
) -> Path:
    """Copy the fixture as another checkpoint: more shards, Snappy blocks, renamed variables."""
    bundle = TensorBundle(PREFIX)
    tensors = {
        (rename or {}).get(name, name): (
            entry.dtype,
            entry.shape,
            bundle.read_bytes(name),
            entry.crc32c,
        )
        for name, entry in bundle.entries.items()
    }
    return write_checkpoint(out_prefix, tensors, **options)


def copy_fixture(tmp_path: Path) -> Path:
    dest = tmp_path / "ckpt"
    shutil.copytree(FIXTURE, dest)
    for path in dest.iterdir():
        path.chmod(0o644)
    return dest / "Model"


def reference() -> dict[str, np.ndarray]:
    with np.load(IO) as ref:
        return {k: ref[k] for k in ref.files}


def assert_parity(model: torch.nn.Module) -> None:
    """softmax(logits) and both encoder maps equal the official code's, within 1e-5."""
    ref = reference()

    def nchw(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(x.astype(np.float32) / 255).permute(0, 3, 1, 2)

    model.eval()
    with torch.no_grad():
        features = model.forward_features(
            nchw(ref["face_nhwc_uint8"]), nchw(ref["context_nhwc_uint8"])
        )
        scores = torch.softmax(model.forward_head(features), dim=1).numpy()
    np.testing.assert_allclose(scores, ref["scores"], rtol=0, atol=TOL)
    face_map = ref["face_map_nhwc"].transpose(0, 3, 1, 2)
    context_map = ref["context_map_nhwc"].transpose(0, 3, 1, 2)
    np.testing.assert_allclose(features.face_map.numpy(), face_map, rtol=0, atol=TOL)
    np.testing.assert_allclose(features.context_map.numpy(), context_map, rtol=0, atol=TOL)


# ------------------------------------------------------------------ low-level formats


def test_crc32c_known_values_and_masking() -> None:
    assert crc32c(b"123456789") == 0xE3069283  # RFC 3720 check value
    assert crc32c(b"") == 0
    assert crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720 B.4: 32 bytes of zeros
    for value in (0, 1, 0xE3069283, 0xFFFFFFFF):
        assert unmask(mask(value)) == value
    assert mask(0) != 0


@pytest.mark.parametrize("size", [1, 5, 4096, 16384, 65537, 200_003, 1_000_003])
def test_crc32c_vectorised_matches_bytewise_and_extends(size: int) -> None:
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    assert crc32c(data) == _update(0xFFFFFFFF, data) ^ 0xFFFFFFFF
    head, tail = data[: size // 3], data[size // 3 :]
    assert crc32c(tail, crc32c(head)) == crc32c(data)


def test_snappy_literals_and_overlapping_copies() -> None:
    # "abcd" literal, then a 1-byte-offset copy of 8 bytes from 4 back (overlaps itself),
    # then a 2-byte-offset copy of 3 bytes from 12 back.
    stream = (
        _varint(15)
        + bytes([3 << 2])
        + b"abcd"
        + bytes([((8 - 4) << 2) | 1, 4])
        + bytes([(2 << 2) | 2])
        + (12).to_bytes(2, "little")
    )
    assert snappy.decompress(stream) == b"abcdabcdabcdabc"
    assert snappy.decompress(_snappy_literals(b"x" * 2500)) == b"x" * 2500
    with pytest.raises(snappy.SnappyError, match="offset"):
        snappy.decompress(_varint(4) + bytes([1, 9]))
    with pytest.raises(snappy.SnappyError, match="header says"):
        snappy.decompress(_varint(9) + bytes([3 << 2]) + b"abcd")


# ------------------------------------------------------------------ reading checkpoints


def test_read_fixture_lists_every_variable_with_checksums() -> None:
    bundle = TensorBundle(PREFIX)
    assert bundle.num_shards == 1
    shapes = bundle.variables()
    assert len(shapes) == 81  # 80 weights + the object graph
    assert shapes["FaceEncodingNet/blocks/0/conv/kernel" + SUFFIX] == (3, 3, 3, 4)
    assert shapes["final_classify/kernel" + SUFFIX] == (128, 7)
    arrays = read_checkpoint(PREFIX)
    assert OBJECT_GRAPH_KEY not in arrays and len(arrays) == 80
    assert all(a.dtype == np.float32 for a in arrays.values())
    graph = read_checkpoint(PREFIX, names=[OBJECT_GRAPH_KEY], include_object_graph=True)[
        OBJECT_GRAPH_KEY
    ]
    assert graph.shape == () and isinstance(graph.item(), bytes) and len(graph.item()) > 1000


def test_prefix_spellings(tmp_path: Path) -> None:
    for spelling in (PREFIX, f"{PREFIX}.index", f"{PREFIX}.data-00000-of-00001", FIXTURE):
        assert resolve_prefix(spelling) == PREFIX
    with pytest.raises(FileNotFoundError, match=r"Model\.index does not exist"):
        resolve_prefix(tmp_path / "Model")


def test_two_shards_snappy_blocks_and_many_data_blocks_read_identically(tmp_path: Path) -> None:
    prefix = rewrite_checkpoint(tmp_path / "Model", num_shards=2, compress=True, per_block=7)
    bundle = TensorBundle(prefix)
    assert bundle.num_shards == 2
    assert {e.shard_id for e in bundle.entries.values()} == {0, 1}
    original = read_checkpoint(PREFIX, include_object_graph=True)
    rewritten = read_checkpoint(prefix, include_object_graph=True)
    assert list(rewritten) == list(original)
    for name, array in original.items():
        assert np.array_equal(rewritten[name], array), name
    assert_parity(convert_checkpoint(prefix))


def test_full_width_official_layout_in_two_shards_converts_to_the_paper_model(
    tmp_path: Path,
) -> None:
    """The released checkpoint's names and shapes, 2 shards like the real one, random values."""
    rng = np.random.default_rng(0)
    tensors = {}
    for line in FULL_VARIABLES.read_text().splitlines():
        name, shape_text = line.split(" ", 1)
        shape = tuple(json.loads(shape_text))
        data = rng.standard_normal(shape, dtype=np.float32)
        if "moving_variance" in name:
            data = np.abs(data) + 0.5
        tensors[name] = ("float32", shape, data.tobytes(), crc32c(data.tobytes()))
    prefix = write_checkpoint(tmp_path / "glamor-net" / "Model", tensors, num_shards=2)
    model = convert_checkpoint(prefix)
    assert model.model_args["encoder_widths"] == (32, 64, 128, 256, 256)
    trainable = sum(p.numel() for p in model.parameters())
    assert trainable == 2_158_602  # the official model's count
    kernel = np.frombuffer(tensors["final_fc1/kernel" + SUFFIX][2], np.float32).reshape(512, 128)
    assert torch.equal(model.head.fc1.weight, torch.from_numpy(kernel.T.copy()))
    conv = tensors["ContextEncodingNet/blocks/3/conv/kernel" + SUFFIX]
    conv_kernel = np.frombuffer(conv[2], np.float32).reshape(conv[1])
    assert torch.equal(
        model.context_encoder.blocks[3].conv.weight,
        torch.from_numpy(conv_kernel.transpose(3, 2, 0, 1).copy()),
    )
    with torch.no_grad():
        assert torch.isfinite(model(torch.rand(2, 3, 96, 96), torch.rand(2, 3, 112, 112))).all()


@pytest.mark.parametrize("big_endian", [False, True])
def test_other_dtypes_and_byte_orders(tmp_path: Path, big_endian: bool) -> None:
    order = ">" if big_endian else "<"
    values = {
        "f64": np.array([1.5, -2.25], dtype=f"{order}f8"),
        "i64": np.array([[3, -4, 2**40]], dtype=f"{order}i8"),
        "u8": np.arange(6, dtype=np.uint8).reshape(2, 3),
        "flag": np.array([True, False]),
        "half": np.array([0.5, 65504.0], dtype=f"{order}f2"),
    }
    tensors = {
        name: (np.dtype(a.dtype).name, a.shape, a.tobytes(), crc32c(a.tobytes()))
        for name, a in values.items()
    }
    bf16 = np.array([1.0, -3.5, 2.0**100], dtype=np.float32)  # exactly representable in bfloat16
    raw = (bf16.view(np.uint32) >> 16).astype(f"{order}u2").tobytes()
    tensors["bf16"] = ("bfloat16", (3,), raw, crc32c(raw))
    prefix = write_checkpoint(tmp_path / "Model", tensors, big_endian=big_endian)
    arrays = read_checkpoint(prefix)
    for name, expected in values.items():
        assert arrays[name].dtype == expected.dtype.newbyteorder("=")
        assert np.array_equal(arrays[name], expected), name
    assert arrays["bf16"].dtype == np.float32 and np.array_equal(arrays["bf16"], bf16)


# ------------------------------------------------------------------ mapping and parity


def test_name_mapping_and_layouts() -> None:
    assert (
        tf_name_to_zoo("ContextEncodingNet/blocks/4/bn/moving_variance" + SUFFIX)
        == "context_encoder.blocks.4.bn.running_var"
    )
    assert tf_name_to_zoo("attention_fc1_bn/gamma" + SUFFIX) == "attention.bn.weight"
    assert tf_name_to_zoo("context_weight2/bias" + SUFFIX) == "fusion.context_score.fc2.bias"
    assert tf_name_to_zoo("final_classify/kernel" + SUFFIX) == "head.fc.weight"
    assert tf_name_to_zoo("dense/kernel" + SUFFIX) is None
    conv = np.arange(3 * 3 * 2 * 5, dtype=np.float32).reshape(3, 3, 2, 5)
    dense = np.arange(6, dtype=np.float32).reshape(2, 3)
    state = tf_to_state_dict(
        {
            "FaceEncodingNet/blocks/0/conv/kernel" + SUFFIX: conv,
            "FaceEncodingNet/blocks/0/bn/moving_mean" + SUFFIX: np.zeros(5, np.float32),
            "final_fc1/kernel" + SUFFIX: dense,
            "optimizer/iter" + SUFFIX: np.array(3),
            "final_fc1/kernel/.OPTIMIZER_SLOT/optimizer/momentum" + SUFFIX: dense,
        }
    )
    assert state["face_encoder.blocks.0.conv.weight"][4, 1, 2, 0] == conv[2, 0, 1, 4]
    assert torch.equal(state["head.fc1.weight"], torch.from_numpy(dense.T))
    assert state["face_encoder.blocks.0.bn.num_batches_tracked"] == 0
    assert len(state) == 4  # optimizer entries dropped


def test_fixture_converts_with_inferred_widths_and_matches_official_outputs() -> None:
    arrays = read_checkpoint(PREFIX)
    args = infer_model_args(tf_to_state_dict(arrays))
    assert args["encoder_widths"] == (4, 8, 8, 16, 16)
    assert args["num_classes"] == 7 and args["in_chans"] == 3 and args["hidden_dim"] == 128
    model = convert_checkpoint(PREFIX)
    assert not model.training
    assert sum(p.numel() for p in model.parameters()) == sum(a.size for a in arrays.values()) - sum(
        a.size for n, a in arrays.items() if "moving_" in n
    )
    assert_parity(model)
    diffs = compare_with_reference(model, IO)
    assert set(diffs) == {"scores", "face_map", "context_map"}
    assert max(diffs.values()) < TOL


def test_cli_writes_a_folder_that_glamor_zoo_and_timm_load_with_parity(tmp_path: Path) -> None:
    import timm

    out = tmp_path / "glamor_original.ncaer_s"
    rc = cli_main(
        [
            "convert-tf",
            str(PREFIX),
            str(out),
            "--reference",
            str(IO),
            "--hub-id",
            "glamor-zoo/glamor_original.ncaer_s",
        ]
    )
    assert rc == 0
    written = {"model.safetensors", "config.json", "README.md"}
    assert {p.name for p in out.iterdir()} == {*written, ".glamor-zoo-manifest.json"}
    assert json.loads((out / ".glamor-zoo-manifest.json").read_text())["files"] == sorted(written)
    config = json.loads((out / "config.json").read_text())
    assert config["architecture"] == "glamor_original"
    assert config["label_names"] == list(glamor_zoo.PAPER_LABELS)
    assert config["model_args"]["encoder_widths"] == [4, 8, 8, 16, 16]
    conversion = config["conversion"]
    assert conversion["checkpoint"] == "Model" and conversion["num_variables"] == 80
    index_sha = conversion["files"]["Model.index"]["sha256"]
    assert len(index_sha) == 64 and "Model.data-00000-of-00001" in conversion["files"]
    assert max(conversion["reference_check"]["max_abs_diff"].values()) < TOL
    assert (
        config["command"].startswith("glamor-zoo convert-tf ")
        and "--reference" in config["command"]
    )
    description = config["pretrained_cfg"]["description"]
    assert index_sha in description and "match the original TensorFlow code" in description
    assert "(scores, face_map, context_map)" in description
    card = (out / "README.md").read_text()
    assert card.startswith("---\n") and "library_name: glamor-zoo" in card
    assert 'create_model("hf-hub:glamor-zoo/glamor_original.ncaer_s")' in card
    assert index_sha in card and config["command"] in card and "import glamor_zoo" in card
    assert_parity(glamor_zoo.create_model(f"local-dir:{out}"))
    assert glamor_zoo.convert_tf_checkpoint is convert_tf_checkpoint
    model = timm.create_model(f"local-dir:{out}", pretrained=True)
    assert model.pretrained_cfg["label_names"] == list(glamor_zoo.PAPER_LABELS)
    assert_parity(model)


def test_published_folder_loads_by_pretrained_tag_and_hub_id_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What users get once a maintainer uploads the folder to glamor-zoo/glamor_original.ncaer_s."""
    from huggingface_hub import constants

    out = convert_tf_checkpoint(PREFIX, tmp_path / "out")
    repo = tmp_path / "cache" / "models--glamor-zoo--glamor_original.ncaer_s"
    commit = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(out, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    cache = tmp_path / "cache"
    by_tag = glamor_zoo.create_model(
        "glamor_original.ncaer_s",
        pretrained=True,
        encoder_widths=(4, 8, 8, 16, 16),
        cache_dir=cache,
    )
    assert by_tag.pretrained_cfg["hf_hub_id"] == "glamor-zoo/glamor_original.ncaer_s"
    assert_parity(by_tag)
    assert_parity(
        glamor_zoo.create_model("hf-hub:glamor-zoo/glamor_original.ncaer_s", cache_dir=cache)
    )


def test_custom_label_names_and_a_wrong_count(tmp_path: Path) -> None:
    names = ["a", "b", "c", "d", "e", "f", "g"]
    out = convert_tf_checkpoint(PREFIX, tmp_path / "out", label_names=names)
    assert json.loads((out / "config.json").read_text())["label_names"] == names
    card = (out / "README.md").read_text()
    assert "hf-hub:glamor-zoo/glamor_original.ncaer_s" in card and "match the original" not in card
    with pytest.raises(ValueError, match="3 label names given for a checkpoint with 7 classes"):
        convert_tf_checkpoint(PREFIX, tmp_path / "bad", label_names=["a", "b", "c"])
    assert not (tmp_path / "bad").exists()


def test_reference_mismatch_fails_the_conversion(tmp_path: Path) -> None:
    ref = reference()
    ref["scores"] = ref["scores"] + 1e-3
    np.savez(tmp_path / "io.npz", **ref)
    with pytest.raises(ValueError, match=r"differs from .*io\.npz by 0\.001 in scores"):
        convert_tf_checkpoint(PREFIX, tmp_path / "out", reference=tmp_path / "io.npz")
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ clear errors


def test_not_a_glamor_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = TensorBundle(PREFIX)
    foreign = {name: name.replace("final_classify", "dense_7") for name in bundle}
    prefix = rewrite_checkpoint(tmp_path / "Model", rename=foreign)
    with pytest.raises(
        NotGlamorCheckpointError, match=r"Model\.index is not a GLAMOR-Net checkpoint"
    ) as info:
        convert_checkpoint(prefix)
    assert info.value.variable.startswith("dense_7/")
    assert "dense_7/bias" in str(info.value)

    all_foreign = {name: f"resnet/{name}" for name in bundle}
    prefix = rewrite_checkpoint(tmp_path / "other" / "Model", rename=all_foreign)
    assert cli_main(["convert-tf", str(prefix), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "not a GLAMOR-Net checkpoint" in err and "Model.index" in err and "resnet/" in err

    with pytest.raises(
        NotGlamorCheckpointError,
        match=r"does not fit .glamor_face_only.: .glamor_face_only. has no place for ContextEncodingNet/",
    ):
        convert_checkpoint(PREFIX, model_name="glamor_face_only")


def test_not_a_checkpoint_at_all(tmp_path: Path) -> None:
    (tmp_path / "Model.index").write_bytes(os.urandom(300))
    with pytest.raises(TFCheckpointError, match=r"Model\.index: no table magic number") as info:
        TensorBundle(tmp_path / "Model")
    assert info.value.path == tmp_path / "Model.index"


def test_missing_shard_names_the_file_and_a_variable(tmp_path: Path) -> None:
    prefix = rewrite_checkpoint(tmp_path / "Model", num_shards=2)
    prefix.with_name("Model.data-00001-of-00002").unlink()
    with pytest.raises(
        MissingShardError, match=r"data shard .*Model\.data-00001-of-00002 is missing"
    ) as info:
        convert_checkpoint(prefix)
    assert info.value.variable in TensorBundle(PREFIX).entries
    assert info.value.variable in str(info.value)


def test_truncated_files(tmp_path: Path) -> None:
    prefix = copy_fixture(tmp_path)
    data = prefix.with_name("Model.data-00000-of-00001")
    data.write_bytes(data.read_bytes()[:50_000])
    with pytest.raises(
        TFCheckpointError, match=r"Model\.data-00000-of-00001 is truncated: variable '"
    ) as info:
        read_checkpoint(prefix)
    assert info.value.path == data and info.value.variable in str(info.value)

    index = prefix.with_name("Model.index")
    index.write_bytes(index.read_bytes()[:-100])
    with pytest.raises(TFCheckpointError, match=r"Model\.index: .*truncated"):
        TensorBundle(prefix)


def test_checksum_mismatch_in_data_and_index(tmp_path: Path) -> None:
    prefix = copy_fixture(tmp_path)
    entry = TensorBundle(prefix).entries["final_fc1/kernel" + SUFFIX]
    data = prefix.with_name("Model.data-00000-of-00001")
    raw = bytearray(data.read_bytes())
    raw[entry.offset + 17] ^= 0x40
    data.write_bytes(bytes(raw))
    with pytest.raises(
        ChecksumError,
        match=r"Model\.data-00000-of-00001: checksum mismatch for variable 'final_fc1/kernel",
    ) as info:
        convert_checkpoint(prefix)
    assert info.value.variable == entry.name
    assert read_checkpoint(prefix, verify=False)[entry.name].shape == (32, 128)

    index = prefix.with_name("Model.index")
    raw = bytearray(index.read_bytes())
    raw[200] ^= 0x01
    index.write_bytes(bytes(raw))
    with pytest.raises(
        TFCheckpointError, match=r"Model\.index: checksum mismatch in the data block"
    ):
        TensorBundle(prefix)
