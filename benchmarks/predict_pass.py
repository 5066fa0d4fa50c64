"""One warm end-to-end ``predict`` measurement, printed as JSON (run by ``bench_predict.py
--versus`` in a child process, under the code of either side: only API that the older
commits already had is used).

    python benchmarks/predict_pass.py FOLDER --model deep_emotion.fer2013 [--max-side N]

Times whole passes of ``EmotionRecognizer(model, detector="mtcnn", fast=False)`` over the
folder's photos, after one warm-up pass, and splits each pass into stages by timing the
recogniser's own steps: decode (``_load``), detect (``detector.detect``), classify (the
model's forward calls) and the rest (preprocessing: crops, resizing, batching, results).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch


class StageClock:
    """Seconds spent in each wrapped call, summed since the last :meth:`reset`."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._started: dict[str, float] = {}

    def reset(self) -> None:
        self.seconds = {}

    def wrap(self, name: str, fn):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

        return timed

    def hook(self, name: str, module: torch.nn.Module) -> None:
        def before(*_):
            self._started[name] = time.perf_counter()

        def after(*_):
            spent = time.perf_counter() - self._started.pop(name)
            self.seconds[name] = self.seconds.get(name, 0.0) + spent

        module.register_forward_pre_hook(before)
        module.register_forward_hook(after)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--model", default="deep_emotion.fer2013")
    parser.add_argument("--max-side", type=int, default=None, help="0: the full image")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from glamor_zoo.inference import EmotionRecognizer

    kwargs = {} if args.max_side is None else {"max_side": args.max_side or None}
    rec = EmotionRecognizer(args.model, detector="mtcnn", device="cpu", fast=False, **kwargs)
    clock = StageClock()
    rec._load = clock.wrap("decode", rec._load)  # a static method: the instance's copy wins
    rec.detector.detect = clock.wrap("detect", rec.detector.detect)
    clock.hook("classify", rec._runner)
    paths = sorted(str(p) for p in args.folder.iterdir())
    start = time.perf_counter()
    results = rec(paths)
    warmup = time.perf_counter() - start
    passes, stages = [], []
    for _ in range(args.rounds):
        clock.reset()
        start = time.perf_counter()
        results = rec(paths)
        passes.append(time.perf_counter() - start)
        stages.append(dict(clock.seconds))
    median = statistics.median(passes)
    nearest = min(range(len(passes)), key=lambda i: abs(passes[i] - median))
    chosen = stages[nearest]  # the pass nearest the median, split by its own total
    chosen["preprocess and the rest"] = passes[nearest] - sum(chosen.values())
    print(
        json.dumps(
            {
                "python_path": os.environ.get("PYTHONPATH", ""),
                "module": sys.modules["glamor_zoo"].__file__,
                "detector": repr(rec.detector),
                "images": len(paths),
                "warmup_s": warmup,
                "passes_s": passes,
                "images_per_s": len(paths) / median,
                "stages_s": chosen,
                "boxes": {
                    Path(p).name: [list(f.box) for f in r.faces]
                    for p, r in zip(paths, results, strict=True)
                },
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
