"""The Gradio page of the web demo (``glamor-zoo demo``, ``app.py``; the ``demo`` extra).

One photo (upload, webcam or clipboard) → the photo with labelled boxes, a per-face table,
and where the model looks: the attention map over the masked context for context models, the
occlusion saliency for face-only ones. One short video (:mod:`~glamor_zoo.demo.video`, within
its limits) → each person tracked, the annotated video, the timeline and a per-person table.
The same inference is the named API endpoints ``/predict`` (a photo) and ``/track`` (a video),
which return the JSON records of ``glamor-zoo predict --format json``::

    from gradio_client import Client, handle_file

    records = Client("http://127.0.0.1:7860/").predict(
        handle_file("photo.jpg"), "face_resnet26.fer2013", "mtcnn", "exact", None,
        api_name="/predict",
    )

The server makes no outbound request: analytics are off, the page's assets (fonts included)
are served by the server itself, and :class:`~glamor_zoo.demo.guard.NoRemoteFetch` refuses
requests that would make Gradio fetch a URL. Only uploads are served back (Gradio's file
route refuses every other path), uploads are size-limited, and the images are decoded by the
zoo's safe loader, never by Gradio.
"""

from __future__ import annotations

import os

# NOTE: gradio reads this when it is imported and when a page is launched: never phone home.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from typing import Any

import gradio as gr

from glamor_zoo.demo.guard import NoRemoteFetch
from glamor_zoo.demo.service import MODES, Analysis, DemoInputError, DemoService
from glamor_zoo.demo.video import VideoDemo

__all__ = ["build_demo", "launch_demo"]

_INTRO = """\
# glamor_zoo: emotions in a photo

Upload a photo (or take one with the webcam). Faces are found by the detector, and each one
is classified by the model; context models (GLAMOR-Net) also read the scene around the face,
with the face masked. Results are a demonstration: read the models' cards for their accuracy.
"""


def _upload(value: Any, what: str = "a photo") -> tuple[str, str | None]:
    """(server path, uploaded name) of a file input as Gradio hands it over unprocessed."""
    if isinstance(value, dict) and isinstance(value.get("path"), str):
        return value["path"], value.get("orig_name")
    raise gr.Error(f"Upload {what} first.")


def _table(analysis: Analysis) -> dict[str, Any]:
    return {"headers": analysis.headers or ["face"], "data": analysis.rows or [[""]]}


def _wire(
    button: gr.Button,
    view: Any,
    endpoint: Any,
    api_name: str,
    inputs: list[Any],
    outputs: list[Any],
) -> None:
    """``button`` shows ``view``'s ``outputs`` (no API endpoint); a hidden button makes
    ``endpoint`` (the records, into the last output) the API endpoint ``/api_name``."""
    # NOTE: preprocess=False hands the upload over as Gradio stored it (path and name):
    # Gradio never decodes it; the zoo's loader does, with the predict command's rules.
    button.click(view, inputs, outputs, preprocess=False, api_visibility="private")
    api = gr.Button(visible=False)
    api.click(endpoint, inputs, outputs[-1], preprocess=False, api_name=api_name)


