"""int8 inference: PT2E static quantisation with torchao's x86 Inductor quantizer."""

from __future__ import annotations

import contextlib
import copy
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

__all__ = ["QuantizedGraph", "as_args", "held_out", "image_reading_convs", "quantize_int8"]


def as_args(sample: Any) -> tuple[Any, ...]:
    return tuple(sample) if isinstance(sample, (tuple, list)) else (sample,)


@dataclass
class QuantizedGraph:
    """An int8 PT2E graph and the inputs held out of its calibration, to check it on.

    Attributes:
        graph: The quantised graph (run it through ``torch.compile`` for speed).
        samples: Batches to measure agreement on: every fourth calibration batch, held out of
            the calibration when there are at least 4 batches, else all of them.
    """

    graph: torch.fx.GraphModule
    samples: list[tuple[Any, ...]]


def quantize_int8(
    model: nn.Module,
    calibration: Iterable[Any],
    float_layers: Sequence[str] = (),
    correct_bias: bool = True,
) -> QuantizedGraph:
    """PT2E static int8 quantisation with torchao's x86 Inductor quantizer.

    Convolutions and linear layers get int8 weights (per channel) and activations (per
    tensor), calibrated on ``calibration``; the batch dimension stays dynamic.

    Args:
        model: The float32 model (evaluation mode).
        calibration: Argument tuples (or single tensors) of real inputs.
        float_layers: Names of ``model``'s submodules (as ``named_modules`` gives them) whose
            layers stay in float32, e.g. ``["face_encoder.blocks.0", "head"]``: the layers that
            cost agreement (image-reading convolutions, classifiers).
        correct_bias: Remove the mean error int8 weights add to each output (empirical bias
            correction, Nagel et al. 2019, "Data-Free Quantization"): each convolution's and
            linear layer's bias gets minus the mean of ``layer(x; Q(W) - W)`` over the
            calibration inputs. It matters most where few large weights meet a
            non-centred input — the convolution that reads the image, BatchNorm folded in.

    Raises:
        ImportError: torchao is not installed (``pip install 'glamor-zoo[fast]'``).
        ValueError: ``calibration`` is empty, or a name in ``float_layers`` is not a submodule.
    """
    try:
        import torchao.quantization.pt2e.quantizer.x86_inductor_quantizer as xiq
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    except ImportError as exc:
        raise ImportError(
            f"int8 inference needs torchao: pip install 'glamor-zoo[fast]' (import failed: {exc})"
        ) from exc
    known = dict(model.named_modules())
    unknown = [name for name in float_layers if not name or name not in known]
    if unknown:
        raise ValueError(
            f"float_layers: {unknown} are not submodules of {type(model).__name__} "
            "(names as model.named_modules() gives them)"
        )
    samples = [as_args(s) for s in calibration]
    if not samples:
        raise ValueError("calibration is empty: give at least one batch of real inputs")
    kept_out = held_out(samples)
    calibrate = [s for i, s in enumerate(samples) if i % 4 != 3] if len(samples) >= 4 else samples
    batch = torch.export.Dim.AUTO
    dynamic_shapes = tuple(
        {0: batch} if isinstance(a, torch.Tensor) and a.ndim > 0 else None for a in samples[0]
    )
    with torch.no_grad():
        exported = torch.export.export(
            copy.deepcopy(model), samples[0], dynamic_shapes=dynamic_shapes
        ).module()
        quantizer = xiq.X86InductorQuantizer()
        quantizer.set_global(xiq.get_default_x86_inductor_quantization_config())
        for name in float_layers:
            quantizer.set_module_name_qconfig(name, None)
        prepared = prepare_pt2e(exported, quantizer)
        errors = _WeightErrorMeans(prepared) if correct_bias else None
        with errors or contextlib.nullcontext():
            for args in calibrate:
                prepared(*args)
        if errors is not None:
            errors.correct()
        _batch_norm_to_affine(prepared)
        graph = convert_pt2e(prepared)
    return QuantizedGraph(graph, kept_out)


