"""README.md's first screen: what CI runs, the Python lines, and the released-weights table,
which ``tools/readme_table.py`` generates from the released weights' configs."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))  # release tooling

import readme_table  # noqa: E402

README = (ROOT / "README.md").read_text(encoding="utf-8")
FIRST_SCREEN = "".join(README.splitlines(keepends=True)[:40])


def test_weights_table_is_generated_from_the_configs() -> None:
    assert readme_table.readme_block(README) == readme_table.weights_table(), (
        "README.md's released-weights table is stale: run `python tools/readme_table.py --write`"
    )


def test_table_lists_every_released_tag_and_the_authors_weights() -> None:
    block = readme_table.readme_block(README)
    for tag in [*readme_table.released_tags(), readme_table.OFFICIAL_TAG]:
        assert f"| `{tag}`" in block, tag


def test_first_screen_holds_the_python_lines_and_the_table() -> None:
    assert "EmotionRecognizer" in FIRST_SCREEN
    assert "glamor-zoo predict " in FIRST_SCREEN
    assert readme_table.START in FIRST_SCREEN and readme_table.END in FIRST_SCREEN


def test_ci_runs_the_first_two_bash_blocks_and_no_other_exists() -> None:
    blocks = re.findall(r"```bash\n(.*?)```", README, re.S)
    assert [block.strip() for block in blocks] == [
        'pip install torch==2.14.1 torchvision==0.29.1 && pip install -e ".[dev]" '
        "&& glamor-zoo predict --demo",
        "python -m pytest -q",
    ]
    fences = re.findall(r"^```(\w*)$", README, re.M)
    openings = fences[::2]
    assert set(openings[2:]) <= {"text", "python", "toml"}, openings


def test_readme_links_resolve() -> None:
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README):
        if "://" not in target:
            assert (ROOT / target).exists(), target
