"""The trainer's generic features: config, schedules, checkpoints, exact resume after SIGKILL,
2-process DDP, the L2 loss term, the time budget and the k-fold driver."""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from safetensors.torch import load_file
from torch.utils.data import Dataset

import glamor_zoo
from glamor_zoo.train import trainer
from glamor_zoo.train.checkpoint import (
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from glamor_zoo.train.config import ConfigError, load_config
from glamor_zoo.train.distill import distillation_loss
from glamor_zoo.train.folds import fold_config, fold_indices, train_folds
from glamor_zoo.train.regularization import L2Penalty
from glamor_zoo.train.schedule import lr_at_epoch, lr_at_step
from glamor_zoo.train.trainer import train
from glamor_zoo_cli import main as cli_main

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
CK_RECIPE = REPO / "recipes" / "deep_emotion_ckplus.yaml"
CLOCK = {"now": 0.0}


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


def test_atomic_writes_follow_the_umask_and_importing_never_touches_it(tmp_path: Path) -> None:
    from glamor_zoo.serialization import atomic_write_text

    probe = (
        "import os; calls = []; umask = os.umask\n"
        "os.umask = lambda mask: calls.append(mask) or umask(mask)\n"
        "import glamor_zoo.serialization, glamor_zoo.inference.onnx_export\n"
        "print(calls)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    previous = os.umask(0o027)
    try:
        atomic_write_text(tmp_path / "a.json", "{}")
        atomic_write_text(tmp_path / "a.json", "{}\n")  # replacing keeps the same rule
    finally:
        os.umask(previous)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


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


def test_the_spec_travels_from_the_recipe_to_the_saved_model(tmp_path: Path) -> None:
    import glamor_zoo
    from glamor_zoo.inference import load_model
    from glamor_zoo.spec import get_model_spec

    recipe = _recipe(tmp_path)
    overrides = [
        "model.args={face_size: [32, 32], context_size: [32, 48]}",
        "data.preprocess={mask_face_in_context: false, interpolation: bicubic}",
        "data.preprocess.face_augment={hflip: 0.0, rotate_degrees: 5.0}",
        "run.max_steps=1",
        "run.epochs=1",
    ]
    result = train(load_config(recipe, overrides))
    expected = glamor_zoo.create_model(
        "glamor_test", num_classes=3, face_size=(32, 32), context_size=(32, 48)
    )
    expected = get_model_spec(expected).replace(
        mask_face_in_context=False,
        interpolation="bicubic",
        face_augment={"hflip": 0.0, "rotate_degrees": 5.0},
        label_names=TinyEmotionDataset.classes,
    )
    assert expected.context_resize == (37, 73) and expected.context_crop_offset == (2, 12)
    saved = json.loads((result.model_dir / "config.json").read_text())
    assert saved["spec"] == expected.to_dict() and "spec" not in saved["model_args"]
    assert saved["pretrained_cfg"]["input_size"] == [3, 32, 32]
    via_timm = glamor_zoo.create_model(f"local-dir:{result.model_dir}")
    loaded = load_model(str(result.model_dir))
    assert get_model_spec(via_timm) == loaded.spec == expected
    assert loaded.model.pretrained_cfg["interpolation"] == "bicubic"


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
    wall_clock = ("elapsed_s", "data_wait_s", "step_s")  # the timings: all a resume may change

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


# ---------------------------------------------------------------------------- generic features on Deep-Emotion


def clocked_dataset(root: str, **kwargs: object) -> TinyEmotionDataset:
    """The tiny dataset whose every training epoch takes one minute of the fake clock."""

    class Clocked(TinyEmotionDataset):
        def set_epoch(self, epoch: int) -> None:
            super().set_epoch(epoch)
            if self.train:
                CLOCK["now"] = 60.0 * (epoch + 1)

    return Clocked(root, **kwargs)


def slow_start_dataset(root: str, **kwargs: object) -> TinyEmotionDataset:
    """Like :func:`clocked_dataset`, but the first epoch takes 150 s (compilation, warm-up)."""

    class SlowStart(TinyEmotionDataset):
        def set_epoch(self, epoch: int) -> None:
            super().set_epoch(epoch)
            if self.train:
                CLOCK["now"] = 90.0 + 60.0 * (epoch + 1)

    return SlowStart(root, **kwargs)


def _tiny_recipe(
    tmp_path: Path,
    optim: dict | None = None,
    run: dict | None = None,
    factory: str = "tiny_dataset",
) -> Path:
    """Deep-Emotion (3-channel 32-px faces) on the tiny synthetic dataset of test_train."""
    recipe = {
        "name": "tiny_deep_emotion",
        "model": {"name": "deep_emotion", "args": {"in_chans": 3, "img_size": 32}},
        "data": {
            "kind": f"test_train:{factory}",
            "root": str(tmp_path),
            "val_split": "val",
            "test_split": None,
        },
        "optim": {"name": "sgd", "lr": 0.1, "momentum": 0.0, "milestones": [], **(optim or {})},
        "run": {
            "output_dir": str(tmp_path / "run"),
            "epochs": 1,
            "batch_size": 8,
            "log_with": [],
            "progress": False,
            "seed": 1,
            **(run or {}),
        },
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


# ---------------------------------------------------------------------------- L2 term


def test_l2_penalty_is_exactly_lambda_times_the_squared_weights() -> None:
    torch.manual_seed(0)
    model = glamor_zoo.create_model("deep_emotion")
    penalty = L2Penalty(model, ["head.fc1", "head.fc"], 0.25)
    expected = 0.25 * (model.head.fc1.weight.square().sum() + model.head.fc.weight.square().sum())
    torch.testing.assert_close(penalty(), expected)
    assert penalty.parameters == [model.head.fc1.weight, model.head.fc.weight]  # no biases
    # A parent module covers the weights inside it, once each.
    assert L2Penalty(model, ["head", "head.fc"], 1.0).parameters == penalty.parameters
    loss = penalty()
    loss.backward()
    torch.testing.assert_close(model.head.fc.weight.grad, 0.5 * model.head.fc.weight.detach())
    assert model.features.conv1.weight.grad is None


def test_l2_penalty_names_a_bad_module() -> None:
    model = glamor_zoo.create_model("deep_emotion")
    with pytest.raises(
        ConfigError, match=r"optim\.l2_modules.*'head\.fc2'.*did you mean.*head\.fc"
    ):
        L2Penalty(model, ["head.fc1", "head.fc2"], 1e-3)
    with pytest.raises(ConfigError, match=r"optim\.l2_modules.*'head\.drop'.*no weight"):
        L2Penalty(model, ["head.drop"], 1e-3)


def _one_sgd_step(
    tmp_path: Path, name: str, lr: float, l2_weight: float
) -> dict[str, torch.Tensor]:
    l2 = {"l2_modules": ["head.fc1", "head.fc"], "l2_weight": l2_weight} if l2_weight else {}
    recipe = _tiny_recipe(tmp_path, optim={"lr": lr, **l2}, run={"max_steps": 1})
    config = load_config(recipe, [f"run.output_dir={tmp_path / name}", "data.val_split=null"])
    train(config)
    return load_file(str(tmp_path / name / "model" / "model.safetensors"))


def test_trainer_adds_the_l2_term_to_the_loss(tmp_path: Path) -> None:
    # One plain SGD step from the same weights on the same batch: the L2 term adds exactly
    # 2·λ·W to the gradient of the named weights, so W_l2 - W_plain = -lr·2·λ·W0.
    initial = _one_sgd_step(tmp_path, "init", lr=0.0, l2_weight=0.0)
    plain = _one_sgd_step(tmp_path, "plain", lr=0.1, l2_weight=0.0)
    with_l2 = _one_sgd_step(tmp_path, "l2", lr=0.1, l2_weight=0.25)
    for key in ("head.fc1.weight", "head.fc.weight"):
        torch.testing.assert_close(
            with_l2[key] - plain[key], -0.1 * 2 * 0.25 * initial[key], rtol=1e-4, atol=1e-6
        )
    for key in ("head.fc1.bias", "features.conv1.weight", "stn.localization.0.weight"):
        torch.testing.assert_close(with_l2[key], plain[key], rtol=1e-5, atol=1e-7)
    assert not torch.equal(plain["head.fc.weight"], initial["head.fc.weight"])


def test_trainer_reports_a_bad_l2_module(tmp_path: Path) -> None:
    recipe = _tiny_recipe(tmp_path, optim={"l2_modules": ["head.fc9"], "l2_weight": 0.001})
    with pytest.raises(ConfigError, match=r"optim\.l2_modules.*head\.fc9"):
        train(load_config(recipe))


# ---------------------------------------------------------------------------- distillation


def test_distillation_loss_is_t_squared_kl_of_the_softened_predictions() -> None:
    torch.manual_seed(0)
    student, teacher = torch.randn(5, 7), torch.randn(5, 7)
    for t in (1.0, 2.0, 4.0):
        p = torch.softmax(teacher / t, 1)
        expected = t * t * (p * (p.log() - torch.log_softmax(student / t, 1))).sum(1).mean()
        torch.testing.assert_close(distillation_loss(student, teacher, t), expected)
    assert float(distillation_loss(teacher, teacher, 2.0)) == pytest.approx(0.0, abs=1e-6)


def _distilled_step(
    tmp_path: Path, name: str, teacher: Path | None, weight: float = 1.0
) -> dict[str, torch.Tensor]:
    distill = (
        {
            "distill_from": f"local-dir:{teacher}",
            "distill_weight": weight,
            "distill_temperature": 2.0,
        }
        if teacher
        else {}
    )
    recipe = _tiny_recipe(tmp_path, optim={"lr": 0.1, **distill}, run={"max_steps": 1})
    config = load_config(recipe, [f"run.output_dir={tmp_path / name}", "data.val_split=null"])
    train(config)
    return load_file(str(tmp_path / name / "model" / "model.safetensors"))


def test_trainer_mixes_cross_entropy_and_the_teachers_soft_predictions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A teacher: the tiny model trained a few steps from another seed.
    teacher_recipe = _tiny_recipe(tmp_path, run={"max_steps": 3, "seed": 7})
    teacher = train(load_config(teacher_recipe, [f"run.output_dir={tmp_path / 'teacher'}"]))
    calls: list[tuple[torch.Tensor, float]] = []

    def spy(student: torch.Tensor, teacher_logits: torch.Tensor, t: float) -> torch.Tensor:
        calls.append((teacher_logits, t))
        return distillation_loss(student, teacher_logits, t)

    from glamor_zoo.train import distill

    monkeypatch.setattr(distill, "distillation_loss", spy)
    initial = _one_sgd_step(tmp_path, "init", lr=0.0, l2_weight=0.0)
    plain = _distilled_step(tmp_path, "plain", None)
    assert not calls
    distilled = _distilled_step(tmp_path, "distilled", teacher.model_dir, weight=1.0)
    assert len(calls) == 1 and calls[0][1] == 2.0 and calls[0][0].shape == (8, 3)
    assert not calls[0][0].requires_grad
    mixed = _distilled_step(tmp_path, "mixed", teacher.model_dir, weight=0.5)
    # Plain SGD, the same batch and dropout: the objective is (1 - α)·CE + α·KD, so the
    # update with α = 0.5 is the mean of the cross-entropy update and the distillation update.
    for key in ("head.fc.weight", "head.fc1.weight", "features.conv1.weight"):
        step_ce, step_kd = plain[key] - initial[key], distilled[key] - initial[key]
        assert not torch.allclose(step_ce, step_kd)
        torch.testing.assert_close(
            mixed[key] - initial[key], 0.5 * step_ce + 0.5 * step_kd, rtol=1e-3, atol=1e-6
        )


def test_pure_distillation_from_the_students_own_weights_does_not_move_it(
    tmp_path: Path,
) -> None:
    # No dropout, no BatchNorm: the student in training mode computes what the teacher computes
    # in evaluation mode. With α = 1 the objective is the distillation term alone, which is zero
    # with a zero gradient when the teacher holds the student's own starting weights.
    same = ["model.args.drop_rate=0.0", "model.args.batch_norm=false", "data.val_split=null"]
    steps = []
    for name, optim in (
        ("start", {"lr": 0.0}),
        ("kd", {"lr": 0.1, "distill_from": f"local-dir:{tmp_path / 'start' / 'model'}"}),
    ):
        recipe = _tiny_recipe(
            tmp_path, optim={**optim, "distill_weight": 1.0}, run={"max_steps": 1}
        )
        train(load_config(recipe, [*same, f"run.output_dir={tmp_path / name}"]))
        steps.append(load_file(str(tmp_path / name / "model" / "model.safetensors")))
    start, distilled = steps
    for key in ("head.fc.weight", "head.fc1.weight", "features.conv1.weight"):
        torch.testing.assert_close(distilled[key], start[key], rtol=0, atol=1e-7)


def test_distillation_needs_a_teacher_with_the_datasets_classes(tmp_path: Path) -> None:
    recipe = _tiny_recipe(tmp_path, optim={"distill_from": "deep_emotion"})
    with pytest.raises(ConfigError, match=r"optim\.distill_from.*'deep_emotion'.*same classes"):
        train(load_config(recipe))


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("distill_weight", 0.0, r"optim\.distill_weight.*\(0, 1\].*got 0\.0"),
        ("distill_weight", 1.5, r"optim\.distill_weight.*got 1\.5"),
        ("distill_temperature", 0.0, r"optim\.distill_temperature.*> 0.*got 0\.0"),
    ],
)
def test_distillation_settings_are_checked(
    tmp_path: Path, key: str, value: float, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(_tiny_recipe(tmp_path, optim={"distill_from": "x", key: value}))


# ---------------------------------------------------------------------------- mixup / cutmix


def test_mixup_blends_each_batch_with_itself_reversed_and_trains_on_soft_labels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from timm.data import Mixup

    mixed: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    fed: list[torch.Tensor] = []
    losses: list[torch.Tensor] = []
    timm_mix = Mixup.__call__

    def spy_mix(self, x, target):
        before = x.clone()
        out, soft = timm_mix(self, x, target)
        mixed.append((before, out.clone(), soft))
        return out, soft

    def spy_forward(model, batch):
        fed.append(batch["face"].clone())
        return trainer_forward(model, batch)

    def spy_ce(logits, target, **kwargs):
        losses.append(target)
        return real_ce(logits, target, **kwargs)

    trainer_forward, real_ce = trainer.forward_batch, torch.nn.functional.cross_entropy
    monkeypatch.setattr(Mixup, "__call__", spy_mix)
    monkeypatch.setattr(trainer, "forward_batch", spy_forward)
    monkeypatch.setattr(trainer.nn.functional, "cross_entropy", spy_ce)
    recipe = _tiny_recipe(
        tmp_path, optim={"mixup_alpha": 1.0, "label_smoothing": 0.1}, run={"max_steps": 1}
    )
    train(load_config(recipe, ["data.val_split=null"]))
    ((before, after, soft),) = mixed
    assert torch.equal(fed[0], after) and not torch.allclose(after, before)
    lam = float(((after - before.flip(0)) / (before - before.flip(0))).flatten()[0])
    torch.testing.assert_close(after, lam * before + (1 - lam) * before.flip(0))
    # The loss is taken against the mixed, smoothed soft labels.
    assert losses[0] is soft and soft.shape == (8, 3)
    torch.testing.assert_close(soft.sum(1), torch.ones(8))
    assert float(soft.max()) < 1.0


def test_mixup_is_repeatable_run_to_run(tmp_path: Path) -> None:
    weights = []
    np.random.seed(123)
    caller = np.random.get_state()
    for name in ("a", "b"):
        recipe = _tiny_recipe(
            tmp_path, optim={"mixup_alpha": 0.4, "cutmix_alpha": 1.0}, run={"max_steps": 3}
        )
        train(load_config(recipe, [f"run.output_dir={tmp_path / name}", "data.val_split=null"]))
        weights.append(load_file(str(tmp_path / name / "model" / "model.safetensors")))
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    # The caller's numpy generator is where it was: the per-step seeding is undone.
    assert np.array_equal(np.random.get_state()[1], caller[1])


def test_mixup_needs_a_face_only_model_and_sane_settings(tmp_path: Path) -> None:
    recipe = _recipe(tmp_path)  # glamor_test reads a context image too
    with pytest.raises(ConfigError, match="face images only"):
        train(load_config(recipe, ["optim.mixup_alpha=0.2"]))
    with pytest.raises(ConfigError, match=r"optim\.cutmix_alpha.*>= 0.*got -1"):
        load_config(_tiny_recipe(tmp_path, optim={"cutmix_alpha": -1}))
    with pytest.raises(ConfigError, match=r"optim\.mix_prob.*\[0, 1\].*got 2"):
        load_config(_tiny_recipe(tmp_path, optim={"mix_prob": 2}))


# ---------------------------------------------------------------------------- schedule


def test_cosine_schedule_with_warmup() -> None:
    kw = {"schedule": "cosine", "warmup_epochs": 1, "min_lr": 1e-5}
    lr = [lr_at_step(s, 10, 5, 5e-3, **kw) for s in range(50)]
    assert lr[0] == pytest.approx(5e-4) and lr[4] == pytest.approx(2.5e-3)  # linear warmup
    assert lr[9] == lr[10] == pytest.approx(5e-3)  # end of warmup = start of the cosine
    assert lr[30] == pytest.approx(1e-5 + 0.5 * (5e-3 - 1e-5))  # half way: the mean
    assert lr[49] == pytest.approx(1e-5 + 0.5 * (5e-3 - 1e-5) * (1 + math.cos(math.pi * 39 / 40)))
    assert all(a >= b for a, b in itertools.pairwise(lr[10:]))  # decreasing after warmup
    assert lr_at_step(500, 10, 5, 5e-3, **kw) == pytest.approx(1e-5)  # clamped past the end
    # The step schedule: the paper's milestones, with an optional warmup in front.
    step = {"milestones": [2], "gamma": 0.1, "min_lr": 0.0}
    assert [lr_at_step(s, 10, 4, 1.0, **step) for s in (0, 19, 20, 39)] == [1, 1, 0.1, 0.1]
    assert lr_at_step(0, 10, 4, 1.0, warmup_epochs=1, **step) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="schedule"):
        lr_at_step(0, 10, 4, 1.0, schedule="linear")


def test_trainer_follows_the_cosine_schedule_every_step(tmp_path: Path) -> None:
    recipe = _tiny_recipe(
        tmp_path,
        optim={"name": "adam", "lr": 0.01, "schedule": "cosine", "warmup_epochs": 1, "min_lr": 0.0},
        run={"epochs": 3},
    )
    result = train(load_config(recipe))
    history = result.metrics["stages"]["main"]["history"]
    steps = 3  # 24 images, batch 8
    for record in history:  # the last lr of each epoch
        last = (record["epoch"] + 1) * steps - 1
        assert record["lr"] == pytest.approx(lr_at_step(last, steps, 3, 0.01, "cosine", 1))
    assert history[0]["lr"] == pytest.approx(0.01) and history[2]["lr"] < 0.003


# ---------------------------------------------------------------------------- weight average


def test_the_weight_average_is_what_the_stage_saves_and_it_resumes_exactly(
    tmp_path: Path,
) -> None:
    recipe = _tiny_recipe(
        tmp_path,
        optim={"lr": 0.1, "momentum": 0.9, "ema_decay": 0.6},
        run={"epochs": 2, "checkpoint_every": 1, "keep_last": 10},
    )
    config = load_config(recipe, ["data.val_split=null"])
    result = train(config)
    ckpt_dir = result.run_dir / "stages" / "main" / "checkpoints"
    steps = list_checkpoints(ckpt_dir)
    assert len(steps) == 6  # 24 images, batch 8, 2 epochs
    raw = [load_file(str(p / "model.safetensors")) for p in steps]
    average = [load_file(str(p / "ema.safetensors")) for p in steps]
    floats = [k for k, v in raw[0].items() if v.is_floating_point()]
    # Step 1 copies the weights; every later step moves the average 40 % towards them.
    assert all(torch.equal(average[0][k], raw[0][k]) for k in floats)
    for k in floats:
        for before, now, weights in zip(average[:-1], average[1:], raw[1:], strict=True):
            torch.testing.assert_close(now[k], 0.6 * before[k] + 0.4 * weights[k])
    final = load_file(str(result.model_dir / "model.safetensors"))
    assert all(torch.equal(final[k], average[-1][k]) for k in floats)
    assert not torch.equal(final["head.fc.weight"], raw[-1]["head.fc.weight"])
    # The history records where the step's time went.
    history = result.metrics["stages"]["main"]["history"]
    assert all(h["step_s"] > 0 and h["data_wait_s"] >= 0 for h in history)

    # Resumed from the middle of the second epoch, the average ends where it did.
    for path in steps[4:]:
        shutil.rmtree(path)
    for folder in (result.model_dir, result.run_dir / "stages" / "main" / "model"):
        shutil.rmtree(folder)
    resumed = train(config, resume=True)
    again = load_file(str(resumed.model_dir / "model.safetensors"))
    for k in floats:
        torch.testing.assert_close(again[k], final[k], rtol=0, atol=1e-6)


def test_ema_decay_must_be_below_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"optim\.ema_decay.*\[0, 1\).*got 1\.0"):
        load_config(_tiny_recipe(tmp_path, optim={"ema_decay": 1.0}))


