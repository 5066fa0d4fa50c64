"""MTCNN's cascade (facenet-pytorch's ``detect_face``) with its two slow kernels replaced.

facenet-pytorch resamples every pyramid level from the whole image and every P-/R-Net
candidate from its own crop with ``interpolate(mode="area")`` — one call per candidate, in a
Python loop — and its nets' max-pools run ATen's CPU max-pool, which computes the positions of
the maxima and throws them away. On the benchmark photos these were ~40 % and ~20 % of the
detector's time. Here:

- **area resampling from an integral image**: ``interpolate(mode="area")`` is an adaptive
  average pool, each output pixel the mean of a rectangle of input pixels; from the image's
  summed-area table (integers, exact) every rectangle's sum is four reads, so all candidates of
  an image are resampled in one gather, and a pyramid level costs its own pixels, not the
  image's. The rectangles are ATen's (``start = ⌊i·in/out⌋``, ``end = ⌈(i+1)·in/out⌉``) and
  the sums are exact integers, so the pixels are the same as facenet-pytorch's up to float
  rounding of the division;
- **max-pool as shifted maxima** (:class:`ExactMaxPool2d`): the same windows (``ceil_mode``,
  as the nets use), the same maxima, no indices.

Everything else — the pyramid's scales, P-Net's boxes, the non-maximum suppressions, the box
regressions and the landmarks — calls facenet-pytorch's own functions in its order.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "ExactMaxPool2d",
    "area_resample",
    "detect_faces",
    "integral_image",
    "resample_whole",
    "with_exact_pools",
]


class ExactMaxPool2d(nn.Module):
    """``nn.MaxPool2d(kernel_size, stride, ceil_mode=True)`` (no padding, no dilation) as the
    maximum of ``kernel_size`` shifted strided views along each axis: the same output."""

    def __init__(self, kernel_size: int, stride: int) -> None:
        super().__init__()
        self.kernel_size = int(kernel_size)
        self.stride = int(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, s = self.kernel_size, self.stride
        height, width = x.shape[-2], x.shape[-1]
        out_h, out_w = _ceil_pool_size(height, k, s), _ceil_pool_size(width, k, s)
        pad_h, pad_w = (out_h - 1) * s + k - height, (out_w - 1) * s + k - width
        if pad_h > 0 or pad_w > 0:
            x = F.pad(x, (0, max(pad_w, 0), 0, max(pad_h, 0)), value=-math.inf)
        span_w, span_h = (out_w - 1) * s + 1, (out_h - 1) * s + 1
        cols = x[..., 0:span_w:s]
        for i in range(1, k):
            cols = torch.maximum(cols, x[..., i : i + span_w : s])
        rows = cols[..., 0:span_h:s, :]
        for i in range(1, k):
            rows = torch.maximum(rows, cols[..., i : i + span_h : s, :])
        return rows


def _ceil_pool_size(size: int, kernel: int, stride: int) -> int:
    """ATen's output size of a ceil-mode pool without padding."""
    out = -(-(size - kernel) // stride) + 1
    if (out - 1) * stride >= size:  # the last window must start inside the input
        out -= 1
    return out


def with_exact_pools(net: nn.Module) -> nn.Module:
    """A copy of ``net`` (sharing its parameters) whose ceil-mode ``nn.MaxPool2d`` layers are
    :class:`ExactMaxPool2d`."""
    net = copy.copy(net)
    net._modules = dict(net._modules)
    for name, module in net._modules.items():
        if (
            isinstance(module, nn.MaxPool2d)
            and module.ceil_mode
            and module.padding in (0, (0, 0))
            and module.dilation in (1, (1, 1))
            and isinstance(module.kernel_size, int)
            and isinstance(module.stride, int)
        ):
            net._modules[name] = ExactMaxPool2d(module.kernel_size, module.stride)
    return net


def integral_image(images: torch.Tensor) -> torch.Tensor:
    """Summed-area table of (B, C, H, W) integer-valued images, channels last: (B, H + 1,
    W + 1, C), exact (int32 where the image's total fits, else int64). Channels last, a
    pixel's three sums sit together: the gathers that resample read them at once."""
    batch, channels, height, width = images.shape
    dtype = np.int32 if 255 * height * width < 2**31 else np.int64
    table = np.zeros((batch, height + 1, width + 1, channels), dtype=dtype)
    # Running sums along each row, then each row added to the one below it.
    # NOTE: numpy's cumsum along an outer axis is slow (16 ms for the rows of a 1,280 x 960
    # photo, one thread; along the columns 2 ms): the rows are summed one vectorised add at a
    # time instead (2 ms). The whole table: 5 ms against torch's cumsum 19 ms. Integers: the
    # same table either way.
    np.cumsum(images.permute(0, 2, 3, 1).numpy(), axis=2, dtype=dtype, out=table[:, 1:, 1:])
    for row in range(2, height + 1):
        np.add(table[:, row], table[:, row - 1], out=table[:, row])
    return torch.from_numpy(table)


def _bins(
    start: torch.Tensor, length: torch.Tensor, size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """ATen's adaptive-pool rectangles along one axis: (N, size) first and one-past-last
    indices of ``size`` bins over ``length`` pixels from ``start``."""
    i = torch.arange(size, dtype=torch.int64)
    length = length.to(torch.int64)[:, None]
    first = (i * length) // size
    last = ((i + 1) * length + size - 1) // size
    return start.to(torch.int64)[:, None] + first, start.to(torch.int64)[:, None] + last


def area_resample(
    table: torch.Tensor,
    image_index: torch.Tensor,
    top: torch.Tensor,
    bottom: torch.Tensor,
    left: torch.Tensor,
    right: torch.Tensor,
    size: tuple[int, int],
) -> torch.Tensor:
    """The crops ``[top, bottom) × [left, right)`` of the images whose :func:`integral_image` is
    ``table``, each resampled to ``size`` as ``interpolate(mode="area")`` does: (N, C, h, w)
    float32, channels last in memory."""
    row_first, row_last = _bins(top, bottom - top, size[0])
    col_first, col_last = _bins(left, right - left, size[1])
    index = image_index.to(torch.int64)[:, None, None]

    def corner(rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        return table[index, rows[:, :, None], cols[:, None, :]]  # (N, h, w, C)

    sums = (
        corner(row_last, col_last)
        - corner(row_first, col_last)
        - corner(row_last, col_first)
        + corner(row_first, col_first)
    )
    heights = (row_last - row_first).to(torch.float32)[:, :, None, None]
    widths = (col_last - col_first).to(torch.float32)[:, None, :, None]
    # NOTE: ATen divides the window's sum by its height, then by its width, in float32.
    # Returned channels last in memory, as resample_whole's levels (O-Net ~3x faster on them).
    return (sums.to(torch.float32) / heights / widths).permute(0, 3, 1, 2)


def resample_whole(table: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The whole images of ``table`` (an :func:`integral_image`) resampled to ``size`` as
    ``interpolate(mode="area")`` does: (B, C, h, w) float32, channels last in memory (rows,
    then columns, gathered with ``index_select``: a pyramid level costs its own pixels)."""
    height, width = table.shape[1] - 1, table.shape[2] - 1
    row_first, row_last = (v[0] for v in _bins(torch.zeros(1), torch.tensor([height]), size[0]))
    col_first, col_last = (v[0] for v in _bins(torch.zeros(1), torch.tensor([width]), size[1]))
    rows = table.index_select(1, row_last) - table.index_select(1, row_first)
    sums = rows.index_select(2, col_last) - rows.index_select(2, col_first)  # (B, h, w, C)
    heights = (row_last - row_first).to(torch.float32)[:, None, None]
    widths = (col_last - col_first).to(torch.float32)[None, :, None]
    # NOTE: returned channels last in memory (the permuted view, no copy): the nets'
    # convolutions run faster on it here (AVX-512 EPYC, 2 threads: P-Net 21 -> 11 ms at the
    # largest level of a 1,280-px photo, O-Net 22 -> 7 ms on 40 crops, R-Net 26 -> 24 ms on
    # 300); their outputs differ from the contiguous input's by float rounding (<= 2e-6), not
    # by the faces found (the same boxes on the benchmark photos).
    return (sums.to(torch.float32) / heights / widths).permute(0, 3, 1, 2)


def _normalised(pixels: torch.Tensor) -> torch.Tensor:
    return (pixels - 127.5) * 0.0078125


def _run_in_batches(net: nn.Module, data: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """facenet-pytorch's ``fixed_batch_process``: ``net`` over 512 crops at a time."""
    out = [net(data[i : i + 512]) for i in range(0, len(data), 512)]
    return tuple(torch.cat(v, dim=0) for v in zip(*out, strict=True))


def _crops(
    table: torch.Tensor, boxes: torch.Tensor, image_inds: torch.Tensor, size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The boxes' crops as facenet-pytorch takes them (``pad``: clipped to the image, 1-based),
    resampled to ``size``²; and which boxes had a non-empty crop."""
    from facenet_pytorch.models.utils.detect_face import pad

    height, width = table.shape[1] - 1, table.shape[2] - 1
    y, ey, x, ex = (
        torch.from_numpy(np.asarray(v, dtype=np.int64)) for v in pad(boxes, width, height)
    )
    # NOTE: facenet-pytorch skips an empty crop and then misaligns every later box with its
    # crop; here an empty crop's box is dropped with it.
    valid = (ey > y - 1) & (ex > x - 1)
    crops = area_resample(
        table, image_inds[valid], y[valid] - 1, ey[valid], x[valid] - 1, ex[valid], (size, size)
    )
    return crops, valid


def _refine(
    table: torch.Tensor,
    boxes: torch.Tensor,
    image_inds: torch.Tensor,
    net: nn.Module,
    size: int,
    threshold: float,
) -> tuple[tuple[torch.Tensor, ...], torch.Tensor, torch.Tensor, torch.Tensor]:
    """One refining stage (R-Net, O-Net): ``net`` on the ``size``×``size`` crops of ``boxes``.

    Returns:
        The net's outputs (its face probabilities last) on the boxes that have a crop; which of
        those score above ``threshold``; those boxes (x1, y1, x2, y2, score) and their images.
    """
    crops, valid = _crops(table, boxes, image_inds, size)
    boxes, image_inds = boxes[valid], image_inds[valid]
    out = _run_in_batches(net, _normalised(crops))
    score = out[-1][:, 1]
    keep = score > threshold
    boxes = torch.cat((boxes[keep, :4], score[keep].unsqueeze(1)), dim=1)
    return out, keep, boxes, image_inds[keep]


def detect_faces(
    images: Sequence[object],
    min_size: float,
    pnet: nn.Module,
    rnet: nn.Module,
    onet: nn.Module,
    thresholds: Sequence[float],
    factor: float,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """facenet-pytorch's ``detect_face(images, min_size, pnet, rnet, onet, thresholds, factor,
    "cpu")`` for equally sized RGB images (PIL or H×W×3 uint8 arrays): per image, its boxes
    (x1, y1, x2, y2, score) and its landmarks (5 × 2), as numpy arrays."""
    from facenet_pytorch.models.utils.detect_face import (
        batched_nms_numpy,
        bbreg,
        generateBoundingBox,
        rerec,
    )
    from torchvision.ops.boxes import batched_nms

    pixels = torch.from_numpy(np.stack([np.asarray(image, dtype=np.uint8) for image in images]))
    pixels = pixels.permute(0, 3, 1, 2)
    table = integral_image(pixels)
    batch_size, height, width = pixels.shape[0], pixels.shape[2], pixels.shape[3]

    scale = 12.0 / min_size
    shortest = min(height, width) * scale
    scales = []
    while shortest >= 12:
        scales.append(scale)
        scale, shortest = scale * factor, shortest * factor

    # First stage: P-Net on each pyramid level; NMS per level and image, then per image.
    boxes, image_inds, picks, offset = [], [], [], 0
    for scale in scales:
        size = (int(height * scale + 1), int(width * scale + 1))
        level = resample_whole(table, size)
        reg, probs = pnet(_normalised(level))
        boxes_scale, inds_scale = generateBoundingBox(reg, probs[:, 1], scale, thresholds[0])
        boxes.append(boxes_scale)
        image_inds.append(inds_scale)
        pick = batched_nms(boxes_scale[:, :4], boxes_scale[:, 4], inds_scale, 0.5)
        picks.append(pick + offset)
        offset += boxes_scale.shape[0]
    boxes, image_inds = torch.cat(boxes), torch.cat(image_inds)
    picks = torch.cat(picks)
    boxes, image_inds = boxes[picks], image_inds[picks]
    pick = batched_nms(boxes[:, :4], boxes[:, 4], image_inds, 0.7)
    boxes, image_inds = boxes[pick], image_inds[pick]
    regw, regh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    boxes = torch.stack(
        [
            boxes[:, 0] + boxes[:, 5] * regw,
            boxes[:, 1] + boxes[:, 6] * regh,
            boxes[:, 2] + boxes[:, 7] * regw,
            boxes[:, 3] + boxes[:, 8] * regh,
            boxes[:, 4],
        ]
    ).permute(1, 0)
    boxes = rerec(boxes)

    # Second stage: R-Net on 24×24 crops.
    if len(boxes) > 0:
        out, keep, boxes, image_inds = _refine(table, boxes, image_inds, rnet, 24, thresholds[1])
        moves = out[0][keep]
        pick = batched_nms(boxes[:, :4], boxes[:, 4], image_inds, 0.7)
        boxes, image_inds, moves = boxes[pick], image_inds[pick], moves[pick]
        boxes = rerec(bbreg(boxes, moves))

    # Third stage: O-Net on 48×48 crops; landmarks; NMS with the "Min" overlap.
    points = torch.zeros(0, 5, 2)
    if len(boxes) > 0:
        out, keep, boxes, image_inds = _refine(table, boxes, image_inds, onet, 48, thresholds[2])
        points, moves = out[1][keep].permute(1, 0), out[0][keep]
        w_i = boxes[:, 2] - boxes[:, 0] + 1
        h_i = boxes[:, 3] - boxes[:, 1] + 1
        points_x = w_i.repeat(5, 1) * points[:5, :] + boxes[:, 0].repeat(5, 1) - 1
        points_y = h_i.repeat(5, 1) * points[5:10, :] + boxes[:, 1].repeat(5, 1) - 1
        points = torch.stack((points_x, points_y)).permute(2, 1, 0)
        boxes = bbreg(boxes, moves)
        pick = batched_nms_numpy(boxes[:, :4], boxes[:, 4], image_inds, 0.7, "Min")
        boxes, image_inds, points = boxes[pick], image_inds[pick], points[pick]

    boxes_np, points_np, inds_np = boxes.numpy(), points.numpy(), image_inds.numpy()
    return (
        [boxes_np[inds_np == b].copy() for b in range(batch_size)],
        [points_np[inds_np == b].copy() for b in range(batch_size)],
    )
