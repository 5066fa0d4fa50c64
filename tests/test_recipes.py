"""Every recipe parses, and every weight it starts from or learns from is one that exists by rule.

A reference (``model.init_from``, ``optim.distill_from``, a stage's ``init_from``, a soup's
member in a released weight's command) is either a released tag (named by the ledger with its
sha256, so it means one file forever), another recipe's output (``local-dir:runs/<name>/…``
where a recipe writes ``runs/<name>``, or a soup's ``--save`` folder in a released command), or
a stage of the same recipe. Never a commit to check out or a folder no command creates.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from glamor_zoo.models._released import PACKAGE_WEIGHTS, released_ledger
from glamor_zoo.train.config import load_config

REPO = Path(__file__).resolve().parents[1]
RECIPES = sorted((REPO / "recipes").glob("*.yaml"))


def _commands() -> list[str]:
    """The commands of the released weights' configs, one per line (continuations joined)."""
    lines = []
    for path in PACKAGE_WEIGHTS.glob("*.json"):
        config = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(config, dict) and isinstance(config.get("command"), str):
            lines += config["command"].replace("\\\n", " ").splitlines()
    return lines


def _outputs() -> set[str]:
    """The run folders that commands create: recipes' ``run.output_dir`` and soups' ``--save``."""
    made = {load_config(str(path), ["data.root=x"]).run.output_dir for path in RECIPES}
    for line in _commands():
        words = shlex.split(line.split("#")[0])
        made |= {words[i + 1] for i, word in enumerate(words[:-1]) if word == "--save"}
    return {str(Path(folder)) for folder in made}


OUTPUTS = _outputs()


def _resolves(reference: str) -> bool:
    if reference in released_ledger():
        return True
    if reference.startswith("local-dir:"):
        folder = Path(reference.removeprefix("local-dir:"))
        return any(folder == Path(out) or Path(out) in folder.parents for out in OUTPUTS)
    return False


@pytest.mark.parametrize("path", RECIPES, ids=lambda path: path.name)
def test_a_recipe_parses_and_its_references_resolve(path: Path) -> None:
    config = load_config(str(path), ["data.root=x"])
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"commit [0-9a-f]{7}|git show", text), f"{path.name} names a commit"
    references = [*config.model.init_from]
    if config.optim.distill_from:
        references.append(config.optim.distill_from)
    for reference in references:
        assert _resolves(reference), (
            f"{path.name}: {reference!r} is neither a released tag nor another recipe's output"
        )
    for name, stage in config.stages.items():
        for source in stage.init_from:
            assert source in config.stages, f"{path.name}: stage {name} starts from {source!r}"


def test_the_released_commands_name_recipes_and_outputs_that_exist() -> None:
    for line in _commands():
        for word in shlex.split(line.split("#")[0]):
            if word.endswith((".py", ".yaml")):
                assert (REPO / word).is_file(), f"{line!r} names {word}, not in the repository"
            elif word.startswith("local-dir:") or _TAG.fullmatch(word):
                assert _resolves(word), f"{line!r}: {word} is not a released tag or an output"


_TAG = re.compile(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*")  # arch.tag