def build_demo(service: DemoService, videos: VideoDemo | None = None) -> gr.Blocks:
    """The demo page over ``service``, with its ``/predict`` and ``/track`` API endpoints.

    Args:
        service: What runs the models and which choices it offers.
        videos: The video path and its limits (default: :class:`VideoDemo` of ``service``).
    """
    videos = videos or VideoDemo(service)

    def page(image: Any, model: str, detector: str, mode: str, threshold: Any) -> tuple:
        path, name = _upload(image)
        try:
            analysis = service.analyse(
                path, name, model=model, detector=detector, mode=mode, threshold=threshold
            )
        except DemoInputError as exc:
            raise gr.Error(str(exc)) from None
        return (
            analysis.summary,
            analysis.annotated,
            _table(analysis),
            analysis.explanations,
            analysis.record,
        )

    def predict(image: Any, model: str, detector: str, mode: str, threshold: Any) -> list:
        path, name = _upload(image)
        try:
            return service.records(
                path, name, model=model, detector=detector, mode=mode, threshold=threshold
            )
        except DemoInputError as exc:
            raise gr.Error(str(exc)) from None

    def video_page(clip: Any, model: str, detector: str, threshold: Any) -> tuple:
        path, name = _upload(clip, "a video")
        try:
            analysis = videos.analyse(
                path, name, model=model, detector=detector, threshold=threshold
            )
        except DemoInputError as exc:
            raise gr.Error(str(exc)) from None
        table = {
            "headers": analysis.headers,
            "data": analysis.rows or [[""] * len(analysis.headers)],
        }
        return analysis.summary, analysis.annotated, analysis.plot, table, analysis.records

    def track(clip: Any, model: str, detector: str, threshold: Any) -> list:
        path, name = _upload(clip, "a video")
        try:
            return videos.records(path, name, model=model, detector=detector, threshold=threshold)
        except DemoInputError as exc:
            raise gr.Error(str(exc)) from None

    with gr.Blocks(title="glamor_zoo demo", analytics_enabled=False) as demo:
        gr.Markdown(_INTRO)
        with gr.Row():
            with gr.Column(scale=1):
                photo = gr.Image(
                    label="photo",
                    sources=["upload", "webcam", "clipboard"],
                    type="filepath",
                    elem_id="photo",
                )
                model = gr.Dropdown(
                    choices=[(c.label, c.name) for c in service.model_choices],
                    value=service.default_model,
                    label="model",
                    elem_id="model",
                )
                detector = gr.Dropdown(
                    choices=service.detector_choices,
                    value=service.default_detector,
                    label="face detector",
                    elem_id="detector",
                )
                mode = gr.Radio(
                    choices=list(MODES),
                    value="exact",
                    label="context (context models): each face's own, or one shared per photo",
                    elem_id="mode",
                )
                threshold = gr.Number(
                    value=service.default_threshold(service.default_detector),
                    label="minimum face score (set to the detector's default when it changes)",
                    elem_id="threshold",
                )
                run = gr.Button("Recognise emotions", variant="primary", elem_id="run")
            with gr.Column(scale=2):
                summary = gr.Markdown(elem_id="summary")
                annotated = gr.Image(
                    label="faces", type="pil", format="png", interactive=False, elem_id="annotated"
                )
                table = gr.Dataframe(label="per face", interactive=False, elem_id="faces")
                explanations = gr.Gallery(
                    label="where the model looks", columns=4, elem_id="explanations"
                )
                with gr.Accordion("JSON record (as glamor-zoo predict --format json)", open=False):
                    records = gr.JSON(elem_id="records")
        inputs = [photo, model, detector, mode, threshold]
        outputs = [summary, annotated, table, explanations, records]
        _wire(run, page, predict, "predict", inputs, outputs)
        detector.change(service.default_threshold, detector, threshold, api_visibility="private")
        limits = videos.limits
        with gr.Accordion("Video: people over time", open=False, elem_id="video_section"):
            gr.Markdown(
                f"A clip of at most {limits.max_seconds:g} s, frames of at most "
                f"{limits.max_pixels:,} pixels, a file of at most "
                f"{service.max_upload_bytes / 2**20:.0f} MB; {limits.fps:g} frames per second "
                "are read. Each person is followed from frame to frame (one colour each) and "
                "their emotion is smoothed over time. The model, detector and threshold above "
                "apply."
            )
            with gr.Row():
                with gr.Column(scale=1):
                    clip = gr.Video(label="video", sources=["upload"], elem_id="video")
                    track_run = gr.Button("Track people", variant="primary", elem_id="track")
                with gr.Column(scale=2):
                    video_summary = gr.Markdown(elem_id="video_summary")
                    annotated_video = gr.Video(
                        label="people", interactive=False, elem_id="annotated_video"
                    )
                    timeline = gr.Image(
                        label="timeline", type="pil", format="png", interactive=False,
                        elem_id="timeline",
                    )  # fmt: skip
                    people = gr.Dataframe(label="per person", interactive=False, elem_id="people")
                    with gr.Accordion("JSON records", open=False):
                        video_records = gr.JSON(elem_id="video_records")
        video_inputs = [clip, model, detector, threshold]
        video_outputs = [video_summary, annotated_video, timeline, people, video_records]
        _wire(track_run, video_page, track, "track", video_inputs, video_outputs)
    return demo


def launch_demo(
    service: DemoService,
    host: str = "127.0.0.1",
    port: int | None = 7860,
    share: bool = False,
    block: bool = True,
    quiet: bool = False,
) -> gr.Blocks:
    """Build the page and serve it.

    Args:
        service: What runs the models.
        host: Address to listen on (``0.0.0.0`` for every interface).
        port: Port (``None``: the first free one from 7860).
        share: Also open a public ``*.gradio.live`` link through Gradio's tunnel (an
            outbound connection to Gradio's servers; off by default).
        block: Serve until interrupted; ``False`` returns once the server is up.
        quiet: Print nothing.

    Returns:
        The running page (``.local_url``; ``.close()`` stops it).
    """
    from starlette.middleware import Middleware

    demo = build_demo(service)
    demo.queue(default_concurrency_limit=1)
    demo.launch(
        server_name=host,
        server_port=port,
        share=share,
        prevent_thread_lock=not block,
        quiet=quiet,
        ssr_mode=False,
        max_file_size=service.max_upload_bytes,
        app_kwargs={"middleware": [Middleware(NoRemoteFetch)]},
    )
    return demo