# ---------------------------------------------------------------------------- time budget


def test_time_budget_stops_training_and_keeps_the_best_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    CLOCK["now"] = 0.0
    monkeypatch.setattr(trainer, "_clock", lambda: CLOCK["now"])  # one minute per epoch
    recipe = _tiny_recipe(
        tmp_path,
        optim={"name": "adam", "lr": 0.01, "schedule": "cosine", "min_lr": 0.0},
        run={"epochs": 10, "time_budget_min": 3.5},
        factory="clocked_dataset",
    )
    result = train(load_config(recipe))
    stage = result.metrics["stages"]["main"]
    assert stage["epochs_run"] == 3 and stage["epochs_planned"] == 10  # 3 one-minute epochs fit
    assert stage["train_time_s"] == pytest.approx(180.0)
    # The cosine was shortened to end with the cut: the third epoch's last step is its end.
    assert stage["history"][-1]["lr"] == pytest.approx(lr_at_step(8, 3, 3, 0.01, "cosine"))
    # The best epoch on validation is the final model.
    accuracies = [h["val_acc"] for h in stage["history"]]
    assert stage["selected"] == "best" and stage["best_epoch"] == int(np.argmax(accuracies))
    assert result.metrics["final"]["val"]["top1"] == pytest.approx(max(accuracies))
    best = load_file(str(result.run_dir / "stages" / "main" / "best" / "model.safetensors"))
    final = load_file(str(result.model_dir / "model.safetensors"))
    assert all(torch.equal(best[k], final[k]) for k in best)


