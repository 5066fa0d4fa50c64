"""``predict`` shared by processes, as users launch it: 2 CPU processes under ``accelerate
launch``, every input exactly once in the merged results; one worker SIGKILLed mid-run, and the
same command in one process finishing only what is missing. One progress bar counts all.

Each launch costs two interpreter start-ups (about 15 s on two quiet cores, minutes on busy
ones); the time limits are generous.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from predict_spy import record_predicted_sources
from test_train_multiprocess import ACCELERATE_2CPU as ACCELERATE_LAUNCH_2CPU

from glamor_zoo.inference.journal import JOURNAL_NAME, PARTS_NAME, part_journal
from glamor_zoo.inference.processes import Processes
from glamor_zoo.inference.progress import JobProgress
from glamor_zoo_cli import main

REPO = Path(__file__).resolve().parents[1]
ACCELERATE_2CPU = [*ACCELERATE_LAUNCH_2CPU, "-m", "glamor_zoo"]

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="multi-process CPU runs are tested on Linux"
)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved tiny face-only model: every process loads the same weights."""
    import torch

    import glamor_zoo
    from glamor_zoo.serialization import save_pretrained

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("m") / "deep_emotion_no_stn"
    return save_pretrained(glamor_zoo.create_model("deep_emotion_no_stn"), folder)


def _faces(folder: Path, count: int) -> list[Path]:
    """``count`` small grey faces of different shades, named in input order."""
    folder.mkdir(parents=True)
    paths = []
    for i in range(count):
        path = folder / f"face_{i:04d}.png"
        Image.new("RGB", (48, 48), (i % 256,) * 3).save(path)
        paths.append(path)
    return paths


def _env(marker: str) -> dict[str, str]:
    return {
        **os.environ,
        "ACCELERATE_USE_CPU": "1",
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "GLAMOR_TEST_JOB": marker,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }


def _opts(model_dir: Path) -> list[str]:
    return ["--model", f"local-dir:{model_dir}", "--detector", "none", "--no-fast", "--no-progress"]


def _records(out: Path) -> list[dict]:
    return json.loads((out / "predictions.json").read_text())


def test_two_processes_merge_every_input_once(model_dir: Path, tmp_path: Path) -> None:
    faces = _faces(tmp_path / "in", 7)
    out = tmp_path / "out"
    argv = [*ACCELERATE_2CPU, "predict", str(tmp_path / "in"), "-o", str(out), *_opts(model_dir)]
    done = subprocess.run(
        argv, env=_env(str(tmp_path)), capture_output=True, text=True, timeout=1200, cwd=REPO
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr.count("glamor-zoo predict: model") == 1  # the main process speaks
    assert "2 processes" in done.stderr
    records = _records(out)
    assert [r["input"] for r in records] == [str(p) for p in faces]
    assert all(len(r["faces"]) == 1 and r["error"] is None for r in records)
    assert len((out / JOURNAL_NAME).read_text().splitlines()) == 7
    assert not (out / PARTS_NAME).exists()


def _worker(marker: str, rank: int) -> int | None:
    """The pid of the launched worker of ``rank`` (its environment carries ``marker``)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            env = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"GLAMOR_TEST_JOB={marker}".encode() in env and f"RANK={rank}".encode() in env:
            return int(entry.name)
    return None


def test_sigkilled_worker_resumes_with_another_number_of_processes(
    model_dir: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    faces = _faces(tmp_path / "in", 600)
    out = tmp_path / "out"
    opts = [*_opts(model_dir), "--batch-size", "1"]  # slow enough to be killed mid-run
    argv = ["predict", str(tmp_path / "in"), "-o", str(out), *opts]
    marker = str(tmp_path)
    launcher = subprocess.Popen(
        [*ACCELERATE_2CPU, *argv],
        env=_env(marker),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
    )
    journal_1 = part_journal(out, 1)
    deadline = time.monotonic() + 1200
    while not (journal_1.exists() and journal_1.read_text().count("\n") >= 1):
        assert launcher.poll() is None, launcher.stdout.read()
        assert time.monotonic() < deadline, "rank 1 never finished an input"
        time.sleep(0.01)
    pid = _worker(marker, 1)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    launcher.communicate(timeout=300)
    assert launcher.returncode != 0
    assert not (out / "predictions.json").exists()
    finished = sum(
        len([line for line in path.read_text().splitlines() if line.endswith("}")])
        for path in (out / PARTS_NAME).glob("predictions.*.jsonl")
    )
    assert 0 < finished < len(faces)

    seen = record_predicted_sources(monkeypatch)
    assert main(argv) == 0  # the same command in one process
    err = capsys.readouterr().err
    kept = len(faces) - len(seen)
    assert f"resuming in {out}: {kept} finished inputs kept" in err
    assert kept >= finished - 2  # at most a torn line per killed process is lost
    records = _records(out)
    assert [r["input"] for r in records] == [str(p) for p in faces]
    assert len({r["input"] for r in records}) == len(faces)
    assert len((out / JOURNAL_NAME).read_text().splitlines()) == len(faces)


def test_one_progress_bar_counts_every_process(tmp_path: Path) -> None:
    main_process = Processes(rank=0, world_size=2)
    other = Processes(rank=1, world_size=2)
    worker = JobProgress(tmp_path, other, total=10, enabled=False)
    worker.advance(3)
    worker.close()
    bar = JobProgress(tmp_path, main_process, total=10, initial=2, enabled=False)
    bar.advance(4)
    bar.close()
    assert bar.done() == 2 + 4 + 3
    bar.finish()
