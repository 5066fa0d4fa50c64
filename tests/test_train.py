"""Training loop: config, schedule, checkpoints, exact resume after SIGKILL, 2-process DDP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch.utils.data import Dataset

from glamor_zoo.train.checkpoint import (
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from glamor_zoo.train.config import ConfigError, load_config
from glamor_zoo.train.schedule import lr_at_epoch

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent


class TinyEmotionDataset(Dataset):
    """Synthetic samples in the datasets' format; augmentation noise seeded per (seed, epoch, index)."""

    classes = ("Anger", "Happy", "Sad")

    def __init__(
        self,
        root: str,
        split: str = "train",
        preprocess_cfg: dict | None = None,
        train: bool = False,
        seed: int = 0,
        size: int = 24,
        delay: float = 0.0,
        classes: list[str] | None = None,
    ) -> None:
        self.split, self.train, self.seed, self.delay = split, train, seed, delay
        self.inputs = (preprocess_cfg or {}).get("inputs", "both")
        self.n = size if split == "train" else size // 2
        self.targets = [i % len(self.classes) for i in range(self.n)]
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> dict:
        if self.delay:
            time.sleep(self.delay)
        label = self.targets[index]
        base = torch.Generator().manual_seed(1000 * (self.split == "train") + index)
        face = torch.rand(3, 32, 32, generator=base) * 0.5
        face[label] += 0.5
        if self.train:
            aug = torch.Generator().manual_seed(self.seed * 7919 + self.epoch * 104729 + index)
            face = face + 0.05 * torch.randn(face.shape, generator=aug)
        sample = {"face": face, "label": label, "path": f"{self.split}/{index}.png"}
        if self.inputs != "face":
            context = torch.rand(3, 32, 32, generator=base)
            context[(label + 1) % 3] += 0.3
            sample["context"] = context
        return sample


def tiny_dataset(root: str, **kwargs) -> TinyEmotionDataset:
    return TinyEmotionDataset(root, **kwargs)


def _recipe(tmp_path: Path, **run: object) -> Path:
    text = f"""
name: tiny
model: {{name: glamor_test, args: {{face_size: [32, 32], context_size: [32, 32]}}}}
data: {{kind: "test_train:tiny_dataset", root: "{tmp_path}", val_split: val, test_split: null}}
optim: {{lr: 0.05, milestones: [2], min_lr: 0.001}}
run: {{output_dir: "{tmp_path / "run"}", epochs: 3, batch_size: 4, log_with: [], progress: false,
      checkpoint_every: 2, keep_last: 2, seed: 3}}
"""
    path = tmp_path / "tiny.yaml"
    path.write_text(text)
    return path


@pytest.fixture(autouse=True)
def _importable_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(TESTS))


def test_lr_schedule_is_the_papers() -> None:
    lr = [lr_at_epoch(e, 5e-4, [25, 40], 0.1, 1e-5) for e in range(60)]
    assert lr[0] == lr[24] == 5e-4
    assert lr[25] == pytest.approx(5e-5) and lr[39] == pytest.approx(5e-5)
    assert lr[40] == lr[59] == 1e-5


