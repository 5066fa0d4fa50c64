"""The glamor_zoo web demo as a Hugging Face Space (``sdk: gradio``, ``app_file: app.py``).

Locally this is ``glamor-zoo demo``; on a Space, the platform runs ``python app.py`` with
``GRADIO_SERVER_NAME=0.0.0.0`` and ``GRADIO_SERVER_PORT=7860`` set. ``docs/demo.md`` says how
to push a Space. Extra models to offer first: ``GLAMOR_ZOO_DEMO_MODELS="hf-hub:org/a,hf-hub:org/b"``.
"""

from __future__ import annotations

import os

from glamor_zoo.demo import DemoService
from glamor_zoo.demo.page import launch_demo


def main() -> None:
    models = [m for m in os.environ.get("GLAMOR_ZOO_DEMO_MODELS", "").split(",") if m.strip()]
    launch_demo(
        DemoService([m.strip() for m in models]),
        host=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
    )


if __name__ == "__main__":
    main()
