"""Real model inputs for speed and agreement measurements, and a non-degenerate model.

Faces: FER-2013 validation faces and CK+ faces (48×48 grey, read in place from
``../shared/data``: research-only data, never copied). Contexts: the real scene photos of
``../shared/data/scenes`` with a random face-sized box zeroed, preprocessed exactly like the zoo
does it (:class:`glamor_zoo.data.transforms.GlamorTransform`, evaluation crop); every fourth
sample takes its face from the scene itself, so faces and contexts also come in matching pairs.

No trained GLAMOR-Net weights exist yet, and a fresh model predicts nearly one class for
everything, which makes "top-1 agreement" meaningless. So the benchmark model is random-init
with :func:`calibrate_batchnorm` (BatchNorm statistics of real inputs) and then
:func:`fit_head`: its head (the layers after the features) is briefly trained on the real
emotion labels of the FER-2013 / CK+ faces. Its predictions then spread over the classes like
the labels do; the benchmark reports that spread next to the agreement.
"""

from __future__ import annotations

import functools
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

import glamor_zoo
from glamor_zoo.data.images import list_images, load_image
from glamor_zoo.data.transforms import GlamorTransform, to_uint8_tensor
from glamor_zoo.labels import PAPER_LABELS, canonical_label
from glamor_zoo.spec import get_model_spec

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
DATA = SHARED / "data"


EVAL_FACE_ROOTS = (DATA / "fer2013" / "validation", DATA / "ckplus48")
TRAIN_FACE_ROOTS = (DATA / "fer2013" / "train",)


def face_files(limit: int, seed: int = 0, roots: tuple[Path, ...] = EVAL_FACE_ROOTS) -> list[Path]:
    """Up to ``limit`` real face images from ``roots`` (default: FER-2013 validation and CK+)."""
    files = list(_listing(roots))
    random.Random(seed).shuffle(files)
    return files[:limit]


@functools.cache
def _listing(roots: tuple[Path, ...]) -> tuple[Path, ...]:
    return tuple(path for root in roots if root.is_dir() for path in list_images(root))


@functools.cache
def scene_images() -> list[torch.Tensor]:
    """The scene photos as uint8 (3, H, W) tensors (a missing folder gives an empty list)."""
    folder = DATA / "scenes"
    if not folder.is_dir():
        return []
    return [to_uint8_tensor(load_image(p)) for p in list_images(folder)]


def _random_box(height: int, width: int, rng: random.Random) -> tuple[int, int, int, int]:
    side = int(min(height, width) * rng.uniform(0.12, 0.35))
    x1 = rng.randrange(0, max(1, width - side))
    y1 = rng.randrange(0, max(1, height - side))
    return x1, y1, x1 + side, y1 + side


def face_label(path: Path) -> int:
    """Index in PAPER_LABELS of a face file's class folder, -1 if not a paper class."""
    try:
        return PAPER_LABELS.index(canonical_label(path.parent.name))
    except ValueError:
        return -1


def real_samples(
    preprocess_cfg: dict,
    count: int,
    seed: int = 0,
    with_labels: bool = False,
    roots: tuple[Path, ...] = EVAL_FACE_ROOTS,
    scenes: slice = slice(None),
) -> tuple[torch.Tensor, ...]:
    """``count`` preprocessed (face, context) inputs for a model's ``preprocess_cfg``.

    Faces come from ``roots``, contexts (and every fourth face) from the scene photos
    ``scenes`` selects (sorted by name): calibration and agreement sets that share neither
    faces nor scenes take different ``roots`` and complementary slices.

    Returns:
        faces (N, C, Hf, Wf) and contexts (N, C, Hc, Wc), or ``None`` for face-only models;
        with ``with_labels``, also labels (N,): the face's PAPER_LABELS index, -1 if unknown.

    Raises:
        FileNotFoundError: ``../shared/data`` has no faces or no scenes.
    """
    transform = GlamorTransform(preprocess_cfg, train=False)
    faces_paths = face_files(count, seed, roots)
    scenes = scene_images()[scenes]
    if not faces_paths or not scenes:
        raise FileNotFoundError(
            f"no real inputs under {DATA} (need fer2013/ or ckplus48/, and scenes/)"
        )
    rng = random.Random(seed)
    faces, contexts, labels = [], [], []
    for i in range(count):
        scene = scenes[rng.randrange(len(scenes))]
        _, h, w = scene.shape
        box = _random_box(h, w, rng)
        if i % 4 == 3:
            face = transform.face(scene, box)
            labels.append(-1)
        else:
            path = faces_paths[i % len(faces_paths)]
            pixels = to_uint8_tensor(load_image(path))
            face = transform.face(pixels, (0, 0, pixels.shape[2], pixels.shape[1]))
            labels.append(face_label(path))
        faces.append(face)
        if transform.uses_context:
            contexts.append(transform.context(scene, box))
    out = (torch.stack(faces), (torch.stack(contexts) if contexts else None))
    return (*out, torch.tensor(labels)) if with_labels else out


