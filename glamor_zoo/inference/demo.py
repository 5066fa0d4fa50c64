"""The demo photo shipped inside the package (for the README's first command)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEMO_IMAGE", "demo_image_path"]

# An office scene with five people (Pexels licence), downscaled to 960×640.
DEMO_IMAGE = "group.jpg"


def demo_image_path() -> Path:
    """Path of the packaged demo photo (``glamor_zoo/assets/group.jpg``)."""
    path = Path(__file__).resolve().parent.parent / "assets" / DEMO_IMAGE
    if not path.is_file():
        raise FileNotFoundError(f"the demo photo is missing from this installation: {path}")
    return path
