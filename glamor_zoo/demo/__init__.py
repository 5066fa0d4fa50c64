"""The web demo: a Gradio page (``glamor-zoo demo``, ``app.py`` on a Hugging Face Space).

- :mod:`~glamor_zoo.demo.service`: what the page computes, without Gradio
  (:class:`DemoService`: the models and detectors offered, upload limits, the records of
  ``glamor-zoo predict --format json``, the pictures).
- :mod:`~glamor_zoo.demo.page`: the Gradio page and its ``/predict`` API endpoint
  (:func:`~glamor_zoo.demo.page.build_demo`, :func:`~glamor_zoo.demo.page.launch_demo`);
  needs the ``demo`` extra: ``pip install "glamor-zoo[demo]"``.
- :mod:`~glamor_zoo.demo.guard`: the middleware that keeps the server from fetching URLs.

Importing this package does not import Gradio.
"""

from __future__ import annotations

from glamor_zoo.demo import service
from glamor_zoo.demo.service import *  # noqa: F403 (the package re-exports the service's API)

__all__ = service.__all__
