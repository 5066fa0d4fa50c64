"""``glamor-zoo demo``: its choices, records, pictures and refusals, the page served on a local
port, its ``/predict`` endpoint through ``gradio_client``, and what its file route serves.

The real-browser test is ``test_demo_browser.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from glamor_zoo_cli import main

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
PHOTO = DATA / "inference_two_people.jpg"


# ----------------------------------------------------------------- command line


def test_help_is_fast_and_names_the_extra_without_gradio() -> None:
    code = (
        "import sys, time; sys.modules['gradio'] = None; start = time.perf_counter(); "
        "import glamor_zoo_cli; code = glamor_zoo_cli.main(['demo', '--help']); "
        "print('SECONDS', time.perf_counter() - start, code); "
        "print('HEAVY', sorted(m for m in ('torch', 'glamor_zoo', 'gradio') if sys.modules.get(m)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "glamor-zoo[demo]" in out.stdout and "--share" in out.stdout
    seconds, rc = out.stdout.split("SECONDS ")[1].split("\n")[0].split()
    assert float(seconds) < 1.0 and rc == "0"
    assert "HEAVY []" in out.stdout


def test_without_gradio_the_command_names_the_extra(monkeypatch, capsys) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "gradio" else real(name, *a)
    )
    assert main(["demo"]) == 2
    assert 'pip install "glamor-zoo[demo]"' in capsys.readouterr().err


def test_flags_do_not_clash_with_predict_demo() -> None:
    from glamor_zoo_cli import build_parser

    args = build_parser().parse_args(["demo"])
    assert (args.host, args.port, args.share) == ("127.0.0.1", 7860, False)
    assert build_parser().parse_args(["predict", "--demo"]).demo is True
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--port", "70000"])


# ----------------------------------------------------------------- service (no web)


@pytest.fixture(scope="module")
def service():
    from glamor_zoo.demo import DemoService

    return DemoService()


def test_choices_offline_default_first_random_weights_labelled(service) -> None:
    names = [c.name for c in service.model_choices]
    assert names[0] == "face_resnet26.fer2013_sfew_hardfer" == service.default_model
    assert "deep_emotion.fer2013" in names
    labels = {c.name: c.label for c in service.model_choices}
    assert "random weights" in labels["glamor_test"]
    assert service.detector_choices[0] == "mtcnn" and "none" in service.detector_choices
    assert "retinaface" not in service.detector_choices  # it would download its weights
    assert service.default_threshold("mtcnn") == 0.9 and service.default_threshold("none") == 0


def test_records_are_those_of_predict_format_json(service, capsys) -> None:
    assert main(["predict", str(PHOTO), "--format", "json", "--no-progress", "--no-fast"]) == 0
    (expected,) = json.loads(capsys.readouterr().out)
    (record,) = service.records(str(PHOTO), "upload.jpg")
    assert record["input"] == "upload.jpg"
    assert {**record, "input": expected["input"]} == expected
    assert len(record["faces"]) >= 2


def test_refused_settings(service) -> None:
    from glamor_zoo.demo import DemoInputError

    for bad in (
        {"model": "hf-hub:someone/anything"},  # never loaded: only offered models run
        {"model": "glamor_original.ncaer_s"},
        {"detector": "retinaface"},
        {"mode": "fastest"},
        {"threshold": "high"},
        {"threshold": float("nan")},
    ):
        with pytest.raises(DemoInputError, match=r"offered|mode|threshold"):
            service.records(str(PHOTO), "p.jpg", **bad)
    with pytest.raises(DemoInputError, match="context"):  # a context model has no scene
        service.records(str(PHOTO), "p.jpg", model="glamor_test", detector="none")


def test_bad_uploads_get_predicts_messages_by_their_name(tmp_path: Path) -> None:
    from glamor_zoo.demo import DemoService

    strict = DemoService(detectors=["none"], max_upload_bytes=30_000, max_pixels=200 * 200)
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.jpg").write_bytes(b"just text, not a JPEG")
    Image.new("RGB", (300, 300)).save(tmp_path / "big.png")
    (tmp_path / "huge.jpg").write_bytes(PHOTO.read_bytes() + b"\0" * 30_000)
    cases = {
        "empty.jpg": "empty file",
        "notes.jpg": "not an image",
        "big.png": "over the limit",
        "huge.jpg": "over the demo's limit",
    }
    for name, reason in cases.items():
        (record,) = strict.records(str(tmp_path / name), f"my {name}")
        assert record["faces"] == [] and record["input"] == f"my {name}"
        assert record["error"].startswith(f"ImageLoadError: cannot load image 'my {name}'")
        assert reason in record["error"] and str(tmp_path) not in record["error"]
        analysis = strict.analyse(str(tmp_path / name), name)
        assert analysis.annotated is None and "Cannot use this upload" in analysis.summary


def test_analysis_face_only_shows_saliency(service) -> None:
    analysis = service.analyse(str(PHOTO), "p.jpg")
    labels = ["Anger", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise"]
    assert analysis.headers == ["face", "label", "confidence", *labels, "box"]
    count = len(analysis.record["faces"])
    assert count >= 2 and len(analysis.rows) == count
    assert [row[:2] for row in analysis.rows] == [
        [face["face"], face["label"]] for face in analysis.record["faces"]
    ]
    assert analysis.annotated.size == Image.open(PHOTO).size
    assert [c for _, c in analysis.explanations] == [
        f"face {n}: occlusion saliency" for n in range(1, count + 1)
    ]
    assert f"{count} faces found" in analysis.summary and "packaged weights" in analysis.summary


def test_analysis_context_model_shows_attention_and_says_random(service) -> None:
    analysis = service.analyse(str(PHOTO), "p.jpg", model="glamor_test", mode="shared")
    assert "random weights" in analysis.summary
    assert all("attention over the masked context" in c for _, c in analysis.explanations)
    assert len(analysis.explanations) == len(analysis.record["faces"]) >= 2
    picture = analysis.explanations[0][0]
    assert picture.size == Image.open(PHOTO).size
    assert len(analysis.record["faces"][0]["attention"]) > 1  # the map is in the record


def test_guard_finds_urls_anywhere_in_an_event() -> None:
    from glamor_zoo.demo.guard import names_remote_file

    upload = {"path": "/tmp/gradio/x/p.jpg", "url": "http://127.0.0.1:7860/gradio_api/file=x"}
    assert not names_remote_file({"data": [upload, "mtcnn", None]})
    assert names_remote_file({"data": [{"path": "https://example.com/a.jpg"}]})
    assert names_remote_file({"data": [[{"meta": {}, "path": " HTTP://x"}]]})


# ----------------------------------------------------------------- the served page


@pytest.fixture(scope="module")
def server():
    pytest.importorskip("gradio", reason="the web demo needs the demo extra")
    from demo_server import no_outbound, served_demo

    with no_outbound() as outbound, served_demo() as (service, url):
        yield service, url, outbound
    assert outbound.attempts == [], f"the demo tried to reach {outbound.attempts}"


def test_predict_endpoint_through_gradio_client(server, capsys) -> None:
    from gradio_client import Client, handle_file

    service, url, _ = server
    client = Client(url, verbose=False, analytics_enabled=False)
    assert list(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == [
        "/predict",
        "/track",  # videos: tests/test_demo_video.py
    ]
    records = client.predict(
        handle_file(str(PHOTO)), "glamor_test", "mtcnn", "exact", None, api_name="/predict"
    )
    assert records == service.records(
        str(PHOTO), PHOTO.name, model="glamor_test", detector="mtcnn", mode="exact"
    )
    assert [f["label"] for f in records[0]["faces"]] and "attention" in records[0]["faces"][0]
    default = client.predict(handle_file(str(PHOTO)), None, None, None, None, api_name="/predict")
    assert main(["predict", str(PHOTO), "--format", "json", "--no-progress", "--no-fast"]) == 0
    (expected,) = json.loads(capsys.readouterr().out)
    assert default == [{**expected, "input": PHOTO.name}]
    with pytest.raises(Exception, match="not offered"):
        client.predict(handle_file(str(PHOTO)), "hf-hub:a/b", None, None, None, api_name="/predict")


def test_file_route_serves_uploads_and_nothing_else(server, tmp_path: Path) -> None:
    import httpx

    _, url, _ = server
    with httpx.Client(base_url=url, timeout=30) as http:
        with PHOTO.open("rb") as fh:
            (uploaded,) = http.post("gradio_api/upload", files={"files": fh}).json()
        assert http.get(f"gradio_api/file={uploaded}").content == PHOTO.read_bytes()
        outside = tmp_path / "secret.txt"
        outside.write_text("not for visitors")
        upload_dir = Path(uploaded).parent
        for path in (
            str(outside),
            "/etc/passwd",
            str(ROOT / "pyproject.toml"),
            str(ROOT / "glamor_zoo" / "weights" / "face_resnet26_fer2013.safetensors"),
            f"{upload_dir}/../../../../etc/passwd",
            "pyproject.toml",  # relative to the server's working directory
            "https://example.com/photo.jpg",  # would make the server fetch it
        ):
            response = http.get(f"gradio_api/file={path}")
            assert 400 <= response.status_code < 500, (path, response.status_code)
            assert b"not for visitors" not in response.content and b"root:" not in response.content


def test_uploads_are_size_limited_and_urls_refused(server) -> None:
    import httpx
    from gradio_client import Client, handle_file

    service, url, outbound = server
    with httpx.Client(base_url=url, timeout=30) as http:
        big = b"\xff\xd8" + b"\0" * (service.max_upload_bytes + 1)
        response = http.post("gradio_api/upload", files={"files": ("big.jpg", big)})
        assert response.status_code == 413
    client = Client(url, verbose=False, analytics_enabled=False)
    with pytest.raises(Exception):  # noqa: B017 - the client wraps the 403 in its own types
        client.predict(
            handle_file("https://example.com/photo.jpg"),
            None,
            None,
            None,
            None,
            api_name="/predict",
        )
    assert outbound.attempts == []
