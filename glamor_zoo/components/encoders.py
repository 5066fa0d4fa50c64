"""Image encoders: the GLAMOR-Net paper encoder and any timm model as a spatial encoder.

An encoder maps images (B, C_in, H, W) to a spatial feature map (B, C, H', W') and exposes
``out_channels``. Encoders are chosen by name through :data:`ENCODERS`: ``"glamor"`` is the
paper's 5-block encoder; any other name that timm knows is that timm model's last spatial
feature map (its ``forward_features``), with the width read from timm.
"""

# NOTE: no ``from __future__ import annotations``: TorchScript reads the forward annotations.
from collections.abc import Sequence
from typing import Any

import torch
from timm.layers import register_notrace_function
from timm.models import checkpoint_seq
from torch import nn

from glamor_zoo.registry import is_zoo_architecture, new_registry

__all__ = [
    "BN_EPS",
    "BN_MOMENTUM",
    "ENCODERS",
    "EncodingBlock",
    "FaceResNet26Encoder",
    "FaceResNetEncoder",
    "GlamorEncoder",
    "TimmEncoder",
    "create_encoder",
]

# Keras BatchNormalization defaults used by the official TF2 code: epsilon 1e-3 and a
# moving-average momentum of 0.99, i.e. PyTorch momentum 1 - 0.99.
BN_EPS = 1e-3
BN_MOMENTUM = 0.01

PAPER_WIDTHS = (32, 64, 128, 256, 256)


def _timm_fallback(name: str) -> Any:
    from timm.models import is_model, split_model_name_tag

    architecture = split_model_name_tag(name)[0]
    if is_model(architecture) and not is_zoo_architecture(architecture):
        return lambda in_chans=3, **kwargs: TimmEncoder(name, in_chans=in_chans, **kwargs)
    return None


ENCODERS = new_registry("encoder", fallback=_timm_fallback, fallback_help="<any timm model name>")


class EncodingBlock(nn.Module):
    """Conv3×3 (stride 1, same padding, bias) → BatchNorm → ReLU → optional MaxPool2×2.

    Args:
        in_chans: Input channels.
        out_chans: Output channels.
        pool: Whether the block ends with a 2×2 max-pool (floor mode, like Keras 'valid').
    """

    def __init__(self, in_chans: int, out_chans: int, pool: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_chans, out_chans, kernel_size=3, padding=1, bias=True)
        self.bn = nn.BatchNorm2d(out_chans, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.act = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool2d(2) if pool else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.act(self.bn(self.conv(x))))


@ENCODERS.register("glamor")
class GlamorEncoder(nn.Module):
    """The GLAMOR-Net encoder (paper §3.2.1 and the official ``EncodingNet``).

    Five :class:`EncodingBlock` s with widths 32, 64, 128, 256, 256 and no pool after the last
    block: a 96×96 face gives a 6×6 map, a 112×112 context a 7×7 map.

    Args:
        in_chans: Input channels (3 for RGB, 1 for grayscale faces).
        widths: Output channels of each block.
        pool_last: Whether the last block also pools (the paper: no).
    """

    def __init__(
        self,
        in_chans: int = 3,
        widths: Sequence[int] = PAPER_WIDTHS,
        pool_last: bool = False,
    ) -> None:
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if not widths or any(w <= 0 for w in widths):
            raise ValueError(f"encoder widths must be positive integers, got {widths}")
        chans = (in_chans, *widths)
        self.blocks = nn.Sequential(
            *(
                EncodingBlock(chans[i], chans[i + 1], pool=(i < len(widths) - 1) or pool_last)
                for i in range(len(widths))
            )
        )
        self.widths = widths
        self.out_channels = widths[-1]
        self.reduction = 2 ** (len(widths) - (0 if pool_last else 1))
        self.grad_checkpointing = False

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute each block's activations in the backward pass (saves memory)."""
        self.grad_checkpointing = enable

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.grad_checkpointing and torch.is_grad_enabled() and not torch.jit.is_scripting():
            return checkpoint_seq(self.blocks, x)
        return self.blocks(x)


