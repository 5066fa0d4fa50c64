"""The official GLAMOR-Net (the authors' TensorFlow 2 ``model.py``), for side-by-side timing.

Runs in a *separate* environment with TensorFlow (it imports nothing from glamor_zoo and no
torch), driven by ``bench_vs_tf.py``::

    python -m venv ~/tfvenv && ~/tfvenv/bin/pip install tensorflow-cpu numpy
    ~/tfvenv/bin/python tools/tf_official.py --verify ../shared/fixtures/tf_official_tiny

The model is written from ARCHITECTURE.md with the official object layout (attribute names are
the checkpoint's variable paths: ``FaceEncodingNet/blocks/0/conv/kernel``, ``attention_fc1``…)
and the official computation, including the literal concatenation ``[v_f ; v_ij]`` tiled over
every context cell (the zoo computes the face half once per sample instead). ``--verify`` loads
the checkpoint the official code wrote (``../shared/fixtures/tf_official_tiny``) and checks that
this port reproduces the official outputs recorded with it (``io.npz``), so the timed model is
the official computation, not an approximation of it.

``--serve`` is the timing worker: it builds the full-width model (random weights: speed does not
depend on them), then answers one JSON line per request read from stdin
(``{"batch": 64, "seconds": 2.0}`` → ``{"images_per_s": …}``), so the driver can interleave
TensorFlow rounds with PyTorch rounds in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf

FULL_FILTERS = (32, 64, 128, 256, 256)
FACE_SHAPE = (96, 96, 3)
CONTEXT_SHAPE = (112, 112, 3)


class EncodingBlock(tf.keras.layers.Layer):
    """Conv3×3 (same, bias) → BatchNorm (eps 1e-3, momentum 0.99) → ReLU → MaxPool 2×2."""

    def __init__(self, filters: int, pool: bool) -> None:
        super().__init__()
        self.conv = tf.keras.layers.Conv2D(filters, 3, padding="same")
        self.bn = tf.keras.layers.BatchNormalization(epsilon=1e-3, momentum=0.99)
        self.pool = tf.keras.layers.MaxPool2D(2) if pool else None

    def call(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        x = tf.nn.relu(self.bn(self.conv(x), training=training))
        return self.pool(x) if self.pool is not None else x


class EncodingNet(tf.keras.layers.Layer):
    """Five encoding blocks, no pooling after the last."""

    def __init__(self, filters: tuple[int, ...]) -> None:
        super().__init__()
        self.blocks = [EncodingBlock(f, pool=i < len(filters) - 1) for i, f in enumerate(filters)]

    def call(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        for block in self.blocks:
            x = block(x, training=training)
        return x


class GLAMORNet(tf.keras.Model):
    """The official model: encoders, global-local attention, adaptive fusion, classifier."""

    def __init__(self, filters: tuple[int, ...] = FULL_FILTERS, num_classes: int = 7) -> None:
        super().__init__()
        self.FaceEncodingNet = EncodingNet(filters)
        self.ContextEncodingNet = EncodingNet(filters)
        dense = tf.keras.layers.Dense
        self.attention_fc1 = dense(128, activation="relu")
        self.attention_fc1_bn = tf.keras.layers.BatchNormalization(epsilon=1e-3, momentum=0.99)
        self.attention_fc2 = dense(1)
        self.face_weight1 = dense(128, activation="relu")
        self.face_weight2 = dense(1)
        self.context_weight1 = dense(128, activation="relu")
        self.context_weight2 = dense(1)
        self.final_fc1 = dense(128, activation="relu")
        self.dropout = tf.keras.layers.Dropout(0.5)
        self.final_classify = dense(num_classes)

    def call(self, inputs: tuple[tf.Tensor, tf.Tensor], training: bool = False) -> tf.Tensor:
        face, context = inputs
        face_map = self.FaceEncodingNet(face, training=training)
        context_map = self.ContextEncodingNet(context, training=training)
        face_vector = tf.reduce_mean(face_map, axis=[1, 2])  # (B, C)
        shape = tf.shape(context_map)
        cells = tf.reshape(context_map, [shape[0], shape[1] * shape[2], context_map.shape[-1]])
        tiled_face = tf.tile(face_vector[:, None, :], [1, shape[1] * shape[2], 1])
        concat = tf.concat([tiled_face, cells], axis=-1)  # face first, as the official code
        hidden = self.attention_fc1_bn(self.attention_fc1(concat), training=training)
        scores = self.attention_fc2(tf.nn.relu(hidden))  # (B, HW, 1)
        weights = tf.nn.softmax(scores, axis=1)
        context_vector = tf.reduce_sum(cells * weights, axis=1)
        face_score = self.face_weight2(self.face_weight1(face_vector))
        context_score = self.context_weight2(self.context_weight1(context_vector))
        fusion = tf.nn.softmax(tf.concat([face_score, context_score], axis=-1), axis=-1)
        fused = tf.concat([face_vector * fusion[:, 0:1], context_vector * fusion[:, 1:2]], axis=-1)
        hidden = self.dropout(self.final_fc1(fused), training=training)
        return tf.nn.softmax(self.final_classify(hidden))

    def encoder_maps(self, face: tf.Tensor, context: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """The two encoders' outputs (NHWC), for verification."""
        return self.FaceEncodingNet(face), self.ContextEncodingNet(context)


