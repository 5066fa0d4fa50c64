"""``face_ensemble``: trained face models side by side, one linear classifier holding their
weighted classifiers (``combine_face_models``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

import glamor_zoo
from glamor_zoo.models.face_resnet import FaceResNet
from glamor_zoo.serialization import save_pretrained
from glamor_zoo.spec import get_model_spec

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))  # release tooling
from face_ensemble import average_model_weights, combine_face_models

# Small members keep the test fast; the measured ensemble uses tools/face_ensemble.py's
# FACE_ENSEMBLE_MEMBERS (widths up to 256 and 192).
FINE = {"stem_stride": 1, "channels": (8, 8, 16, 16)}
COARSE = {"stem_stride": 2, "channels": (8, 8, 16, 24)}


def _member(args: dict, seed: int, architecture: str = "face_resnet18", **kwargs) -> FaceResNet:
    torch.manual_seed(seed)
    model = glamor_zoo.create_model(architecture, **args, **kwargs)
    with torch.no_grad():  # away from the initial state (zero last-BN gammas, zero biases)
        for parameter in model.parameters():
            parameter.normal_(0, 0.1)
        for name, buffer in model.named_buffers():
            if "running_var" in name:
                buffer.uniform_(0.5, 2.0)
            elif "running_mean" in name:
                buffer.normal_(0, 0.1)
    return model.eval()


def test_the_ensemble_gives_the_weighted_mean_of_the_members_logits() -> None:
    fine, coarse = _member(FINE, 0), _member(COARSE, 1)
    ensemble = combine_face_models([fine, coarse], weights=[0.7, 0.3]).eval()
    x = torch.rand(5, 1, 48, 48)
    with torch.no_grad():
        expected = 0.7 * fine(x) + 0.3 * coarse(x)
        features = ensemble.forward_features(x)
        torch.testing.assert_close(ensemble(x), expected, rtol=1e-5, atol=1e-5)
    # the finest member's 6×6 map; the pooled vector is both members' vectors, one after the other
    assert features.face_map.shape == (5, 16 + 24, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(
            features.face,
            torch.cat(
                [fine.forward_features(x).mean((2, 3)), coarse.forward_features(x).mean((2, 3))], 1
            ),
        )
    assert ensemble.model_args["encoder_args"]["members"] == [
        {"layers": (2, 2, 2, 2), "stem_stride": 1, "widths": (8, 8, 16, 16)},
        {"layers": (2, 2, 2, 2), "stem_stride": 2, "widths": (8, 8, 16, 24)},
    ]
    assert ensemble.pretrained_cfg["first_conv"] == (
        "face_encoder.members.0.model.conv1.0",
        "face_encoder.members.1.model.conv1.0",
    )
    assert get_model_spec(ensemble) == get_model_spec(fine)


def test_a_face_resnet26_member_keeps_its_depth() -> None:
    deep, shallow = _member(FINE, 2, "face_resnet26"), _member(COARSE, 1)
    assert len(deep.layer1) == 3 and len(shallow.layer1) == 2
    ensemble = combine_face_models([deep, shallow]).eval()
    assert [len(m.model.layer4) for m in ensemble.face_encoder.members] == [3, 2]
    x = torch.rand(3, 1, 48, 48)
    with torch.no_grad():
        torch.testing.assert_close(
            ensemble(x), 0.5 * deep(x) + 0.5 * shallow(x), rtol=1e-5, atol=1e-5
        )


def test_the_ensemble_saves_and_loads_as_any_zoo_model(tmp_path: Path) -> None:
    ensemble = combine_face_models([_member(FINE, 0), _member(COARSE, 1)])
    save_pretrained(ensemble, tmp_path / "ensemble")
    loaded = glamor_zoo.create_model(f"local-dir:{tmp_path / 'ensemble'}", pretrained=True).eval()
    x = torch.rand(3, 1, 48, 48)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), ensemble.eval()(x))


def test_the_ensemble_handles_faces_of_other_sizes() -> None:
    """96-px faces (a GLAMOR face branch): 12×12 and 6×6 maps, repeated onto 12×12."""
    ensemble = combine_face_models([_member(FINE, 0), _member(COARSE, 1)]).eval()
    with torch.no_grad():
        assert ensemble.forward_features(torch.rand(2, 1, 96, 96)).face_map.shape == (2, 40, 12, 12)


def test_members_that_cannot_be_averaged_are_refused() -> None:
    fine = _member(FINE, 0)
    with pytest.raises(ValueError, match="no members"):
        combine_face_models([])
    with pytest.raises(ValueError, match="2 weights for 1 members"):
        combine_face_models([fine], weights=[0.5, 0.5])
    with pytest.raises(ValueError, match="sum to 1"):
        combine_face_models([fine, _member(COARSE, 1)], weights=[0.5, 0.6])
    with pytest.raises(ValueError, match="member 1 differs from member 0"):
        combine_face_models([fine, _member(COARSE, 1, num_classes=5)])
    with pytest.raises(ValueError, match="member 1 must have a linear classifier on average"):
        combine_face_models([fine, _member(COARSE, 1, global_pool="max")])
    with pytest.raises(ValueError, match="member 1 is not a face ResNet"):
        combine_face_models([fine, glamor_zoo.create_model("deep_emotion")])
    augmented = _member(COARSE, 1)  # another training augmentation is fine
    glamor_zoo.set_model_spec(augmented, {"face_augment": {"hflip": 0.5, "erase": 0.5}})
    combine_face_models([fine, augmented])
    other = _member(COARSE, 1)
    glamor_zoo.set_model_spec(other, {"face_mean": [0.4]})
    with pytest.raises(ValueError, match="member 1 preprocesses its input differently"):
        combine_face_models([fine, other])


def test_a_soup_averages_weights_and_batchnorm_statistics() -> None:
    first, second = _member(FINE, 0), _member(FINE, 1)
    soup = average_model_weights([first, second], [0.25, 0.75])
    a, b, mixed = first.state_dict(), second.state_dict(), soup.state_dict()
    for key in ("conv1.0.weight", "fc.bias", "bn1.running_var"):
        torch.testing.assert_close(mixed[key], 0.25 * a[key] + 0.75 * b[key])
    assert torch.equal(mixed["bn1.num_batches_tracked"], a["bn1.num_batches_tracked"])
    assert get_model_spec(soup) == get_model_spec(first) and soup is not first
    # A soup of one model is that model.
    x = torch.rand(3, 1, 48, 48)
    with torch.no_grad():
        torch.testing.assert_close(average_model_weights([first, first]).eval()(x), first(x))


def test_a_soup_needs_one_architecture_and_good_weights() -> None:
    with pytest.raises(ValueError, match="member 1 is another architecture"):
        average_model_weights([_member(FINE, 0), _member(COARSE, 1)])
    with pytest.raises(ValueError, match="sum to 1"):
        average_model_weights([_member(FINE, 0), _member(FINE, 1)], [0.5, 0.6])