def test_time_budget_is_not_cut_by_a_slow_first_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    CLOCK["now"] = 0.0
    monkeypatch.setattr(trainer, "_clock", lambda: CLOCK["now"])
    recipe = _tiny_recipe(
        tmp_path,
        optim={"name": "adam", "lr": 0.01, "schedule": "cosine", "min_lr": 0.0},
        run={"epochs": 10, "time_budget_min": 5},
        factory="slow_start_dataset",
    )
    stage = train(load_config(recipe)).metrics["stages"]["main"]
    # 150 s + 60 s + 60 s fit 5 minutes; judged by the first epoch, only 2 would.
    assert stage["epochs_run"] == 3
    assert [round(h["elapsed_s"]) for h in stage["history"]] == [150, 210, 270]


# ---------------------------------------------------------------------------- k-fold


def _write_ck(root: Path, subjects: int = 9, frames: int = 2) -> Path:
    """A CK+48-like folder: two classes, ``S<subject>_001_<frame>.png`` grey 48×48 faces."""
    gen = np.random.default_rng(0)
    for c, name in enumerate(("anger", "happy")):
        (root / name).mkdir(parents=True)
        for s in range(subjects):
            for f in range(frames):
                pixels = gen.integers(0, 60, (48, 48)) + (150 if c else 0)
                path = root / name / f"S{100 + s:03d}_00{c + 1}_0000000{f}.png"
                Image.fromarray(pixels.astype(np.uint8)).save(path)
    return root


