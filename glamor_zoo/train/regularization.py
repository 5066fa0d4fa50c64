"""Loss terms besides plain cross-entropy: an L2 penalty on named modules' weights
(``optim.l2_*``), and cross-entropy whose label smoothing differs from image to image
(``data.sources[].label_smoothing``)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import torch
from torch import nn

from glamor_zoo.train.config import ConfigError

__all__ = ["L2Penalty", "smoothed_cross_entropy"]


class L2Penalty:
    """``weight · Σ‖W‖²`` over the ``weight`` parameters of the named modules (biases excluded).

    Deep-Emotion's loss (paper §3) is cross-entropy plus this term over its last two fully
    connected layers: ``L2Penalty(model, ["head.fc1", "head.fc"], λ)``. Unlike the optimiser's
    ``weight_decay``, the term is part of the loss, so Adam scales its gradient like any other.
    A module's sub-modules count too: ``["head"]`` covers every weight inside ``head``.

    Args:
        model: The model (unwrapped: names as in its own ``named_modules()``).
        modules: Module names, e.g. ``["head.fc1", "head.fc"]``.
        weight: λ.

    Raises:
        ConfigError: a name is not a module of the model, or names a module with no weights.
    """

    def __init__(self, model: nn.Module, modules: Sequence[str], weight: float) -> None:
        named = dict(model.named_modules())
        self.weight = float(weight)
        self.modules = list(modules)
        self.parameters: list[nn.Parameter] = []
        for name in self.modules:
            module = named.get(name)
            if module is None:
                weighted = [
                    n
                    for n, m in named.items()
                    if "weight" in dict(m.named_parameters(recurse=False))
                ]
                close = difflib.get_close_matches(name, weighted, n=3)
                shown = ", ".join(weighted[:24]) + (", …" if len(weighted) > 24 else "")
                raise ConfigError(
                    f"optim.l2_modules: {type(model).__name__} has no module {name!r}"
                    + (f" (did you mean {', '.join(close)}?)" if close else "")
                    + f"; modules with weights: {shown}"
                )
            params = [p for n, p in module.named_parameters() if n.rsplit(".", 1)[-1] == "weight"]
            if not params:
                raise ConfigError(
                    f"optim.l2_modules: module {name!r} ({type(module).__name__}) has no weight "
                    "parameters to penalise"
                )
            self.parameters += [p for p in params if all(p is not q for q in self.parameters)]

    def __call__(self) -> torch.Tensor:
        """The penalty (a scalar tensor in float32, differentiable w.r.t. the weights)."""
        total = sum(p.float().square().sum() for p in self.parameters)
        return self.weight * total

    def __repr__(self) -> str:
        return f"{type(self).__name__}(modules={self.modules}, weight={self.weight})"


def smoothed_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, smoothing: torch.Tensor
) -> torch.Tensor:
    """Mean cross-entropy of ``logits`` against ``target`` with label smoothing ``smoothing[i]``
    for image ``i``: ``(1 - ε)·(-log p_y) + ε·mean_k(-log p_k)``, exactly what
    ``nn.functional.cross_entropy(..., label_smoothing=ε)`` gives for one ε."""
    log_probs = torch.log_softmax(logits.float(), dim=1)
    nll = -log_probs.gather(1, target[:, None]).squeeze(1)
    uniform = -log_probs.mean(dim=1)
    smoothing = smoothing.to(log_probs)
    return ((1 - smoothing) * nll + smoothing * uniform).mean()
