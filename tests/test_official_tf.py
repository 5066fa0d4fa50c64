"""The official TensorFlow 2 model (tools/tf_official.py, used by benchmarks/bench_vs_tf.py) is
the official computation.

tools/tf_official.py rebuilds the authors' model.py; here it loads the checkpoint the
official code wrote and must reproduce the outputs recorded with it. TensorFlow is not a
dependency of the zoo: the test runs when GLAMOR_ZOO_TF_PYTHON (or ~/tfvenv/bin/python) names a
Python with TensorFlow, and is skipped otherwise (as in CI).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "tf_official_tiny"
TF_PYTHON = Path(os.environ.get("GLAMOR_ZOO_TF_PYTHON", Path.home() / "tfvenv" / "bin" / "python"))


@pytest.mark.skipif(
    not TF_PYTHON.is_file(),
    reason=f"no Python with TensorFlow at {TF_PYTHON} (GLAMOR_ZOO_TF_PYTHON)",
)
def test_official_port_reproduces_the_official_outputs() -> None:
    result = subprocess.run(
        [str(TF_PYTHON), str(ROOT / "tools" / "tf_official.py"), "--verify", str(FIXTURE)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["variables"] == 80  # every variable of the official checkpoint
    for output in ("scores", "face_map", "context_map"):
        assert report[output] < 1e-5, report
