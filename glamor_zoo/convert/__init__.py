"""Convert weights from other frameworks into glamor_zoo model folders.

Today: the official GLAMOR-Net TensorFlow 2 checkpoint, read without TensorFlow.

- :func:`read_checkpoint` / :class:`TensorBundle`: a TF2 checkpoint → numpy arrays
  (checksums verified; any number of data shards).
- :func:`tf_to_state_dict` + :func:`infer_model_args`: GLAMOR-Net's TF variables → a
  glamor_zoo state dict and the model arguments that fit it.
- :func:`convert_checkpoint`: both steps → a loaded glamor_zoo model (eval mode).
- :func:`convert_tf_checkpoint`: the whole job → ``model.safetensors`` + ``config.json`` +
  ``README.md``, optionally checked against the official code's outputs
  (:func:`compare_with_reference`). The ``glamor-zoo convert-tf`` command calls it.
"""

from __future__ import annotations

from glamor_zoo.convert.glamor_tf import (
    NotGlamorCheckpointError,
    compare_with_reference,
    convert_checkpoint,
    convert_tf_checkpoint,
    infer_model_args,
    tf_name_to_zoo,
    tf_to_state_dict,
)
from glamor_zoo.convert.tensor_bundle import (
    BundleEntry,
    ChecksumError,
    MissingShardError,
    TensorBundle,
    TFCheckpointError,
    read_checkpoint,
    resolve_prefix,
)

__all__ = [
    "BundleEntry",
    "ChecksumError",
    "MissingShardError",
    "NotGlamorCheckpointError",
    "TFCheckpointError",
    "TensorBundle",
    "compare_with_reference",
    "convert_checkpoint",
    "convert_tf_checkpoint",
    "infer_model_args",
    "read_checkpoint",
    "resolve_prefix",
    "tf_name_to_zoo",
    "tf_to_state_dict",
]
