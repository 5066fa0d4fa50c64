"""Library and tools apart: release tooling lives in tools/, benchmarks only measure and never
write into the package, and their results are tracked on purpose."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# A path into the package written in any of the usual ways.
_INTO_PACKAGE = re.compile(r"""glamor_zoo/weights|["']glamor_zoo["']\s*/|hub_cards""")


def test_benchmarks_never_write_into_the_package() -> None:
    for path in sorted((REPO / "benchmarks").glob("*.py")):
        found = _INTO_PACKAGE.search(path.read_text(encoding="utf-8"))
        assert found is None, f"{path.name} names a path in the package: {found.group(0)!r}"


def test_release_tooling_is_in_tools_not_in_the_package_or_benchmarks() -> None:
    for name in ("fer2013_weights.py", "fer2013_ensemble.py", "face_ensemble.py", "tf_official.py"):
        assert (REPO / "tools" / name).is_file(), name
        assert not (REPO / "benchmarks" / name).exists(), name
    assert not (REPO / "glamor_zoo" / "models" / "ensemble.py").exists()
    from glamor_zoo.components import encoders

    assert not hasattr(encoders, "FaceEnsembleEncoder")  # reached only from the tools


@pytest.mark.skipif(
    shutil.which("git") is None or not (REPO / ".git").exists(), reason="not a git checkout"
)
def test_benchmark_results_are_tracked_on_purpose() -> None:
    probe = "benchmarks/results/any_result.json"
    ignored = subprocess.run(["git", "check-ignore", "-q", probe], cwd=REPO, check=False)
    assert ignored.returncode == 1, f"{probe} is git-ignored: results are tracked on purpose"


def test_the_library_never_imports_the_command_line() -> None:
    """One CLI package, ``glamor_zoo_cli``, on top of the library: no module of glamor_zoo
    imports it (``python -m glamor_zoo``, the entry point, runs it), and its commands package
    imports only the standard library until a command runs."""
    import sys

    assert not (REPO / "glamor_zoo" / "cli").exists()
    into_cli = re.compile(r"^\s*(from|import)\s+glamor_zoo(_cli\b|\.cli\b)", re.MULTILINE)
    for path in sorted((REPO / "glamor_zoo").rglob("*.py")):
        if path.relative_to(REPO).as_posix() == "glamor_zoo/__main__.py":
            continue
        found = into_cli.search(path.read_text(encoding="utf-8"))
        assert found is None, f"{path.relative_to(REPO)} imports the CLI: {found.group(0)!r}"
    code = (
        "import sys, glamor_zoo_cli.commands; "
        "print(sorted(m for m in ('torch', 'glamor_zoo') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