class _WeightErrorMeans:
    """While open, the mean over the calibration inputs of the error each int8 convolution's
    and linear layer's rounded weights add to its output: ``layer(x; Q(W) - W)`` averaged
    over every position and sample, per output channel — padding, stride and groups included.

    The layers are those whose input and weight both pass an observer (a layer left in float32
    has none); ``W`` is the weight int8 will round (BatchNorms are folded by now).
    """

    def __init__(self, prepared: torch.fx.GraphModule) -> None:
        from torchao.quantization.pt2e.observer import ObserverBase

        aten = torch.ops.aten
        self.prepared = prepared
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}
        self.handles: list[Any] = []
        self.layers: dict[str, list[tuple[torch.fx.Node, Any]]] = {}
        for node in prepared.graph.nodes:
            if node.op != "call_function" or node.target not in (
                aten.conv2d.default,
                aten.linear.default,
            ):
                continue
            x, weight_obs = node.args[0], node.args[1]
            if not all(getattr(arg, "op", None) == "call_module" for arg in (x, weight_obs)):
                continue
            observer, source = getattr(prepared, str(weight_obs.target)), weight_obs.args[0]
            if not isinstance(observer, ObserverBase) or source.op != "get_attr":
                continue
            weight = _attr(prepared, str(source.target)).detach().float()
            observer(weight)  # the same weight it sees in every call: its qparams, now
            scale, zero_point = observer.calculate_qparams()
            error = (
                torch.fake_quantize_per_channel_affine(
                    weight,
                    scale.float(),
                    zero_point.int(),
                    observer.ch_axis,
                    observer.quant_min,
                    observer.quant_max,
                )
                - weight
            )
            if node.target is aten.linear.default:
                layer = functools.partial(torch.nn.functional.linear, weight=error)
            else:
                layer = functools.partial(_conv_error, error=error, args=tuple(node.args[3:7]))
            self.layers.setdefault(str(x.target), []).append((node, layer))

    def __enter__(self) -> _WeightErrorMeans:
        for name in self.layers:
            observer = getattr(self.prepared, name)
            self.handles.append(observer.register_forward_pre_hook(self._hook(name)))
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self.handles:
            handle.remove()

    def _hook(self, name: str) -> Any:
        def record(module: nn.Module, args: tuple[Any, ...]) -> None:
            x = args[0].detach().float()
            for node, layer in self.layers[name]:
                out = layer(x)
                channels = out.transpose(1, -1) if out.ndim == 4 else out
                total = channels.reshape(-1, channels.shape[-1]).sum(dim=0)
                self.sums[node.name] = self.sums.get(node.name, 0) + total
                count = channels.numel() // channels.shape[-1]
                self.counts[node.name] = self.counts.get(node.name, 0) + count

        return record

    def correct(self) -> None:
        """Subtract each layer's mean error from its bias (added where it has none)."""
        for nodes in self.layers.values():
            for node, _ in nodes:
                if node.name not in self.sums:
                    continue
                correction = -self.sums[node.name] / self.counts[node.name]
                bias = node.args[2] if len(node.args) > 2 else None
                if getattr(bias, "op", None) == "get_attr":  # the exported copy's: change it
                    with torch.no_grad():
                        _attr(self.prepared, str(bias.target)).add_(correction)
                elif bias is None:
                    name = f"_int8_bias_correction_{node.name}"
                    self.prepared.register_buffer(name, correction)
                    with self.prepared.graph.inserting_before(node):
                        attr = self.prepared.graph.get_attr(name)
                    node.args = (*node.args[:2], attr, *node.args[3:])
        self.prepared.recompile()


def _conv_error(x: torch.Tensor, error: torch.Tensor, args: tuple[Any, ...]) -> torch.Tensor:
    """``conv2d(x, error)`` with the layer's stride, padding, dilation and groups."""
    return torch.nn.functional.conv2d(x, error, None, *args)


