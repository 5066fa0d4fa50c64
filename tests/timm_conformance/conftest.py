"""Run timm's own per-model tests (``test_models.py``, vendored verbatim) on the zoo's models.

``test_models.py`` builds its parameter lists from ``timm.list_models`` / ``timm.list_pretrained``
when it is imported. While pytest imports it, this conftest makes both return the zoo's models
only; afterwards it deselects the tests that name timm's own models (``test_gcvit_*``…) and skips
the (test, model) pairs listed in :data:`EXCLUDED`, each with its reason. Nothing else is changed:
a zoo model that fails a vendored test fails the suite.

The tests are those of one timm release (:data:`VENDORED_TIMM_VERSION`); with another timm
installed, loading this conftest fails and says what to do.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import timm

import glamor_zoo

VENDORED_TIMM_VERSION = "1.0.31"
VENDORED_TESTS = Path(__file__).resolve().parent / "test_models.py"

_TWO_INPUTS = (
    "two inputs (face, context); tests/test_timm_two_input.py runs this check with both inputs"
)
# (vendored test name, zoo model pattern) -> why the zoo model does not run that test.
EXCLUDED: dict[tuple[str, str], str] = {
    ("test_model_forward", "glamor*"): _TWO_INPUTS,
    ("test_model_forward", "caer_net_s*"): _TWO_INPUTS,
    ("test_model_backward", "glamor*"): _TWO_INPUTS,
    ("test_model_backward", "caer_net_s*"): _TWO_INPUTS,
    ("test_model_default_cfgs", "glamor*"): _TWO_INPUTS,
    ("test_model_default_cfgs", "caer_net_s*"): _TWO_INPUTS,
    ("test_model_forward_torchscript", "glamor*"): _TWO_INPUTS,
    ("test_model_forward_torchscript", "caer_net_s*"): _TWO_INPUTS,
    ("test_model_forward_features", "glamor*"): _TWO_INPUTS
    + " (features_only is refused with a clear error)",
    ("test_model_forward_features", "caer_net_s*"): _TWO_INPUTS
    + " (features_only is refused with a clear error)",
    ("test_model_forward_fx", "glamor*"): _TWO_INPUTS,
    ("test_model_forward_fx", "caer_net_s*"): _TWO_INPUTS,
    ("test_model_backward_fx", "glamor*"): _TWO_INPUTS,
    ("test_model_backward_fx", "caer_net_s*"): _TWO_INPUTS,
    ("test_model_forward_fx_torchscript", "glamor*"): _TWO_INPUTS,
    ("test_model_forward_fx_torchscript", "caer_net_s*"): _TWO_INPUTS,
    ("test_model_load_pretrained", "glamor*"): "weights on the Hugging Face Hub, which tests "
    "cannot reach (offline); tests/test_hub.py loads zoo models from a local Hub cache",
    ("test_model_load_pretrained", "caer_net_s*"): "weights on the Hugging Face Hub, which tests "
    "cannot reach (offline); tests/test_hub.py loads zoo models from a local Hub cache",
    ("test_model_features_pretrained", "glamor*"): _TWO_INPUTS
    + " (features_only is refused with a clear error)",
    ("test_model_features_pretrained", "caer_net_s*"): _TWO_INPUTS
    + " (features_only is refused with a clear error)",
}


def check_timm_version(installed: str) -> None:
    """Refuse to run the vendored tests against another timm than the one they come from."""
    if installed != VENDORED_TIMM_VERSION:
        raise RuntimeError(
            f"tests/timm_conformance/test_models.py is timm {VENDORED_TIMM_VERSION}'s; timm "
            f"{installed} is installed. Install the pinned dev timm (pip install -e '.[dev]' or "
            f"pip install timm=={VENDORED_TIMM_VERSION}), or vendor timm {installed}'s "
            "tests/test_models.py as tests/timm_conformance/README.md describes"
        )


check_timm_version(timm.__version__)


def _zoo_only(list_fn: Callable[..., list[str]]) -> Callable[..., list[str]]:
    def zoo_models(*args: Any, **kwargs: Any) -> list[str]:
        return [name for name in list_fn(*args, **kwargs) if glamor_zoo.is_zoo_model(name)]

    return zoo_models


_ORIGINAL_LISTS = {"list_models": timm.list_models, "list_pretrained": timm.list_pretrained}


def _is_vendored(path: Path | None) -> bool:
    return path is not None and Path(path).resolve() == VENDORED_TESTS


def pytest_configure(config: pytest.Config) -> None:
    for marker in (
        "base",
        "forward",
        "backward",
        "cfg",
        "cfg_nonstd",
        "torchscript",
        "features",
        "fxforward",
        "fxbackward",
    ):
        config.addinivalue_line("markers", f"{marker}: timm's test_models.py marker")
    config.addinivalue_line("markers", "timeout(seconds): timm's per-test limit (pytest-timeout)")


def pytest_collectstart(collector: pytest.Collector) -> None:
    if isinstance(collector, pytest.Module) and _is_vendored(collector.path):
        for name, fn in _ORIGINAL_LISTS.items():
            setattr(timm, name, _zoo_only(fn))


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.nodeid.endswith("timm_conformance/test_models.py"):
        for name, fn in _ORIGINAL_LISTS.items():
            setattr(timm, name, fn)


def _model_name(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    name = callspec.params.get("model_name") if callspec is not None else None
    return name if isinstance(name, str) else None


def _exclusion(test_name: str, model_name: str) -> str | None:
    for (test, pattern), reason in EXCLUDED.items():
        if test == test_name and fnmatch.fnmatch(model_name, pattern):
            return reason
    return None


def _vendored_items(items: list[pytest.Item]) -> Iterator[pytest.Item]:
    return (item for item in items if _is_vendored(getattr(item, "path", None)))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    not_zoo = [
        item
        for item in _vendored_items(items)
        if not glamor_zoo.is_zoo_model(_model_name(item) or "")
    ]
    if not_zoo:
        dropped = set(map(id, not_zoo))
        items[:] = [item for item in items if id(item) not in dropped]
        config.hook.pytest_deselected(items=not_zoo)
    for item in _vendored_items(items):
        reason = _exclusion(item.originalname, _model_name(item) or "")
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=f"excluded in conftest: {reason}"))