def build(filters: tuple[int, ...] = FULL_FILTERS) -> GLAMORNet:
    """The model with its variables created (one call on zeros)."""
    model = GLAMORNet(filters)
    model((tf.zeros((1, *FACE_SHAPE)), tf.zeros((1, *CONTEXT_SHAPE))))
    return model


def load_official_checkpoint(model: GLAMORNet, prefix: str) -> int:
    """Assign every variable from an official ``save_weights`` checkpoint; returns the count.

    Variables are matched by their object path (``FaceEncodingNet/blocks/0/conv/kernel``), which
    is how TensorFlow's object-based checkpoints name them.
    """
    reader = tf.train.load_checkpoint(prefix)
    stored = {
        name.removesuffix("/.ATTRIBUTES/VARIABLE_VALUE"): shape
        for name, shape in reader.get_variable_to_shape_map().items()
        if name.endswith("/.ATTRIBUTES/VARIABLE_VALUE")
    }
    assigned = 0
    for path, variable in _variable_paths(model).items():
        if path not in stored:
            raise KeyError(f"{prefix}: no variable {path} (has {sorted(stored)[:5]}…)")
        variable.assign(reader.get_tensor(path + "/.ATTRIBUTES/VARIABLE_VALUE"))
        assigned += 1
    return assigned


def _variable_paths(model: GLAMORNet) -> dict[str, tf.Variable]:
    paths: dict[str, tf.Variable] = {}
    for encoder_name in ("FaceEncodingNet", "ContextEncodingNet"):
        for i, block in enumerate(getattr(model, encoder_name).blocks):
            for layer_name in ("conv", "bn"):
                _add(paths, f"{encoder_name}/blocks/{i}/{layer_name}", getattr(block, layer_name))
    for layer_name in (
        "attention_fc1",
        "attention_fc1_bn",
        "attention_fc2",
        "face_weight1",
        "face_weight2",
        "context_weight1",
        "context_weight2",
        "final_fc1",
        "final_classify",
    ):
        _add(paths, layer_name, getattr(model, layer_name))
    return paths


def _add(paths: dict[str, tf.Variable], prefix: str, layer: tf.keras.layers.Layer) -> None:
    for name in ("kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance"):
        variable = getattr(layer, name, None)
        if variable is not None:
            paths[f"{prefix}/{name}"] = variable


def verify(fixture: Path) -> dict[str, float]:
    """Max |difference| between this port and the official outputs stored in ``io.npz``."""
    io = np.load(fixture / "io.npz")
    shapes = tf.train.load_checkpoint(str(fixture / "Model")).get_variable_to_shape_map()
    widths = tuple(
        shapes[f"FaceEncodingNet/blocks/{i}/conv/bias/.ATTRIBUTES/VARIABLE_VALUE"][0]
        for i in range(len(FULL_FILTERS))
    )
    model = build(widths)
    count = load_official_checkpoint(model, str(fixture / "Model"))
    face = io["face_nhwc_uint8"].astype(np.float32) / 255
    context = io["context_nhwc_uint8"].astype(np.float32) / 255
    scores = model((face, context), training=False).numpy()
    face_map, context_map = (m.numpy() for m in model.encoder_maps(face, context))
    return {
        "variables": count,
        "filters": list(widths),
        "scores": float(np.abs(scores - io["scores"]).max()),
        "face_map": float(np.abs(face_map - io["face_map_nhwc"]).max()),
        "context_map": float(np.abs(context_map - io["context_map_nhwc"]).max()),
    }


def serve(threads: int, xla: bool) -> None:
    """Timing worker: one JSON request per stdin line, one JSON answer per stdout line."""
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    # inter-op parallelism stays TensorFlow's default (one per core): it runs the two
    # encoders concurrently, measured 15-20 % faster than 1 on 2 cores.
    model = build()
    predict = tf.function(lambda f, c: model((f, c), training=False), jit_compile=xla)
    rng = np.random.default_rng(0)
    inputs: dict[int, tuple[tf.Tensor, tf.Tensor]] = {}
    print(json.dumps({"ready": True, "tensorflow": tf.__version__, "xla": xla}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        batch, seconds = int(request["batch"]), float(request["seconds"])
        if batch not in inputs:
            inputs[batch] = (
                tf.constant(rng.random((batch, *FACE_SHAPE), dtype=np.float32)),
                tf.constant(rng.random((batch, *CONTEXT_SHAPE), dtype=np.float32)),
            )
            predict(*inputs[batch]).numpy()  # trace once per batch size
        runs, start = 0, time.perf_counter()
        while True:
            predict(*inputs[batch]).numpy()
            runs += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        print(json.dumps({"images_per_s": batch * runs / elapsed}), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verify", type=Path, help="official checkpoint folder with io.npz")
    parser.add_argument("--serve", action="store_true", help="timing worker (JSON lines)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--xla", action="store_true", help="tf.function(jit_compile=True)")
    args = parser.parse_args(argv)
    if args.verify:
        print(json.dumps(verify(args.verify)), flush=True)
    if args.serve:
        serve(args.threads, args.xla)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