def _attr(module: nn.Module, target: str) -> torch.Tensor:
    """The tensor a ``get_attr`` node names."""
    owner, _, name = target.rpartition(".")
    return getattr(module.get_submodule(owner) if owner else module, name)


def _batch_norm_to_affine(gm: torch.fx.GraphModule) -> None:
    """Rewrite the eval-mode BatchNorms left after conv-BN fusion as ``x * scale + shift``.

    prepare_pt2e folds every BatchNorm that follows a convolution; others (e.g. GLA's
    BatchNorm1d after ReLU) would otherwise send convert_pt2e through its QAT conv-BN folding,
    which exports ~100 pattern graphs and takes minutes. The rewrite is exact in eval mode.
    """
    aten = torch.ops.aten
    bn_ops = (aten.batch_norm.default, aten._native_batch_norm_legit_no_training.default)
    graph = gm.graph
    tensors = {**dict(gm.named_parameters()), **dict(gm.named_buffers())}
    for index, node in enumerate(list(graph.nodes)):
        if node.op != "call_function" or node.target not in bn_ops:
            continue
        x, weight, bias, mean, var = node.args[:5]
        eps = node.args[7] if node.target is aten.batch_norm.default else node.args[6]

        def value(arg: Any) -> torch.Tensor | None:
            return None if arg is None else tensors[arg.target]

        w, b, m, v = value(weight), value(bias), value(mean), value(var)
        scale = torch.rsqrt(v + eps) * (w if w is not None else 1.0)
        shift = (b if b is not None else 0.0) - m * scale
        shape = (-1,) + (1,) * (x.meta["val"].ndim - 2)
        names = (f"_bn_affine_scale_{index}", f"_bn_affine_shift_{index}")
        gm.register_buffer(names[0], scale.detach().reshape(shape).clone())
        gm.register_buffer(names[1], shift.detach().reshape(shape).clone())
        with graph.inserting_before(node):
            out = graph.call_function(aten.mul.Tensor, (x, graph.get_attr(names[0])))
            out = graph.call_function(aten.add.Tensor, (out, graph.get_attr(names[1])))
        if node.target is aten.batch_norm.default:
            node.replace_all_uses_with(out)
        else:  # returns (out, mean, rstd); only [0] is used in eval
            for user in list(node.users):
                user.replace_all_uses_with(out)
                graph.erase_node(user)
        graph.erase_node(node)
    graph.eliminate_dead_code()
    gm.recompile()


def held_out(samples: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Every fourth batch (kept out of the int8 calibration), or all when fewer than 4."""
    return samples[3::4] if len(samples) >= 4 else samples


def image_reading_convs(model: nn.Module, args: tuple[Any, ...]) -> list[str]:
    """The names of ``model``'s convolutions that read an image (at most 3 input channels),
    cheapest first (multiply-adds on ``args``, one call's inputs).

    These are the layers int8 hurts most: their int8 input is the pixels' 8-bit grid and,
    with BatchNorm folded in, a few large weights per filter meet a non-centred input. Kept in
    float32 one at a time, cheapest first, they buy back agreement for the least speed: in
    ``glamor_original`` the face branch's (96-px face) costs a fraction of the context
    branch's (the whole scene).
    """
    from glamor_zoo.fast.bf16 import image_conv

    names = {module: name for name, module in model.named_modules() if image_conv(module)}
    macs: dict[str, int] = {}

    def count(module: nn.Module, _: Any, out: torch.Tensor) -> None:
        weight = module.weight
        macs[names[module]] = macs.get(names[module], 0) + out[0].numel() * weight[0].numel()

    handles = [module.register_forward_hook(count) for module in names]
    try:
        with torch.inference_mode():
            model(*(a[:1] if isinstance(a, torch.Tensor) and a.ndim > 0 else a for a in args))
    finally:
        for handle in handles:
            handle.remove()
    return sorted(macs, key=lambda name: (macs[name], name))