class TimmEncoder(nn.Module):
    """Any timm model as an encoder: its last spatial feature map (``forward_features``).

    Args:
        model_name: A timm model name (optionally with a pretrained tag).
        in_chans: Input channels.
        pretrained: Load timm's pretrained weights for the backbone (needs the Hub or its cache).
        **kwargs: Passed to ``timm.create_model``.
    """

    def __init__(
        self, model_name: str, in_chans: int = 3, pretrained: bool = False, **kwargs: Any
    ) -> None:
        super().__init__()
        import timm

        self.model_name = model_name
        self.model = timm.create_model(
            model_name,
            pretrained=pretrained,
            in_chans=in_chans,
            num_classes=0,
            global_pool="",
            **kwargs,
        )
        self.out_channels = int(self.model.num_features)
        self.reduction = (
            int(self.model.feature_info[-1]["reduction"])
            if getattr(self.model, "feature_info", None)
            else 32
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.model.forward_features(x)
        check_spatial_map(features, self.model_name)
        return features

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Turn on the timm model's own gradient checkpointing (where it has one)."""
        if hasattr(self.model, "set_grad_checkpointing"):
            self.model.set_grad_checkpointing(enable)


@ENCODERS.register("face_resnet18")
class FaceResNetEncoder(nn.Module):
    """The trunk of a face ResNet (:class:`glamor_zoo.models.face_resnet.FaceResNet`: timm's
    ResNet with BasicBlocks 2-2-2-2 at a quarter of the width, 32, 64, 128, 256 channels, behind
    a deep stem of three 3×3 convolutions and no max-pool) as a GLAMOR-Net encoder. 2.8 M
    parameters.

    ImageNet ResNets reduce the input 4× before the first block (stride-2 7×7 conv + max-pool),
    which leaves a 48-px FER-2013 face 12×12 pixels. Here the stem keeps full resolution
    (``stem_stride=1``: the first blocks see 48×48, the map is reduced 8×: 48 → 6×6) or halves it
    (``stem_stride=2``: 24×24 blocks, 48 → 3×3, about 5× cheaper to train on a CPU).

    The weights of the face model of the same name (``face_resnet18.fer2013``) load into it:
    ``model.init_from: {face_resnet18.fer2013: [face_encoder]}`` in a recipe.

    Args:
        in_chans: Input channels (1 for grey faces, 3 for RGB).
        widths: Channels of the four stages.
        layers: BasicBlocks per stage.
        drop_path_rate: Stochastic depth rate (timm's).
        stem_stride: Stride of the stem's first convolution (1 or 2).
    """

    # Defaults the model asks of its encoder (see ``glamor_zoo.models.glamor``): grey pixels
    # /255 mapped to [-1, 1], and the stem convolution, for timm's channel adaptation.
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.5,)
    first_conv = "model.conv1.0"

    def __init__(
        self,
        in_chans: int = 1,
        widths: Sequence[int] = (32, 64, 128, 256),
        layers: Sequence[int] = (2, 2, 2, 2),
        drop_path_rate: float = 0.0,
        stem_stride: int = 1,
    ) -> None:
        super().__init__()
        from glamor_zoo.models.face_resnet import FaceResNet

        try:
            self.model = FaceResNet(
                layers,
                widths,
                num_classes=0,
                in_chans=in_chans,
                stem_stride=stem_stride,
                global_pool="",
                drop_path_rate=drop_path_rate,
            )
        except ValueError as exc:
            raise ValueError(f"{type(self).__name__}: {exc}") from None
        self.out_channels = int(self.model.num_features)
        self.reduction = 8 * stem_stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_features(x)

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.model.set_grad_checkpointing(enable)


@ENCODERS.register("face_resnet26")
class FaceResNet26Encoder(FaceResNetEncoder):
    """:class:`FaceResNetEncoder` one block deeper: three BasicBlocks per stage (3-3-3-3, 26
    weight layers), the same widths and stem. 4.4 M parameters, ~1.5× the multiply-adds.

    Its first two blocks of each stage have ``face_resnet18``'s shapes and names, so
    ``face_resnet18`` weights load into them; each third block then starts as the identity
    (timm zero-initialises a BasicBlock's last BatchNorm scale, and the block's input is already
    past a ReLU): the deeper network starts as the shallower one's function
    (``recipes/face_resnet18_fer2013_phase10.yaml``, the zoo's FER-2013 model).
    """

    def __init__(
        self,
        in_chans: int = 1,
        widths: Sequence[int] = (32, 64, 128, 256),
        layers: Sequence[int] = (3, 3, 3, 3),
        drop_path_rate: float = 0.0,
        stem_stride: int = 1,
    ) -> None:
        super().__init__(in_chans, widths, layers, drop_path_rate, stem_stride)


# A shape check that torch.fx keeps as a call (timm's notrace registry; fx wraps public names).
@register_notrace_function
def check_spatial_map(features: torch.Tensor, model_name: str) -> None:
    """Raise unless ``features`` (a timm model's ``forward_features``) is a (B, C, H, W) map."""
    if features.dim() != 4:
        raise ValueError(
            f"timm model '{model_name}' returns features of shape {list(features.shape)}; "
            "a GLAMOR encoder needs a spatial (B, C, H, W) map (use a convolutional model)"
        )


def create_encoder(encoder: str | type[nn.Module], in_chans: int = 3, **kwargs: Any) -> nn.Module:
    """Build an encoder by name (``"glamor"`` or a timm model name) or class."""
    return ENCODERS.create(encoder, in_chans=in_chans, **kwargs)
