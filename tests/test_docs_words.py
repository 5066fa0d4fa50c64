"""The documentation speaks to users about the project: no word about how it is worked on
(sessions, the machines it was measured on as "these machines", work items called issues, a
machine "lent"), and no prose line over 200 characters. Covers README.md, docs/, the benchmarks'
README and run notes, CHANGELOG.md and the rendered card of every released tag."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MARKDOWN = sorted(
    [
        ROOT / "README.md",
        ROOT / "CHANGELOG.md",
        ROOT / "benchmarks" / "README.md",
        *(ROOT / "docs").glob("*.md"),
        *(ROOT / "benchmarks" / "results" / "notes").glob("*.md"),
    ]
)
# Whole words, case-insensitive, searched in the text with its lines joined (a phrase may wrap).
FORBIDDEN = re.compile(r"\b(sessions?|these machines|issues?|was lent)\b", re.IGNORECASE)
# Links to other projects' trackers (…/issues/247) are references, not our work items.
URL = re.compile(r"https?://\S+")
MAX_LINE = 200


def _joined(text: str) -> str:
    return re.sub(r"\s*\n\s*", " ", URL.sub("URL", text))


def _hits(text: str) -> list[str]:
    joined = _joined(text)
    return [joined[max(0, m.start() - 60) : m.end() + 60] for m in FORBIDDEN.finditer(joined)]


def _released_cards() -> dict[str, str]:
    from glamor_zoo.hub.card import render_released_card
    from glamor_zoo.models._released import released_ledger

    return {tag: render_released_card(tag) for tag in sorted(released_ledger())}


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_markdown_has_no_word_about_how_the_project_is_worked_on(path: Path) -> None:
    assert _hits(path.read_text(encoding="utf-8")) == []


def test_released_cards_have_no_word_about_how_the_project_is_worked_on() -> None:
    hits = {tag: _hits(card) for tag, card in _released_cards().items()}
    assert {tag: found for tag, found in hits.items() if found} == {}


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_prose_line_over_200_characters(path: Path) -> None:
    long, in_code = [], False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith("```"):
            in_code = not in_code
        elif not in_code and not line.lstrip().startswith("|") and len(line) > MAX_LINE:
            long.append(f"line {number}: {len(line)} characters")
    assert long == []


def test_the_check_finds_a_wrapped_phrase_and_spares_other_projects_links() -> None:
    assert _hits("measured on these\nmachines") and _hits("as this Session showed")
    assert not _hits("see https://github.com/serengil/deepface/issues/247 and deepface#247")
    assert not _hits("an onnxruntime InferenceSession")