def _ck_overrides(root: Path, out: Path) -> list[str]:
    return [
        f"data.root={root}",
        "data.args.num_folds=3",
        "data.num_workers=0",
        f"run.output_dir={out}",
        "run.epochs=1",
        "run.batch_size=8",
        "run.log_with=[]",
        "run.progress=false",
    ]


def _test_subjects(run_dir: Path) -> set[str]:
    with open(run_dir / "eval" / "test" / "predictions.csv", newline="") as handle:
        return {Path(row["path"]).name.split("_")[0] for row in csv.DictReader(handle)}


def test_ckplus_recipe_trains_every_fold_and_reports_mean_and_std(tmp_path: Path) -> None:
    root = _write_ck(tmp_path / "ck")
    out = tmp_path / "cv"
    assert cli_main(["train", "--config", str(CK_RECIPE), *_ck_overrides(root, out)]) == 0

    summary = json.loads((out / "summary.json").read_text())
    assert summary["completed_folds"] == 3 and [f["fold"] for f in summary["folds"]] == [0, 1, 2]
    accuracies = [f["top1"] for f in summary["folds"]]
    assert summary["mean_top1"] == pytest.approx(np.mean(accuracies))
    assert summary["std_top1"] == pytest.approx(np.std(accuracies, ddof=1))
    assert summary["command"].startswith(("glamor-zoo", "accelerate"))
    # Subject-disjoint: every subject is in exactly one fold's test split, all images scored once.
    tested = [_test_subjects(out / f"fold_{k}") for k in range(3)]
    assert sum(len(t) for t in tested) == 9 and set().union(*tested) == {
        f"S{100 + s:03d}" for s in range(9)
    }
    assert sum(f["num_samples"] for f in summary["folds"]) == 9 * 2 * 2
    for k, fold in enumerate(summary["folds"]):
        config = json.loads((out / f"fold_{k}" / "model" / "config.json").read_text())
        assert config["training"]["data"]["args"]["fold"] == k
        assert config["training"]["optim"]["l2_modules"] == ["head.fc1", "head.fc"]
        metrics = json.loads((out / f"fold_{k}" / "metrics.json").read_text())
        assert metrics["final"]["test"]["top1"] == fold["top1"]
        assert metrics["stages"]["main"]["selected"] == "last"  # no validation: last epoch

    # A second run into the same folder must resume, not overwrite.
    assert cli_main(["train", "--config", str(CK_RECIPE), *_ck_overrides(root, out)]) == 2


