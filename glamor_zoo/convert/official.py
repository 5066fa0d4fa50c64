"""The authors' GLAMOR-Net checkpoint, fetched at a pinned commit, verified, converted and cached.

``glamor_zoo.create_model("glamor_original.ncaer_s", pretrained=True)`` ends here (through
:func:`glamor_zoo.models._official.official_weights_kwargs`). :func:`ensure_official_weights`
returns a converted model folder (``model.safetensors``, ``config.json``, ``README.md``) in the
cache, making it on the first call:

1. download the checkpoint's files (:data:`GLAMOR_NET`: ``Model.index`` and the two data
   shards) from the authors' repository at the pinned commit, or from the folder URL in
   ``$GLAMOR_ZOO_TF_MIRROR`` (``https://…``, ``file://…`` or a local folder);
2. verify each file's size and hashes (:class:`~glamor_zoo.convert.download.PinnedFile`), then
   every tensor's CRC-32C while converting (:func:`~glamor_zoo.convert.convert_tf_checkpoint`,
   no TensorFlow);
3. write the folder (with the provenance in ``config.json``: source URL, commit, hashes,
   conversion version) into a temporary folder and rename it into place.

The cache is ``<torch.hub.get_dir()>/glamor_zoo/<name>-<commit[:12]>-v<conversion version>``
(``$TORCH_HOME/hub/…``, by default ``~/.cache/torch/hub/glamor_zoo/…``), or the same name under
``cache_dir`` when one is given. One process converts while the others wait on a lock file
beside it, then load its result; a process that dies mid-way leaves no folder, only a temporary
one that the next conversion removes. With ``HF_HUB_OFFLINE=1`` nothing is downloaded (a
``file://`` mirror is still read): an empty cache raises :class:`OfficialWeightsError` saying
which files to fetch and where to put them.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glamor_zoo.convert._filelock import file_lock
from glamor_zoo.convert.download import (
    DownloadError,
    IntegrityError,
    PinnedFile,
    download_pinned,
)
from glamor_zoo.models._checkpoint import DIGEST_KEY, CheckpointError
from glamor_zoo.serialization import CONFIG_NAME, WEIGHTS_NAME, atomic_write_text, file_sha256

__all__ = [
    "CARD_TEMPLATE",
    "CONVERSION_VERSION",
    "GLAMOR_NET",
    "OFFICIAL_TAGS",
    "TF_MIRROR_ENV",
    "OfficialCheckpoint",
    "OfficialWeightsError",
    "cached_official_folder",
    "ensure_official_weights",
    "official_cache_root",
]

_logger = logging.getLogger(__name__)

TF_MIRROR_ENV = "GLAMOR_ZOO_TF_MIRROR"
# Bump when a conversion of the same files would come out differently: older caches are then
# left alone and converted again under the new name.
CONVERSION_VERSION = 1
# The card of the converted folder: the facts known about these weights, in its own template.
CARD_TEMPLATE = (
    Path(__file__).resolve().parents[1] / "hub" / "card_templates" / "official_glamor_net.md"
)


class OfficialWeightsError(CheckpointError):
    """The authors' checkpoint could not be downloaded, was not the pinned bytes, or did not
    convert; or the converted copy in the cache is damaged. The message names the file, and
    nothing is cached."""


@dataclass(frozen=True)
class OfficialCheckpoint:
    """Where a checkpoint of the authors lives, what its files hash to, and the zoo tag it is.

    Attributes:
        name: Short name, the start of its cache folder's name (``"glamor-net"``).
        tag: The zoo's pretrained tag it provides (``"glamor_original.ncaer_s"``).
        architecture: The zoo architecture it converts into.
        repository: ``owner/name`` on GitHub.
        commit: The pinned commit (40 hex digits).
        folder: The checkpoint's folder in the repository.
        files: The files to fetch, the ``.index`` first, with their pinned hashes.
        licence: The weights' licence (SPDX id).
        base_url: The folder URL to download from (default: GitHub's raw files at ``commit``).
    """

    name: str
    tag: str
    architecture: str
    repository: str
    commit: str
    folder: str
    files: tuple[PinnedFile, ...]
    licence: str = "MIT"
    base_url: str | None = None

    def __post_init__(self) -> None:
        if not self.files or not self.files[0].name.endswith(".index"):
            raise ValueError(f"{self.name}: the first pinned file must be the checkpoint's .index")

    @property
    def prefix(self) -> str:
        """The checkpoint prefix (``Model`` for ``Model.index``)."""
        return self.files[0].name.removesuffix(".index")

    @property
    def url(self) -> str:
        """The folder URL the files are downloaded from when no mirror is set."""
        if self.base_url:
            return self.base_url.rstrip("/")
        return f"https://raw.githubusercontent.com/{self.repository}/{self.commit}/{self.folder}"

    @property
    def browse_url(self) -> str:
        """The folder at the pinned commit, as a web page."""
        return f"https://github.com/{self.repository}/tree/{self.commit}/{self.folder}"

    @property
    def cache_name(self) -> str:
        """The converted folder's name in the cache."""
        return f"{self.name}-{self.commit[:12]}-v{CONVERSION_VERSION}"


GLAMOR_NET = OfficialCheckpoint(
    name="glamor-net",
    tag="glamor_original.ncaer_s",
    architecture="glamor_original",
    repository="minhnhatvt/glamor-net",
    commit="c12e1b97aa7354df126795f19402303a00166ec3",
    folder="weights/glamor-net",
    files=(
        PinnedFile(
            "Model.index",
            sha256="650936d25a8928cc8af02d8e15250831a769f9cb7f49766628560158cd55b19d",
            size=5408,
        ),
        PinnedFile(
            "Model.data-00000-of-00002",
            sha256="1343522a85305a84b29e6492f09bff8d89b0b0fd2dd5381eaaf172425e6d0c2e",
            size=12865,
        ),
        # Known from the repository's git tree only: its blob id pins size and content; the
        # index pins every tensor in it by CRC-32C.
        PinnedFile(
            "Model.data-00001-of-00002", git_blob="4d8ef22f1065c39bfb28267fa2e16477d5bccb3f"
        ),
    ),
)

# The pretrained tags whose weights are the authors' checkpoint, converted on first load.
OFFICIAL_TAGS: dict[str, OfficialCheckpoint] = {GLAMOR_NET.tag: GLAMOR_NET}


def official_cache_root(cache_dir: str | Path | None = None) -> Path:
    """The folder holding converted official checkpoints: ``cache_dir`` if given, else
    ``<torch.hub.get_dir()>/glamor_zoo`` (``$TORCH_HOME/hub/glamor_zoo``)."""
    if cache_dir is not None:
        return Path(cache_dir)
    import torch.hub

    return Path(torch.hub.get_dir()) / "glamor_zoo"


def cached_official_folder(
    source: OfficialCheckpoint = GLAMOR_NET, cache_dir: str | Path | None = None
) -> Path:
    """Where the converted ``source`` is (or will be) cached."""
    return official_cache_root(cache_dir) / source.cache_name


def _mirror_url(mirror: str | None) -> str | None:
    mirror = mirror if mirror is not None else os.environ.get(TF_MIRROR_ENV) or None
    if mirror is None:
        return None
    if "://" not in mirror:  # a local folder
        return Path(mirror).expanduser().resolve().as_uri()
    return mirror.rstrip("/")


def _offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _how_to_fetch(source: OfficialCheckpoint, folder: Path) -> str:
    names = ", ".join(f.name for f in source.files)
    return (
        f"To install it by hand, download {names} from {source.browse_url} into a folder "
        f"DIR (on any machine with a network), then either set {TF_MIRROR_ENV}=DIR (the files are verified, converted and "
        f"cached in {folder} on the next load), or run `glamor-zoo convert-tf DIR/{source.prefix} "
        "OUT` and load 'local-dir:OUT'"
    )


def _complete(folder: Path) -> bool:
    return (folder / CONFIG_NAME).is_file() and (folder / WEIGHTS_NAME).is_file()


def _check_cached(folder: Path) -> None:
    """Raise unless the cached weights still hash to what their conversion recorded."""
    config_path, weights = folder / CONFIG_NAME, folder / WEIGHTS_NAME
    try:
        expected = json.loads(config_path.read_text(encoding="utf-8"))[DIGEST_KEY]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise OfficialWeightsError(
            config_path,
            f"the cached conversion's config.json is unreadable ({exc}); delete {folder} and "
            "load again",
        ) from exc
    actual = file_sha256(weights)
    if actual != expected:
        raise OfficialWeightsError(
            weights,
            f"sha256 {actual}, but its conversion recorded {expected}: the cached file was "
            f"damaged or replaced; delete {folder} and load again",
        )


def _download(
    source: OfficialCheckpoint, base: str, into: Path, folder: Path, timeout: float
) -> list[dict[str, Any]]:
    """Every pinned file of ``source`` from ``base`` into ``into``, verified (``folder``: the
    cache folder, for the message of a failed download)."""
    from glamor_zoo import __version__

    records = []
    for pinned in source.files:
        url = f"{base}/{pinned.name}"
        try:
            hashes = download_pinned(
                url, into / pinned.name, pinned, timeout, user_agent=f"glamor-zoo/{__version__}"
            )
        except IntegrityError as exc:
            raise OfficialWeightsError(
                url,
                f"{exc.kind} {exc.actual}, but the pinned {exc.kind} of {pinned.name} "
                f"({source.repository} at commit {source.commit[:12]}) is {exc.expected}: these "
                "are not the authors' bytes (a wrong mirror, or damaged on the way); nothing "
                "was cached",
            ) from exc
        except DownloadError as exc:
            reason = str(exc).removeprefix(f"{url}: ")
            raise OfficialWeightsError(
                url,
                f"{reason}; nothing was cached (load again to retry). "
                f"{_how_to_fetch(source, folder)}",
            ) from exc
        records.append({"name": pinned.name, "url": url, **hashes})
    return records


def _convert(
    source: OfficialCheckpoint, files: Path, out: Path, base: str, records: list[dict[str, Any]]
) -> None:
    """Convert the verified files into the model folder ``out`` (provenance in config.json)."""
    from glamor_zoo.convert.glamor_tf import convert_tf_checkpoint
    from glamor_zoo.convert.tensor_bundle import TFCheckpointError
    from glamor_zoo.models._factory import HUB_ORG

    provenance: dict[str, Any] = {
        "repository": f"https://github.com/{source.repository}",
        "commit": source.commit,
        "folder": source.folder,
        "licence": source.licence,
        "downloaded_from": base,
        "files": records,
        "conversion_version": CONVERSION_VERSION,
    }
    try:
        convert_tf_checkpoint(
            files / source.prefix,
            out,
            model_name=source.architecture,
            hub_id=f"{HUB_ORG}/{source.tag}",
            source=provenance,
            card_template=CARD_TEMPLATE,
        )
    except TFCheckpointError as exc:
        raise OfficialWeightsError(
            exc.path or files, f"{exc}; the checkpoint does not convert, nothing was cached"
        ) from exc
    config_path = out / CONFIG_NAME
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config[DIGEST_KEY] = file_sha256(out / WEIGHTS_NAME)
    atomic_write_text(config_path, json.dumps(config, indent=2) + "\n")


def ensure_official_weights(
    source: OfficialCheckpoint = GLAMOR_NET,
    cache_dir: str | Path | None = None,
    mirror: str | None = None,
    timeout: float = 30.0,
) -> Path:
    """The converted model folder of ``source``, downloading and converting it the first time.

    Args:
        source: The checkpoint and its pinned hashes (default: the authors' GLAMOR-Net).
        cache_dir: The cache folder (default: :func:`official_cache_root`).
        mirror: A folder URL (or local folder) serving the same files (default:
            ``$GLAMOR_ZOO_TF_MIRROR``, else the authors' repository at the pinned commit).
        timeout: Seconds without progress before a download gives up.

    Returns:
        The folder; it loads with ``create_model("local-dir:<folder>")``.

    Raises:
        OfficialWeightsError: offline with an empty cache, a failed download, bytes other than
            the pinned ones, a checkpoint that does not convert, or a damaged cached copy.
    """
    folder = cached_official_folder(source, cache_dir)
    if _complete(folder):
        _check_cached(folder)
        return folder
    base = _mirror_url(mirror) or source.url
    if _offline() and not base.startswith("file:"):
        raise OfficialWeightsError(
            folder,
            f"no converted copy of the authors' checkpoint for {source.tag!r} is cached here, "
            f"and HF_HUB_OFFLINE is set, so it is not downloaded. {_how_to_fetch(source, folder)}",
        )
    folder.parent.mkdir(parents=True, exist_ok=True)
    lock = folder.parent / f".{folder.name}.lock"
    with file_lock(lock, waiting=f"waiting for another process converting into {folder}"):
        if _complete(folder):  # made by the process we waited for
            _check_cached(folder)
            return folder
        for stale in folder.parent.glob(f".{folder.name}.*.tmp"):  # left by a killed process
            shutil.rmtree(stale, ignore_errors=True)
        if folder.exists():  # incomplete: not written by this code (renames are atomic)
            _logger.warning("removing the incomplete cache folder %s", folder)
            shutil.rmtree(folder)
        staging = Path(
            tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent)
        )
        try:
            start = time.perf_counter()
            _logger.info(
                "fetching the authors' checkpoint for %s from %s (commit %s)",
                source.tag,
                base,
                source.commit[:12],
            )
            (staging / "files").mkdir()
            records = _download(source, base, staging / "files", folder, timeout)
            _convert(source, staging / "files", staging / "model", base, records)
            os.replace(staging / "model", folder)
            _logger.info(
                "verified, converted and cached %s in %s (%.1f s)",
                source.tag,
                folder,
                time.perf_counter() - start,
            )
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return folder
