"""Every step of the chain that remakes ``face_resnet26.fer2013`` (the weights the default
starts from and is taught by) runs as docs/weights.md writes it: each ``glamor-zoo train``
recipe and the weight soup, in order, one training step each on tiny stand-in data, every
step starting from and taught by the outputs of the steps before it (``runs/…`` folders) or a
released tag. The commands are read from docs/weights.md, so the documented chain is the one
tested; only the data root and the run's length are overridden."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from standin_data import ONE_STEP, fer2013_standin
from tool_modules import tool_module

from glamor_zoo.train.config import load_config
from glamor_zoo.train.trainer import train

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "weights.md"


def chain_commands() -> list[list[str]]:
    """The commands of docs/weights.md's chain block (continuation lines joined, comments
    dropped), each split as a shell would."""
    blocks = re.findall(r"```bash\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    (chain,) = [b for b in blocks if "recipes/face_resnet18_fer2013.yaml" in b]
    joined = chain.replace("\\\n", " ")
    return [shlex.split(line, comments=True) for line in joined.splitlines() if line.strip()]


COMMANDS = chain_commands()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the chain runs (its ``runs/`` folders), with stand-in FER-2013 data."""
    folder = tmp_path_factory.mktemp("chain")
    fer2013_standin(folder / "fer2013")
    return folder


def test_the_chain_is_the_documented_one() -> None:
    recipes = [c[c.index("--config") + 1] for c in COMMANDS if c[:2] == ["glamor-zoo", "train"]]
    assert len(recipes) == 9 and recipes[-1] == "recipes/face_resnet18_fer2013_phase10.yaml"
    assert sum(c[:2] == ["python", "tools/fer2013_ensemble.py"] for c in COMMANDS) == 1
    assert all(
        c[:2] in (["glamor-zoo", "train"], ["python", "tools/fer2013_ensemble.py"])
        for c in COMMANDS
    )


@pytest.mark.parametrize(
    "command", COMMANDS, ids=lambda c: Path(c[-1] if c[1] == "train" else "soup").stem
)
def test_each_step_runs_on_stand_in_data(
    command: list[str], workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(workspace)
    data_root = f"data.root={workspace / 'fer2013'}"
    if command[:2] == ["glamor-zoo", "train"]:
        recipe = REPO / command[command.index("--config") + 1]
        config = load_config(recipe, [data_root, *ONE_STEP])
        result = train(config)
        output = Path(config.run.output_dir)
        assert not output.is_absolute() and (output / "model" / "config.json").is_file()
        assert result.metrics["final"]["val"]["num_samples"] == 7  # the 10 % hold-out
    else:
        # The chain runs from the repository root: its recipes are read from there.
        argv = [str(REPO / a) if a.startswith("recipes/") else a for a in command[2:]]
        tool_module("fer2013_ensemble").main([*argv, "--set", data_root])
        save = Path(command[command.index("--save") + 1])
        assert (save / "model" / "config.json").is_file() and (save / "soup.json").is_file()