def batches(
    faces: torch.Tensor, contexts: torch.Tensor | None, batch_size: int
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Argument tuples of ``batch_size`` for ``model(*args)``."""
    for start in range(0, len(faces), batch_size):
        end = start + batch_size
        yield (faces[start:end],) if contexts is None else (faces[start:end], contexts[start:end])


def calibrate_batchnorm(model: nn.Module, batch_list: list[tuple[torch.Tensor, ...]]) -> None:
    """Set every BatchNorm's running statistics to those of ``batch_list`` (then eval)."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for args in batch_list:
            model(*args)
    model.eval()


def _features(model: nn.Module, args: tuple[torch.Tensor, ...]) -> torch.Tensor:
    out = model.forward_features(*args)
    return out.fused if hasattr(out, "fused") else out


def fit_head(
    model: nn.Module,
    batch_list: list[tuple[torch.Tensor, ...]],
    labels: torch.Tensor,
    steps: int = 300,
    seed: int = 0,
) -> float:
    """Train only ``model.head`` on frozen features to ``labels`` (-1: ignored); eval after.

    Returns:
        The training accuracy reached (on the labelled samples).
    """
    model.eval()
    with torch.no_grad():
        feats = torch.cat([_features(model, args) for args in batch_list])
    keep = labels >= 0
    feats, target = feats[keep], labels[keep]
    torch.manual_seed(seed)
    head = model.head
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-2)
    head.train()
    for _ in range(steps):
        loss = nn.functional.cross_entropy(model.forward_head(feats), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        return float((model.forward_head(feats).argmax(-1) == target).float().mean())


def train_standin(
    model: nn.Module, steps: int = 300, batch_size: int = 32, seed: int = 0, lr: float = 1e-3
) -> float:
    """Train ``model`` end to end on FER-2013 *train* faces paired with scene contexts.

    A few minutes of training give the benchmark a model whose predictions come from trained
    features (as a published model's do) rather than a head fitted on random ones; agreement is
    then measured on other images (FER-2013 validation, CK+, scene crops). Adam, bf16 autocast
    on CPUs that have it, the zoo's evaluation preprocessing; scene-cropped faces (no label)
    are left out of the loss.

    Returns:
        Training accuracy over the last 50 steps.
    """
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    device = next(model.parameters()).device
    hits: list[float] = []
    model.train()
    for step in range(steps):
        face, context, labels = real_samples(
            get_model_spec(model).preprocess_cfg(),
            batch_size,
            seed=10_000 + seed * steps + step,
            with_labels=True,
            roots=TRAIN_FACE_ROOTS,
        )
        keep = labels >= 0
        args = (face[keep],) if context is None else (face[keep], context[keep])
        args = tuple(a.to(device) for a in args)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            logits = model(*args).float()
        target = labels[keep].to(device)
        loss = nn.functional.cross_entropy(logits, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        hits.append(float((logits.argmax(-1) == target).float().mean()))
    model.eval()
    return sum(hits[-50:]) / len(hits[-50:])


REPO = Path(__file__).resolve().parent.parent
DEFAULT_FACE_ENCODER = REPO / "runs" / "glamor_face_only_fer2013" / "model"
STANDIN_CACHE = Path(__file__).resolve().parent / "standins"


def standin_model(
    name: str,
    device: torch.device,
    face_encoder_from: Path | None = None,
    steps: int = 150,
) -> tuple[nn.Module, str]:
    """The benchmark's stand-in for a trained ``name``, and a line saying what it is.

    Most trained of what exists offline, in this order:

    1. Weights packaged with the zoo: ``name`` itself where it is a released tag
       (``face_resnet26.fer2013_sfew``), else its ``.fer2013`` tag (``deep_emotion``:
       ``deep_emotion.fer2013``): real ones.
    2. ``face_encoder_from`` (a model folder whose ``face_encoder`` fits, e.g. the face-only
       GLAMOR-Net trained by ``recipes/glamor_face_only_fer2013.yaml``): its face encoder, then
       :func:`train_standin` end to end for ``steps`` steps. Cached in ``STANDIN_CACHE``; a
       cached stand-in is used even where the donor run is gone (``glamor_original``'s is
       committed: sha256 ``8c664d27be983156…``, made 2026-12-02, benchmarks/README.md).
    3. Otherwise random init + :func:`calibrate_batchnorm` + :func:`fit_head`.
    """
    released = glamor_zoo.list_models(pretrained=True)
    tag = name if name in released else f"{name}.fer2013"
    if tag in released:
        model = glamor_zoo.create_model(tag, pretrained=True).eval().to(device)
        return model, f"`{tag}` (the zoo's packaged trained weights)"
    torch.manual_seed(0)
    model = glamor_zoo.create_model(name).to(device)
    cfg = get_model_spec(model).preprocess_cfg()
    faces, contexts, labels = real_samples(cfg, 256, seed=1, with_labels=True)
    contexts = None if contexts is None else contexts.to(device)
    calibration = list(batches(faces.to(device), contexts, 32))
    if face_encoder_from is not None:
        # The committed stand-in (benchmarks/standins/, force-added: the agreement set
        # is fixed), also where the donor run no longer exists.
        cached = STANDIN_CACHE / f"{name}-{face_encoder_from.parent.name}-{steps}.safetensors"
        what = (
            f"face encoder from `{face_encoder_from}`, then trained end to end for {steps} × 32 "
            "FER-2013 train faces with scene contexts (`real_inputs.train_standin`)"
        )
        if cached.is_file():
            model.load_state_dict(load_file(cached, device=str(device)))
            return model.eval(), what + " [cached]"
    source = face_encoder_from if face_encoder_from and face_encoder_from.is_dir() else None
    if source is not None and _encoder_fits(model, source):
        model.face_encoder.load_state_dict(_face_encoder_state(source))
        calibrate_batchnorm(model, calibration)
        train_standin(model, steps=steps, lr=3e-4)
        calibrate_batchnorm(model, calibration)
        cached.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, cached)
        return model.eval(), what
    calibrate_batchnorm(model, calibration)
    accuracy = fit_head(model, calibration, labels.to(device))
    return model.eval(), (
        "random init, BatchNorm calibrated on 256 real inputs, head fitted to the faces' labels "
        f"(training accuracy {accuracy:.0%}; no trained weights offline)"
    )


def _face_encoder_state(source: Path) -> dict[str, torch.Tensor]:
    donor = glamor_zoo.create_model(f"local-dir:{source}")
    return donor.face_encoder.state_dict() if donor.face_encoder is not None else {}


def _encoder_fits(model: nn.Module, source: Path) -> bool:
    """Whether ``source``'s face encoder has exactly ``model``'s face encoder's tensors."""
    if getattr(model, "face_encoder", None) is None:
        return False
    ours = {k: v.shape for k, v in model.face_encoder.state_dict().items()}
    theirs = {k: v.shape for k, v in _face_encoder_state(source).items()}
    return ours == theirs


def class_spread(model: nn.Module, batch_list: list[tuple[torch.Tensor, ...]]) -> str:
    """How the model's top-1 predictions spread over the classes, e.g. ``0:12% 3:40% …``."""
    counts: Counter[int] = Counter()
    with torch.inference_mode():
        for args in batch_list:
            counts.update(model(*args).argmax(-1).tolist())
    total = sum(counts.values())
    return " ".join(f"{k}:{v / total:.0%}" for k, v in sorted(counts.items()))