def test_config_overrides_and_errors(tmp_path: Path) -> None:
    recipe = _recipe(tmp_path)
    config = load_config(
        recipe,
        [
            "optim.lr=0.1",
            "run.epochs=5",
            "stages.face.epochs=1",
            "stages.face.model_args={inputs: face}",
        ],
    )
    assert config.optim.lr == 0.1 and config.run.epochs == 5
    assert config.stages["face"].epochs == 1 and config.stages["face"].model_args == {
        "inputs": "face"
    }
    with pytest.raises(ConfigError, match=r"optim\.lrr"):
        load_config(recipe, ["optim.lrr=1"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config(recipe, ["optim.lr"])
    with pytest.raises(ConfigError, match="not an earlier stage"):
        load_config(recipe, ["stages.joint.init_from={face: [face_encoder]}"])
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")


def test_checkpoint_roundtrip_and_atomic_leftovers(tmp_path: Path) -> None:
    model = torch.nn.Linear(3, 2)
    optim = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(1, 3)).sum().backward()
    optim.step()
    (tmp_path / ".tmp-step-00000009-dead").mkdir()  # what a kill during a save leaves behind
    path = save_checkpoint(tmp_path, 7, model.state_dict(), optim.state_dict(), {"epoch": 1})
    assert latest_checkpoint(tmp_path) == path and list_checkpoints(tmp_path) == [path]
    weights, optim_state, state = load_checkpoint(path)
    assert state["epoch"] == 1 and state["global_step"] == 7
    assert torch.equal(weights["weight"], model.weight)
    fresh = torch.optim.SGD(torch.nn.Linear(3, 2).parameters(), lr=0.5, momentum=0.9)
    fresh.load_state_dict(optim_state)
    assert torch.equal(
        fresh.state_dict()["state"][0]["momentum_buffer"],
        optim.state_dict()["state"][0]["momentum_buffer"],
    )
    assert fresh.param_groups[0]["lr"] == 0.1


def _final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(
        str(
            run_dir
            / "stages"
            / "main"
            / "checkpoints"
            / latest_checkpoint(run_dir / "stages" / "main" / "checkpoints").name
            / "model.safetensors"
        )
    )


def test_train_in_process_writes_run_dir(tmp_path: Path) -> None:
    from glamor_zoo.train import train

    config = load_config(_recipe(tmp_path), ["run.epochs=2"])
    result = train(config)
    run = result.run_dir
    assert (run / "config.yaml").is_file() and (run / "plots" / "curves.png").is_file()
    metrics = json.loads((run / "metrics.json").read_text())
    history = metrics["stages"]["main"]["history"]
    assert [h["epoch"] for h in history] == [0, 1] and all("val_acc" in h for h in history)
    assert metrics["final"]["val"]["num_samples"] == 12
    for name in (
        "metrics.json",
        "confusion_matrix.json",
        "confusion_matrix.png",
        "predictions.csv",
    ):
        assert (run / "eval" / "val" / name).is_file()
    assert len(list_checkpoints(run / "stages" / "main" / "checkpoints")) <= 2
    assert (run / "stages" / "main" / "best" / "model.safetensors").is_file()
    import glamor_zoo

    model = glamor_zoo.create_model(f"local-dir:{result.model_dir}")
    assert model.pretrained_cfg["label_names"] == list(TinyEmotionDataset.classes)
    with pytest.raises(ConfigError, match="already holds a run"):
        train(config)


def _launch(recipe: Path, *extra: str, env: dict | None = None) -> subprocess.Popen:
    environ = {
        **os.environ,
        "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "OMP_NUM_THREADS": "1",
        **(env or {}),
    }
    return subprocess.Popen(
        [sys.executable, str(REPO / "recipes" / "train.py"), "--config", str(recipe), *extra],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_resume_after_sigkill_is_bit_identical(tmp_path: Path) -> None:
    recipe = _recipe(tmp_path)
    common = [
        "run.epochs=2",
        "data.args={delay: 0.03}",
        "run.checkpoint_every=1",
        "run.keep_last=3",
    ]
    # The uninterrupted reference and the run to kill go side by side (two cores).
    reference = _launch(recipe, *common, "run.output_dir=" + str(tmp_path / "ref"))
    killed_dir = tmp_path / "killed"
    victim = _launch(recipe, *common, "run.output_dir=" + str(killed_dir))
    ckpts = killed_dir / "stages" / "main" / "checkpoints"
    deadline = time.time() + 240
    while time.time() < deadline and not any(
        p.name >= "step-00000008" for p in list_checkpoints(ckpts)
    ):
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL
    assert not (killed_dir / "model").exists(), "the run finished before the kill"
    step = int(latest_checkpoint(ckpts).name.split("-")[1])
    assert step < 12  # 2 epochs × 6 steps: killed mid-run
    # The wall time so far is on disk (written with every checkpoint), and so are the loop's
    # partial-epoch sums of each process (one process here).
    killed_wall = json.loads((killed_dir / "metrics.json").read_text())["wall_time_s"]
    saved = json.loads((latest_checkpoint(ckpts) / "state.json").read_text())
    assert len(saved["rank_totals"]) == 1
    out, _ = reference.communicate(timeout=300)
    assert reference.returncode == 0, out

    resumed = _launch(recipe, *common, "run.output_dir=" + str(killed_dir), "--resume")
    out, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, out
    assert "resumed from step-" in out
    ref, got = _final_weights(tmp_path / "ref"), _final_weights(killed_dir)
    assert ref.keys() == got.keys()
    for key in ref:
        assert torch.equal(ref[key], got[key]), key
    ref_hist = json.loads((tmp_path / "ref" / "metrics.json").read_text())["stages"]["main"][
        "history"
    ]
    got_metrics = json.loads((killed_dir / "metrics.json").read_text())
    wall_clock = ("elapsed_s",)  # the only entries a resume may change

    def steady(history: list[dict]) -> list[dict]:
        return [{k: v for k, v in h.items() if k not in wall_clock} for h in history]

    assert steady(ref_hist) == steady(got_metrics["stages"]["main"]["history"])
    assert got_metrics["wall_time_s"] > killed_wall > 0  # both invocations counted


def test_two_process_ddp_on_cpu(tmp_path: Path) -> None:
    recipe = _recipe(tmp_path)
    env = {
        **os.environ,
        "ACCELERATE_USE_CPU": "1",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            str(REPO / "recipes" / "train.py"),
            "--config",
            str(recipe),
            "run.epochs=1",
            "run.mixed_precision=bf16",
            "run.grad_accum_steps=2",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 process(es)" in out.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    # 24 images, 4 per process per batch, 2 processes: 3 batches each; accumulating 2 batches
    # per optimiser step (the epoch's last batch steps too) gives 2 steps. All 12 val images count.
    assert metrics["stages"]["main"]["global_step"] == 2
    assert metrics["final"]["val"]["num_samples"] == 12
    assert "mixed precision bf16" in out.stderr
    from safetensors.torch import load_file

    final = load_file(str(tmp_path / "run" / "model" / "model.safetensors"))
    assert all(torch.isfinite(t).all() for t in final.values())


def test_push_to_hub_at_the_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hub_server import HubServer
    from huggingface_hub import constants

    from glamor_zoo.train import train

    with HubServer(token="hf_test_token") as server:
        monkeypatch.setattr(constants, "ENDPOINT", server.endpoint)
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf_cache"))
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setenv("HF_TOKEN", "hf_test_token")
        config = load_config(_recipe(tmp_path), ["run.epochs=1", "data.name=fer2013"])
        result = train(
            config, push_to_hub="glamor-zoo/tiny-run", command="glamor-zoo train -c tiny.yaml"
        )
        commits = server.commits("glamor-zoo/tiny-run")
        files = commits[0].files
    assert commits[0].message.startswith("Upload")
    assert {"model.safetensors", "config.json", "README.md"} <= set(files)
    card = files["README.md"].decode()
    top1 = result.metrics["final"]["val"]["top1"]
    assert f"{top1:.2f}" in card and "glamor-zoo train -c tiny.yaml" in card


def test_each_process_resumes_its_own_partial_epoch_sums() -> None:
    from glamor_zoo.train.trainer import _own_totals

    saved = {"loss_sum": 9.0, "correct": 5, "count": 8, "rank_totals": [[6.0, 3, 4], [3.0, 2, 4]]}
    assert _own_totals(saved, 1, 2) == {"loss_sum": 3.0, "correct": 2, "count": 4}
    assert _own_totals(saved, 0, 2) == {"loss_sum": 6.0, "correct": 3, "count": 4}
    # Another number of processes: the main process carries the run's sums.
    assert _own_totals(saved, 0, 3) == {"loss_sum": 9.0, "correct": 5, "count": 8}
    assert _own_totals(saved, 2, 3) == {"loss_sum": 0.0, "correct": 0, "count": 0}
    old = {"loss_sum": 9.0, "correct": 5, "count": 8}  # a checkpoint from before rank_totals
    assert _own_totals(old, 0, 1) == {"loss_sum": 9.0, "correct": 5, "count": 8}
    assert _own_totals(old, 1, 2) == {"loss_sum": 0.0, "correct": 0, "count": 0}


def test_the_launcher_command_is_recorded_with_its_flags(tmp_path: Path) -> None:
    from glamor_zoo.train.launch import launcher_command

    fake = tmp_path / "accelerate"  # stands in for the accelerate console script
    fake.write_text("import time\ntime.sleep(60)\n")
    argv = ["--config", "tiny.yaml", "run.epochs=1"]
    flags = ["launch", "--multi_gpu", "--num_processes", "2", "recipes/train.py"]
    env = {"PATH": os.environ.get("PATH", ""), "ACCELERATE_USE_CPU": "1"}
    launcher = subprocess.Popen([sys.executable, str(fake), *flags, *argv], env=env)
    try:
        deadline = time.time() + 30
        while time.time() < deadline and launcher_command(launcher.pid, argv) is None:
            time.sleep(0.05)
        assert launcher_command(launcher.pid, argv) == (
            "ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 "
            "recipes/train.py --config tiny.yaml run.epochs=1"
        )
        assert launcher_command(launcher.pid, ["--config", "other.yaml"]) is None
    finally:
        launcher.kill()
        launcher.wait()
    assert launcher_command(os.getpid(), argv) is None  # pytest is no launcher
