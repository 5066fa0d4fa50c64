"""The web demo in a real browser: headless Chromium (Debian's ``chromium``) driven by
Playwright's Python API uploads a photo, runs the default model and ``glamor_test``, and
checks the rendered table and pictures. Every request the page makes must go to the demo.

Skips where Chromium or Playwright is missing (CI). With ``GLAMOR_ZOO_DEMO_SCREENSHOTS=DIR``
the screenshots are also written to ``DIR`` (``docs/images`` holds the ones in the docs).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image

DATA = Path(__file__).parent / "data"
PHOTO = DATA / "inference_two_people.jpg"
CHROMIUM = os.environ.get("GLAMOR_ZOO_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.skipif(
        not Path(CHROMIUM).is_file(),
        reason="no Chromium here: apt-get install chromium (or set GLAMOR_ZOO_CHROMIUM)",
    ),
]


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory: pytest.TempPathFactory):
    pytest.importorskip("gradio", reason="the web demo needs the demo extra")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    from demo_server import no_outbound, served_demo

    profile = tmp_path_factory.mktemp("chromium-profile")
    with no_outbound() as outbound, served_demo() as (service, url):
        local = urlsplit(url).netloc
        foreign: list[str] = []

        def route(request_route) -> None:
            target = urlsplit(request_route.request.url)
            if target.scheme in ("data", "blob") or target.netloc == local:
                request_route.continue_()
            else:
                foreign.append(request_route.request.url)
                request_route.abort()

        with sync_api.sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                str(profile),
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_FLAGS,
                viewport={"width": 1400, "height": 1500},
            )
            page = context.new_page()
            page.route("**/*", route)
            page.goto(url, wait_until="networkidle")
            yield page, service, foreign
            context.close()
    assert outbound.attempts == [], f"the demo server tried to reach {outbound.attempts}"


def _save(page, tmp_path: Path, name: str) -> Path:
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=True)
    target = os.environ.get("GLAMOR_ZOO_DEMO_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, Path(target) / name)
    return shot


def _table(page) -> list[list[str]]:
    """The body rows of the per-face table, read through its ARIA grid roles."""
    return page.eval_on_selector_all(
        "#faces [role=row]:not([aria-rowindex='1'])",
        "rows => rows.map(r => [...r.querySelectorAll('[role=gridcell]')]"
        ".map(c => c.innerText.trim()))",
    )


def _run(page, expect_in_summary: str) -> None:
    page.locator("#run").click()
    page.wait_for_function(
        "text => document.querySelector('#summary')?.innerText.includes(text)",
        arg=expect_in_summary,
        timeout=180_000,
    )
    page.wait_for_function(
        "() => [...document.querySelectorAll('#annotated img, #explanations img')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
        " && document.querySelectorAll('#explanations img').length > 0",
        timeout=60_000,
    )


def _pick(page, elem_id: str, option: str) -> None:
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option).click()


def test_default_model_then_glamor_test_in_chromium(browser_page, tmp_path: Path) -> None:
    page, service, foreign = browser_page
    width, height = Image.open(PHOTO).size
    page.locator("#photo input[type=file]").set_input_files(str(PHOTO))
    page.locator("#photo img").wait_for(timeout=60_000)

    _run(page, "faces found")
    summary = page.locator("#summary").inner_text()
    assert "face_resnet26.fer2013_sfew_hardfer (packaged weights, offline)" in summary
    assert "detector mtcnn (threshold 0.9)" in summary  # the detector's default, shown in the page
    assert page.locator("#threshold input").input_value() == "0.9"
    header = [h.strip() for h in page.locator("#faces [role=columnheader]").all_inner_texts()]
    assert header[:3] == ["face", "label", "confidence"] and header[-1] == "box"
    assert {"Happy", "Sad", "Neutral"} <= set(header)
    (record,) = service.records(str(PHOTO), PHOTO.name)
    rows = _table(page)
    assert [row[:2] for row in rows] == [
        [str(n), face["label"]] for n, face in enumerate(record["faces"], start=1)
    ]
    for row, face in zip(rows, record["faces"], strict=True):
        shown = dict(zip(header[3:-1], map(float, row[3:-1]), strict=True))
        assert shown == pytest.approx(face["probabilities"], abs=1e-4)
        assert row[-1] == ", ".join(str(round(v)) for v in face["box"])
    natural = page.eval_on_selector(
        "#annotated img", "img => [img.naturalWidth, img.naturalHeight]"
    )
    assert natural == [width, height]
    captions = page.locator("#explanations").inner_text()
    assert all(f"face {n}: occlusion saliency" in captions for n in range(1, len(rows) + 1))
    _save(page, tmp_path, "demo_face_resnet18.png")

    _pick(page, "model", "glamor_test (random weights: for testing only)")
    _run(page, "random weights")
    assert "glamor_test has random weights" in page.locator("#summary").inner_text()
    rows = _table(page)
    assert len(rows) == len(record["faces"]) and all(len(row) == len(header) for row in rows)
    captions = page.locator("#explanations").inner_text()
    assert "face 1: attention over the masked context" in captions
    natural = page.eval_on_selector_all(
        "#explanations img", "imgs => imgs.map(i => [i.naturalWidth, i.naturalHeight])"
    )
    assert natural and all(size == [width, height] for size in natural)
    _save(page, tmp_path, "demo_glamor_test.png")

    assert foreign == [], f"the page asked for {foreign}"
