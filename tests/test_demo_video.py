"""The demo's video path: tracked records, the annotated video, the timeline, the limits, and
the ``/track`` endpoint through ``gradio_client`` on the served page."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("av", reason="video support needs PyAV (the 'video' extra)")

from tracking_clip import CAER, make_jitter_clip

from glamor_zoo.inference.video import iter_frames


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 s at 4 frames/s of one face (192×128)."""
    return make_jitter_clip(tmp_path_factory.mktemp("clip"), CAER / "neutral.jpg", seconds=3)


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory):
    from glamor_zoo.demo import DemoService
    from glamor_zoo.demo.video import VideoDemo

    return VideoDemo(DemoService(), folder=tmp_path_factory.mktemp("served"))


def test_records_and_pictures(videos, clip: Path) -> None:
    analysis = videos.analyse(str(clip), "my clip.mp4")
    records = analysis.records
    assert len(records) == 12 and {r["input"] for r in records} == {"my clip.mp4"}
    faces = [f for r in records for f in r["faces"]]
    assert faces and {f["track"] for f in faces} == {1}
    assert records == videos.records(str(clip), "my clip.mp4")
    assert len(list(iter_frames(analysis.annotated))) == 12
    assert analysis.plot is not None and analysis.plot.width > 0
    assert analysis.headers[:4] == ["track", "from (s)", "to (s)", "mostly"]
    assert [row[0] for row in analysis.rows] == [1]
    assert "1 people tracked over 12 frames" in analysis.summary


def test_limits(clip: Path, tmp_path: Path) -> None:
    from glamor_zoo.demo import DemoInputError, DemoService
    from glamor_zoo.demo.video import VideoDemo, VideoLimits

    service = DemoService()
    short = VideoDemo(service, VideoLimits(max_seconds=2), folder=tmp_path)
    with pytest.raises(DemoInputError, match="runs past 2 s"):
        short.records(str(clip), "clip.mp4")
    small = VideoDemo(service, VideoLimits(max_pixels=100 * 100), folder=tmp_path)
    with pytest.raises(DemoInputError, match="192×128 are over the demo's limit of 10,000 pixels"):
        small.records(str(clip), "clip.mp4")
    tiny = VideoDemo(DemoService(max_upload_bytes=1000), folder=tmp_path)
    with pytest.raises(DemoInputError, match="over the demo's limit of 0 MB"):
        tiny.records(str(clip), "clip.mp4")
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video")
    with pytest.raises(DemoInputError, match=r"fake\.mp4: (cannot read|the file has no video)"):
        VideoDemo(service, folder=tmp_path).records(str(fake), "fake.mp4")
    with pytest.raises(ValueError, match="fps"):
        VideoLimits(fps=0)


def test_track_endpoint_through_gradio_client(videos, clip: Path) -> None:
    pytest.importorskip("gradio", reason="the web demo needs the demo extra")
    from demo_server import no_outbound, served_demo
    from gradio_client import Client, handle_file

    with no_outbound() as outbound, served_demo() as (_, url):
        client = Client(url, verbose=False, analytics_enabled=False)
        endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        assert list(endpoints) == ["/predict", "/track"]
        records = client.predict(handle_file(str(clip)), None, None, None, api_name="/track")
        with pytest.raises(Exception, match="not offered"):
            client.predict(handle_file(str(clip)), "hf-hub:a/b", None, None, api_name="/track")
    assert outbound.attempts == []
    assert records == videos.records(str(clip), clip.name)
