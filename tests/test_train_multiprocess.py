"""Multi-process training as users run it: 2 CPU processes under ``accelerate launch`` and
``torchrun``, shipped recipes with their default tracker (tensorboard), a k-fold recipe over two
folds, ``--push-to-hub``; and workers that exit when the launcher is killed.

Every run is tiny (synthetic CK+-like faces, one epoch); each costs two interpreter start-ups
(about 15 s on two quiet cores). The time limits are generous for busy machines.
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
from test_train import _write_ck

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
TRAIN = REPO / "recipes" / "train.py"
ACCELERATE_2CPU = [
    str(BIN / "accelerate"),
    "launch",
    "--multi_gpu",
    "--num_processes",
    "2",
    "--num_machines",
    "1",
    "--mixed_precision",
    "no",
    "--dynamo_backend",
    "no",
    "--main_process_port",
    "0",
]
TORCHRUN_2CPU = [str(BIN / "torchrun"), "--standalone", "--nproc_per_node", "2"]
TINY = ["run.epochs=1", "run.batch_size=4", "run.progress=false", "data.num_workers=0"]

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="multi-process CPU runs are tested on Linux"
)


def _env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "ACCELERATE_USE_CPU": "1",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(TESTS), str(REPO), os.environ.get("PYTHONPATH", "")]),
        **extra,
    }


def _run(command: list[str], env: dict[str, str], timeout: int = 900) -> str:
    out = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO
    )
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    return log


def _tensorboard_writers(run_dir: Path) -> set[str]:
    """The processes that wrote tensorboard event files (events.out.tfevents.<t>.<host>.<pid>.<n>;
    the hyper-parameters go to a file of their own)."""
    files = list((run_dir / "logs").rglob("events.out.tfevents.*"))
    assert files, f"no tensorboard logs under {run_dir}"
    return {path.name.split(".")[-2] for path in files}


def test_kfold_recipe_under_accelerate_launch_is_data_parallel(tmp_path: Path) -> None:
    """recipes/deep_emotion_ckplus.yaml (tensorboard), folds 0 and 1, 2 processes."""
    root = _write_ck(tmp_path / "ck")  # 9 subjects × 2 classes × 2 frames
    out = tmp_path / "cv"
    log = _run(
        [
            *ACCELERATE_2CPU,
            str(TRAIN),
            "--config",
            str(REPO / "recipes" / "deep_emotion_ckplus.yaml"),
            f"data.root={root}",
            "data.args.num_folds=3",
            "data.folds=[0, 1]",
            f"run.output_dir={out}",
            *TINY,
        ],
        _env(),
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["completed_folds"] == 2
    assert summary["command"].startswith(
        "ACCELERATE_USE_CPU=1 OMP_NUM_THREADS=1 accelerate launch --multi_gpu --num_processes 2"
    )
    for fold in (0, 1):
        metrics = json.loads((out / f"fold_{fold}" / "metrics.json").read_text())
        (record,) = metrics["stages"]["main"]["history"]
        # 24 training faces, 4 per process per step, 2 processes: 3 steps, all 24 in the metrics.
        assert metrics["stages"]["main"]["global_step"] == 3
        assert record["train_samples"] == 24
        assert metrics["final"]["test"]["num_samples"] == 12
        assert len(_tensorboard_writers(out / f"fold_{fold}")) == 1
        assert log.count(f"fold {fold}: top-1") == 1  # logged once, by the main process
    assert log.count("2 process(es)") == 2  # one line per fold


def test_recipe_under_torchrun_with_tensorboard_and_push_to_hub(tmp_path: Path) -> None:
    """recipes/glamor_face_only_ckplus48.yaml (tensorboard, bf16), 2 processes, then a push."""
    from hub_server import HubServer

    root = _write_ck(tmp_path / "ck")
    out = tmp_path / "run"
    with HubServer(token="hf_test_token") as server:
        env = _env(
            HF_ENDPOINT=server.endpoint,
            HF_TOKEN="hf_test_token",
            HF_HUB_OFFLINE="0",
            HF_HOME=str(tmp_path / "hf"),
        )
        log = _run(
            [
                *TORCHRUN_2CPU,
                str(TRAIN),
                "--config",
                str(REPO / "recipes" / "glamor_face_only_ckplus48.yaml"),
                "--push-to-hub",
                "glamor-zoo/tiny-ddp",
                f"data.root={root}",
                "data.args.num_folds=3",
                f"run.output_dir={out}",
                *TINY,
            ],
            env,
        )
        commits = server.commits("glamor-zoo/tiny-ddp")
    assert len(commits) == 2  # the repository's creation, then the push
    assert {"model.safetensors", "config.json", "README.md"} <= set(commits[0].files)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stages"]["main"]["global_step"] == 3
    assert metrics["stages"]["main"]["history"][0]["train_samples"] == 24
    assert metrics["command"].startswith(
        "ACCELERATE_USE_CPU=1 OMP_NUM_THREADS=1 torchrun --standalone --nproc_per_node 2"
    )
    assert len(_tensorboard_writers(out)) == 1
    assert log.count("epoch 1/1:") == 1 and log.count("2 process(es)") == 1


def _children(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("launcher", ["accelerate", "torchrun"])
def test_workers_exit_when_the_launcher_is_killed(tmp_path: Path, launcher: str) -> None:
    out = tmp_path / "run"
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(
        f"""
name: tiny
model: {{name: glamor_test, args: {{face_size: [32, 32], context_size: [32, 32]}}}}
data: {{kind: "test_train:tiny_dataset", root: "{tmp_path}", val_split: val, test_split: null,
       args: {{delay: 0.2}}}}
run: {{output_dir: "{out}", epochs: 5, batch_size: 2, progress: false, checkpoint_every: 1}}
"""
    )
    prefix = ACCELERATE_2CPU if launcher == "accelerate" else TORCHRUN_2CPU
    proc = subprocess.Popen(
        [*prefix, str(TRAIN), "--config", str(recipe)],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    workers: list[int] = []
    try:
        deadline = time.time() + 900  # generous: start-up is slow on a busy machine
        while time.time() < deadline and not list((out / "stages").rglob("step-*")):
            assert proc.poll() is None, "the run ended before it could be killed"
            time.sleep(0.2)
        workers = _children(proc.pid)
        assert len(workers) == 2, workers
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.time() + 10
        while time.time() < deadline and any(_alive(pid) for pid in workers):
            time.sleep(0.1)
        assert not [pid for pid in workers if _alive(pid)], "workers outlived the launcher by 10 s"
    finally:
        proc.kill()
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