def test_kfold_resume_reuses_finished_folds_and_resumes_the_rest(tmp_path: Path) -> None:
    root = _write_ck(tmp_path / "ck", subjects=6, frames=1)
    out = tmp_path / "cv"
    overrides = [*_ck_overrides(root, out), "run.epochs=2"]
    first = train_folds(load_config(CK_RECIPE, [*overrides, "data.folds=[0, 1]"]))
    assert first.summary["completed_folds"] == 2 and not (out / "fold_2").exists()
    fold0 = (out / "fold_0" / "model" / "model.safetensors").stat().st_mtime_ns
    weights1 = load_file(str(out / "fold_1" / "model" / "model.safetensors"))
    # Fold 1 as if killed after its last epoch's checkpoint: no selected or final model yet.
    for leftover in ("model", "stages/main/model", "eval"):
        for path in sorted((out / "fold_1" / leftover).rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        (out / "fold_1" / leftover).rmdir()

    with pytest.raises(ConfigError, match="--resume"):
        train_folds(load_config(CK_RECIPE, overrides))
    result = train_folds(load_config(CK_RECIPE, overrides), resume=True)
    assert result.summary["completed_folds"] == 3
    assert (out / "fold_0" / "model" / "model.safetensors").stat().st_mtime_ns == fold0  # reused
    resumed = load_file(str(out / "fold_1" / "model" / "model.safetensors"))
    assert all(torch.equal(weights1[k], resumed[k]) for k in weights1)  # from its checkpoint
    assert [f["top1"] for f in result.summary["folds"][:2]] == [
        f["top1"] for f in first.summary["folds"]
    ]


def test_fold_config_and_its_errors(tmp_path: Path) -> None:
    config = load_config(CK_RECIPE)
    assert fold_indices(config.data) == list(range(10))
    fold = fold_config(config, 3)
    assert fold.data.folds is None and fold.data.args == {
        "num_folds": 10,
        "split_seed": 0,
        "fold": 3,
    }
    assert Path(fold.run.output_dir) == Path(config.run.output_dir) / "fold_3"
    assert config.data.args == {"num_folds": 10, "split_seed": 0}  # the recipe is left as it was
    assert fold_indices(load_config(CK_RECIPE, ["data.folds=[2, 5]"]).data) == [2, 5]
    code = cli_main(["train", "--config", str(CK_RECIPE), "--push-to-hub", "org/x"])
    assert code == 2


def test_exponents_without_a_dot_are_numbers(tmp_path: Path) -> None:
    config = load_config(CK_RECIPE, ["optim.l2_weight=1e-3", "optim.lr=2E-4", "data.name=s1e3"])
    assert config.optim.l2_weight == 1e-3 and config.optim.lr == 2e-4
    assert config.data.name == "s1e3"
    recipe = tmp_path / "r.yaml"
    recipe.write_text(CK_RECIPE.read_text().replace("l2_weight: 1.0e-3", "l2_weight: 1e-3"))
    assert load_config(recipe).optim.l2_weight == 1e-3


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optim.l2_weight=-1.0", r"optim\.l2_weight must be a number >= 0"),
        ("optim.l2_weight=heavy", r"optim\.l2_weight='heavy': expected a number \(float\)"),
        ("optim.l2_modules=head.fc", r"optim\.l2_modules='head\.fc': expected a list of str"),
        ("optim.lr=fast", r"^optim\.lr='fast': expected a number \(float\), got str$"),
        ("run.seed=abc", r"^run\.seed='abc': expected an integer \(int\), got str$"),
        ("run.batch_size=2.5", r"^run\.batch_size=2\.5: expected an integer \(int\), got float$"),
        ("run.epochs=ten", r"^run\.epochs='ten': expected an integer \(int\), got str$"),
        ("run.progress=maybe", r"^run\.progress='maybe': expected true or false"),
        ("optim.milestones=[a]", r"^optim\.milestones\[0\]='a': expected an integer"),
        ("stages.x.lr=quick", r"^stages\.x\.lr='quick': expected a number \(float\) or null"),
        ("optim.lr=-1", r"^optim\.lr=-1\.0: must be from 0 to 100.0$"),
        ("optim.momentum=1.5", r"^optim\.momentum=1\.5: must be in \[0, 1\)$"),
        ("run.seed=-3", r"^run\.seed=-3: must be >= 0$"),
        ("stages.x.epochs=0", r"^stages\.x\.epochs=0: must be >= 1$"),
        ("optim.l2_modules=[]", r"optim\.l2_modules is empty"),
        ("optim.schedule=linear", r"optim\.schedule must be one of"),
        ("optim.warmup_epochs=-1", r"optim\.warmup_epochs must be >= 0"),
        ("run.time_budget_min=-5", r"run\.time_budget_min must be"),
        ("data.folds=some", r"data\.folds must be 'all'"),
        ("data.folds=[0, 10]", r"data\.folds must list distinct folds in 0\.\.9"),
        ("data.args={split_seed: 0}", r"data\.folds needs data\.args\.num_folds"),
        ("data.args.fold=2", r"data\.args\.fold and data\.folds"),
        ("data.test_split=null", r"data\.folds scores each fold on data\.test_split"),
        (
            "data.preprocess.face_augment.translate=2.0",
            r"face_augment.*'translate'.*\[0\.0, 1\.0\]",
        ),
        ("data.preprocess.face_augment.scale=[1.1, 0.9]", r"face_augment.*'scale'.*low <= high"),
        ("data.preprocess.face_augment.shear=5", r"unknown face_augment key.*shear"),
    ],
)
def test_bad_values_are_errors_that_name_the_option(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(CK_RECIPE, [override])
