"""Publishing to and loading from the Hub, end to end against a local Hub server (no network).

The real ``huggingface_hub`` client talks to ``tests/hub_server.py`` (started on port 0): pushes
go through create_repo / validate-yaml / preupload / commit, loads through HEAD + GET resolve
into a fresh cache. Tiny models (``glamor_test``) keep it fast.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import timm
import torch
from huggingface_hub import ModelCard, constants
from safetensors.torch import load_file, save_file
from timm.models import load_model_config_from_hf

import glamor_zoo
from glamor_zoo.hub import CheckpointError, card_metrics, render_model_card
from glamor_zoo.serialization import model_config, save_pretrained
from glamor_zoo.spec import ModelSpec, get_model_spec
from glamor_zoo_cli import main as cli_main

sys.path.insert(0, str(Path(__file__).parent))
from hub_server import HubServer

TOKEN = "hf_test_token"


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A running local Hub; the client points at it and caches into an empty folder."""
    with HubServer(token=TOKEN) as server:
        monkeypatch.setattr(constants, "ENDPOINT", server.endpoint)
        monkeypatch.setattr(
            constants,
            "HUGGINGFACE_CO_URL_TEMPLATE",
            server.endpoint + "/{repo_id}/resolve/{revision}/{filename}",
        )
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf_cache"))
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        yield server


def _inputs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(2, 3, 96, 96, generator=g), torch.rand(2, 3, 112, 112, generator=g)


def _tiny(**kwargs) -> torch.nn.Module:
    torch.manual_seed(0)
    model = glamor_zoo.create_model("glamor_test", **kwargs).eval()
    # Non-trivial BatchNorm statistics, so a load that silently skipped buffers would show.
    for name, buf in model.named_buffers():
        if name.endswith("running_mean"):
            buf.normal_(0, 0.1)
        elif name.endswith("running_var"):
            buf.uniform_(0.5, 2.0)
    return model


@torch.no_grad()
def _logits(model: torch.nn.Module) -> torch.Tensor:
    return model.eval()(*_inputs())


METRICS = {"top1": 46.9, "dataset": "ncaer_s", "split": "test"}


def test_push_then_load_gives_identical_logits(hub):
    import timm

    model = _tiny(attention="context", fusion="max")
    info = glamor_zoo.push_to_hub(model, "glamor-zoo/tiny-ctx-max", metrics=METRICS)

    commits = hub.commits("glamor-zoo/tiny-ctx-max")
    assert commits[0].oid == info.oid and len(commits) == 2  # repo creation + one push
    assert set(commits[0].files) == {
        ".gitattributes",
        "model.safetensors",
        "config.json",
        "README.md",
    }
    assert [m for m, p in hub.requests if p.endswith("/commit/main")] == ["POST"]
    config = json.loads(hub.file("glamor-zoo/tiny-ctx-max", "config.json"))
    assert (
        config["model_args"]["attention"] == "context" and config["model_args"]["fusion"] == "max"
    )
    assert config["metrics"] == METRICS
    assert config["spec"]["context_crop_offset"] == [8, 29]
    assert ModelSpec.from_dict(config["spec"]) == get_model_spec(model)
    # timm's own reader sees the architecture and the constructor arguments, not the spec.
    pretrained_cfg, architecture, model_args = load_model_config_from_hf("glamor-zoo/tiny-ctx-max")
    assert architecture == "glamor_test" and pretrained_cfg["input_size"] == [3, 96, 96]
    assert "spec" not in model_args and model_args["attention"] == "context"

    expected = _logits(model)
    loaded = glamor_zoo.create_model("hf-hub:glamor-zoo/tiny-ctx-max")
    assert loaded.model_args["attention"] == "context" and loaded.model_args["fusion"] == "max"
    assert torch.equal(_logits(loaded), expected)
    via_timm = timm.create_model("hf-hub:glamor-zoo/tiny-ctx-max", pretrained=True)
    assert torch.equal(_logits(via_timm), expected)
    assert list(via_timm.pretrained_cfg["label_names"]) == list(glamor_zoo.PAPER_LABELS)
    assert get_model_spec(via_timm) == get_model_spec(loaded) == get_model_spec(model)


def test_card_parses_and_carries_the_metrics(hub):
    glamor_zoo.push_to_hub(
        _tiny(),
        "glamor-zoo/tiny-card",
        metrics=METRICS,
        recipe={"epochs": 60, "lr": 5e-4},
        command="accelerate launch -m glamor_zoo.train recipes/x.yaml",
        base_model="glamor-zoo/glamor_original.caer_s",
    )
    card = ModelCard(hub.file("glamor-zoo/tiny-card", "README.md").decode())
    data = card.data
    assert data.library_name == "glamor-zoo"
    assert data.pipeline_tag == "image-classification"
    assert data.license == "mit"
    # NCAER-S has no Hub dataset: no datasets: entry; the model-index names it.
    assert data.datasets is None and data.metrics == ["accuracy"]
    assert data.base_model == "glamor-zoo/glamor_original.caer_s"
    assert {"glamor-zoo", "emotion-recognition", "glamor_test"} <= set(data.tags)
    (result,) = data.eval_results
    assert (result.dataset_name, result.dataset_split) == ("NCAER-S", "test")
    assert (result.metric_type, result.metric_value) == ("accuracy", 46.9)
    body = card.text
    assert body.index("import glamor_zoo") < body.index(
        'create_model("hf-hub:glamor-zoo/tiny-card")'
    )
    for section in (
        "## How to use",
        "## Training",
        "## Results",
        "## Limitations and biases",
        "## Citation",
    ):
        assert section in body
    assert "accelerate launch -m glamor_zoo.train recipes/x.yaml" in body and "lr: 0.0005" in body
    assert "@article{le2021global" in body
    # The Hub's own model info sees the metadata too.
    from huggingface_hub import HfApi

    info = HfApi().model_info("glamor-zoo/tiny-card")
    assert info.card_data.library_name == "glamor-zoo"


def test_card_usage_code_runs(hub):
    model = _tiny()
    glamor_zoo.push_to_hub(model, "glamor-zoo/tiny-usage")
    card = hub.file("glamor-zoo/tiny-usage", "README.md").decode()
    code = re.search(r"```python\n(.*?)```", card, re.DOTALL)[1]
    namespace: dict = {}
    exec(compile(code, "card-usage", "exec"), namespace)
    assert isinstance(namespace["model"], type(model))
    assert namespace["probs"].shape == (7,)


def test_second_push_updates_card_and_weights_in_one_commit_and_revisions_pin(hub):
    repo = "glamor-zoo/tiny-versions"
    v1 = _tiny()
    first = glamor_zoo.push_to_hub(v1, repo, metrics={"top1": 40.0, "dataset": "ncaer_s"})
    v2 = _tiny()
    with torch.no_grad():
        v2.head.fc.weight.add_(0.5)
    second = glamor_zoo.push_to_hub(v2, repo, metrics={"top1": 44.5, "dataset": "ncaer_s"})

    commits = hub.commits(repo)
    assert [c.oid for c in commits[:2]] == [second.oid, first.oid] and len(commits) == 3
    new, old = commits[0].files, commits[1].files
    assert new["model.safetensors"] != old["model.safetensors"]
    assert new["README.md"] != old["README.md"] and b"44.5" in new["README.md"]
    assert json.loads(new["config.json"])["metrics"]["top1"] == 44.5

    assert torch.equal(_logits(glamor_zoo.create_model(f"hf-hub:{repo}")), _logits(v2))
    pinned = glamor_zoo.create_model(f"hf-hub:{repo}", revision=first.oid)
    assert torch.equal(_logits(pinned), _logits(v1))
    assert torch.equal(_logits(glamor_zoo.create_model(f"hf-hub:{repo}@{first.oid}")), _logits(v1))
    with pytest.raises(ValueError, match="already names a revision"):
        glamor_zoo.create_model(f"hf-hub:{repo}@{first.oid}", revision="main")


def test_reload_offline_from_cache_and_cache_dir(hub, tmp_path, monkeypatch):
    model = _tiny(fusion="add")
    glamor_zoo.push_to_hub(model, "glamor-zoo/tiny-offline")
    cache = tmp_path / "own_cache"
    glamor_zoo.create_model("hf-hub:glamor-zoo/tiny-offline", cache_dir=cache)
    assert (cache / "models--glamor-zoo--tiny-offline" / "refs" / "main").is_file()
    warm = glamor_zoo.create_model("hf-hub:glamor-zoo/tiny-offline")

    hub.close()  # nothing to talk to any more
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    offline = glamor_zoo.create_model("hf-hub:glamor-zoo/tiny-offline")
    offline_own_cache = glamor_zoo.create_model("hf-hub:glamor-zoo/tiny-offline", cache_dir=cache)
    for loaded in (warm, offline, offline_own_cache):
        assert torch.equal(_logits(loaded), _logits(model))


def _publish(monkeypatch, name: str) -> None:
    """What publishing a tag is: its cfg loses ``published=False``."""
    from glamor_zoo.models import _factory

    monkeypatch.setattr(_factory, "_UNPUBLISHED", _factory._UNPUBLISHED - {name})


def test_unpublished_tag_fails_at_once_without_network(monkeypatch):
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    assert not glamor_zoo.is_published("glamor_original.caer_s")
    assert not glamor_zoo.is_published("glamor_face_only")  # its default tag
    assert glamor_zoo.is_published("deep_emotion.fer2013")
    assert glamor_zoo.is_published("hf-hub:glamor-zoo/glamor_original.caer_s")
    for name in ("glamor_original.caer_s", "glamor_face_only", "caer_net_s.caer_s"):
        with pytest.raises(glamor_zoo.WeightsNotPublishedError, match="not published yet"):
            glamor_zoo.create_model(name, pretrained=True)
    with pytest.raises(glamor_zoo.WeightsNotPublishedError, match="convert-tf"):
        timm.create_model("glamor_resnet18.caer_s", pretrained=True)
    assert glamor_zoo.create_model("glamor_original.caer_s").num_classes == 7  # random weights
    published = glamor_zoo.list_models(pretrained=True)
    assert "glamor_original.caer_s" not in published and "deep_emotion.fer2013" in published
    assert "glamor_original.caer_s" in glamor_zoo.list_models(pretrained=True, unpublished=True)


def test_unpublished_tag_loads_from_a_populated_cache(hub, monkeypatch):
    repo = "glamor-zoo/glamor_face_only.ncaer_s"
    torch.manual_seed(0)
    model = glamor_zoo.create_model("glamor_face_only").eval()
    glamor_zoo.push_to_hub(model, repo, validate=False)
    with pytest.raises(glamor_zoo.WeightsNotPublishedError):
        glamor_zoo.create_model("glamor_face_only.ncaer_s", pretrained=True)
    glamor_zoo.create_model(f"hf-hub:{repo}")  # hf-hub: names are never refused; fills the cache
    hub.close()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    cached = glamor_zoo.create_model("glamor_face_only.ncaer_s", pretrained=True).eval()
    face = torch.rand(2, 3, 96, 96)
    with torch.no_grad():
        assert torch.equal(cached(face), model(face))


def test_pretrained_tag_loads_through_hf_hub_id_and_pins(hub, monkeypatch):
    """``create_model("glamor_original.caer_s", pretrained=True)`` downloads the cfg's repo."""
    repo = "glamor-zoo/glamor_original.caer_s"
    _publish(monkeypatch, "glamor_original.caer_s")
    torch.manual_seed(0)
    v1 = glamor_zoo.create_model("glamor_original.caer_s").eval()
    assert v1.pretrained_cfg["hf_hub_id"] == repo
    first = glamor_zoo.push_to_hub(v1, repo, metrics={"top1": 46.5, "dataset": "ncaer_s"})
    v2 = glamor_zoo.create_model("glamor_original.caer_s").eval()
    glamor_zoo.push_to_hub(v2, repo, metrics={"top1": 46.8, "dataset": "ncaer_s"})

    latest = glamor_zoo.create_model("glamor_original.caer_s", pretrained=True)
    pinned = glamor_zoo.create_model("glamor_original.caer_s", pretrained=True, revision=first.oid)
    assert torch.equal(_logits(latest), _logits(v2))
    assert torch.equal(_logits(pinned), _logits(v1))
    assert ("GET", f"/{repo}/resolve/{first.oid}/model.safetensors") in hub.requests
    card = ModelCard(hub.file(repo, "README.md").decode())
    assert "| 46.80 | 46.91 (Le et al. 2021, Table 3) | -0.11 |" in card.text


@pytest.mark.slow
def test_glamor_resnet18_caer_s_loads_through_hf_hub_id(hub, monkeypatch):
    """The issue's example, with the real 22.9M-parameter model (about 90 MB of weights)."""
    _publish(monkeypatch, "glamor_resnet18.caer_s")
    model = glamor_zoo.create_model("glamor_resnet18").eval()
    assert model.pretrained_cfg["hf_hub_id"] == "glamor-zoo/glamor_resnet18.caer_s"
    glamor_zoo.push_to_hub(model, "glamor-zoo/glamor_resnet18.caer_s", validate=False)
    face, context = torch.rand(1, 3, 96, 96), torch.rand(1, 3, 112, 112)
    with torch.no_grad():
        loaded = glamor_zoo.create_model("glamor_resnet18.caer_s", pretrained=True).eval()
        assert torch.equal(loaded(face, context), model(face, context))


@pytest.mark.slow
def test_fresh_process_with_empty_hf_home_then_offline(hub, tmp_path):
    """The user's view: HF_ENDPOINT + an empty HF_HOME, then HF_HUB_OFFLINE=1 with no server."""
    model = _tiny(attention="none")
    glamor_zoo.push_to_hub(model, "glamor-zoo/tiny-process")
    face, context = _inputs()
    save_file({"face": face, "context": context}, str(tmp_path / "inputs.safetensors"))
    script = textwrap.dedent(
        f"""
        import sys, torch, timm
        import glamor_zoo
        from safetensors.torch import load_file, save_file
        x = load_file({str(tmp_path / "inputs.safetensors")!r})
        model = timm.create_model("hf-hub:glamor-zoo/tiny-process", pretrained=True).eval()
        with torch.no_grad():
            save_file({{"logits": model(x["face"], x["context"])}}, sys.argv[1])
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_ENDPOINT=hub.endpoint, HF_HOME=str(tmp_path / "home"))
    online = tmp_path / "online.safetensors"
    subprocess.run([sys.executable, "-c", script, str(online)], env=env, check=True, timeout=300)
    snapshots = tmp_path / "home" / "hub" / "models--glamor-zoo--tiny-process" / "snapshots"
    assert {p.name for p in next(snapshots.iterdir()).iterdir()} == {
        "config.json",
        "model.safetensors",
    }

    hub.close()
    offline = tmp_path / "offline.safetensors"
    env["HF_HUB_OFFLINE"] = "1"
    subprocess.run([sys.executable, "-c", script, str(offline)], env=env, check=True, timeout=300)
    expected = _logits(model)
    assert torch.equal(load_file(str(online))["logits"], expected)
    assert torch.equal(load_file(str(offline))["logits"], expected)


@pytest.mark.parametrize("name", ["glamor_test", "deep_emotion"])
def test_config_json_is_laid_out_as_timms_save_for_hf(name, tmp_path):
    """The zoo's config.json has timm's layout and pretrained_cfg; it only adds label_names and
    the spec at the top (where plain timm ignores it) and the zoo's model_args (timm records
    none of them), and drops the default tag."""
    from timm.models import save_for_hf

    model = glamor_zoo.create_model(name)
    ours_dir = save_pretrained(model, tmp_path / "ours")
    save_for_hf(model, str(tmp_path / "timm"), safe_serialization=True)
    ours = json.loads((ours_dir / "config.json").read_text())
    theirs = json.loads((tmp_path / "timm" / "config.json").read_text())
    assert {p.name for p in ours_dir.iterdir()} == {"config.json", "model.safetensors"}
    assert set(ours) - set(theirs) == {"label_names", "spec"}
    assert set(theirs) - set(ours) <= {"global_pool"}
    assert [k for k in ours if k in theirs] == [k for k in theirs if k in ours]  # timm's order
    for key in ("architecture", "num_classes", "num_features"):
        assert ours[key] == theirs[key]
    theirs["pretrained_cfg"].pop("tag", None)
    assert ours["pretrained_cfg"] == theirs["pretrained_cfg"]
    assert ours["spec"] == get_model_spec(model).to_dict() and "spec" not in ours["model_args"]
    reloaded = glamor_zoo.create_model(f"local-dir:{ours_dir}")
    assert reloaded.pretrained_cfg["architecture"] == name
    assert get_model_spec(reloaded) == get_model_spec(model)


# ----------------------------------------------------------------------- bad weights


def _cached_weights_error(repo: str) -> CheckpointError:
    with pytest.raises(CheckpointError) as info:
        glamor_zoo.create_model(f"hf-hub:{repo}")
    return info.value


def test_truncated_or_corrupt_hub_weights_name_the_cached_file(hub):
    repo = "glamor-zoo/tiny-broken"
    glamor_zoo.push_to_hub(_tiny(), repo)
    weights = hub.file(repo, "model.safetensors")

    hub.set_file(repo, "model.safetensors", weights[: len(weights) // 2], "truncate")
    error = _cached_weights_error(repo)
    assert "truncated or corrupt" in str(error)
    assert error.path.endswith("model.safetensors") and Path(error.path).is_file()
    assert "models--glamor-zoo--tiny-broken" in error.path

    hub.set_file(repo, "model.safetensors", b"\x00" * 64, "garbage")
    assert "truncated or corrupt" in str(_cached_weights_error(repo))

    hub.set_file(repo, "config.json", b"{not json", "bad config")
    with pytest.raises(CheckpointError, match=r"config\.json.*not valid JSON"):
        glamor_zoo.create_model(f"hf-hub:{repo}")


def test_weights_that_differ_from_the_recorded_sha256_are_refused(hub):
    repo = "glamor-zoo/tiny-bitflip"
    glamor_zoo.push_to_hub(_tiny(), repo)
    weights = bytearray(hub.file(repo, "model.safetensors"))
    config = json.loads(hub.file(repo, "config.json"))
    assert config["weights_sha256"] == hashlib.sha256(weights).hexdigest()
    weights[-3] ^= 0x01  # one flipped bit in the last tensor: still a valid safetensors file
    hub.set_file(repo, "model.safetensors", bytes(weights), "bit flip")
    error = _cached_weights_error(repo)
    assert "weights_sha256" in str(error) and "hf cache rm model/glamor-zoo/tiny-bitflip" in str(
        error
    )
    assert error.path.endswith("model.safetensors") and Path(error.path).is_file()


def test_mismatched_weights_name_the_file(hub):
    repo = "glamor-zoo/tiny-mismatch"
    glamor_zoo.push_to_hub(_tiny(), repo)
    other = _tiny(num_classes=3, attention="context")
    from safetensors.torch import save

    hub.set_file(repo, "model.safetensors", save(other.state_dict()), "wrong weights")
    error = _cached_weights_error(repo)
    assert "do not fit" in str(error) and error.path.endswith("model.safetensors")


def test_local_dir_errors_name_the_file(tmp_path):
    folder = save_pretrained(_tiny(), tmp_path / "model")
    assert torch.equal(_logits(glamor_zoo.create_model(f"local-dir:{folder}")), _logits(_tiny()))
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="truncated or corrupt") as info:
        glamor_zoo.create_model(f"local-dir:{folder}")
    assert info.value.path == str(weights)
    weights.unlink()
    with pytest.raises(CheckpointError, match=r"no model\.safetensors"):
        glamor_zoo.create_model(f"local-dir:{folder}")
    with pytest.raises(CheckpointError, match=r"config\.json"):
        glamor_zoo.create_model(f"local-dir:{tmp_path / 'nowhere'}")
    good = save_pretrained(_tiny(), tmp_path / "good")
    with pytest.raises(CheckpointError, match="do not fit") as info:
        glamor_zoo.create_model(
            "glamor_test", num_classes=5, checkpoint_path=good / "model.safetensors"
        )
    assert info.value.path == str(good / "model.safetensors")


def test_push_refuses_a_folder_whose_weights_do_not_load(hub, tmp_path):
    folder = save_pretrained(_tiny(), tmp_path / "model")
    save_file(_tiny(attention="context").state_dict(), str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError, match="do not fit"):
        glamor_zoo.push_to_hub(folder, "glamor-zoo/never")
    assert "glamor-zoo/never" not in hub.repos
    (folder / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match=r"model\.safetensors: missing"):
        glamor_zoo.push_to_hub(folder, "glamor-zoo/never")


def test_revision_needs_a_hub_model():
    with pytest.raises(ValueError, match="needs a Hub model"):
        glamor_zoo.create_model("glamor_test", revision="main")


# ----------------------------------------------------------------------- the CLI


def test_cli_push_folder_uses_config_metrics(hub, tmp_path, capsys):
    model = _tiny()
    folder = save_pretrained(model, tmp_path / "run", metrics={"top1": 0.455, "dataset": "NCAER-S"})
    before = (folder / "config.json").read_bytes()
    assert (
        cli_main(["push", str(folder), "glamor-zoo/tiny-cli", "--command", "python train.py"]) == 0
    )
    out = capsys.readouterr().out
    oid = hub.commits("glamor-zoo/tiny-cli")[0].oid
    assert oid in out and "revision=" in out
    card = ModelCard(hub.file("glamor-zoo/tiny-cli", "README.md").decode())
    assert card.data.eval_results[0].metric_value == pytest.approx(45.5)
    assert "python train.py" in card.text
    assert (folder / "config.json").read_bytes() == before  # the folder is never modified
    loaded = glamor_zoo.create_model("hf-hub:glamor-zoo/tiny-cli", revision=oid)
    assert torch.equal(_logits(loaded), _logits(model))


def test_cli_dry_run_and_errors(hub, tmp_path, capsys):
    folder = save_pretrained(_tiny(), tmp_path / "run")
    out = tmp_path / "preview"
    metrics = json.dumps({"top1": 41.0, "dataset": "ncaer_s"})
    assert (
        cli_main(["push", str(folder), "org/x", "--metrics", metrics, "--dry-run", str(out)]) == 0
    )
    assert ModelCard((out / "README.md").read_text()).data.eval_results[0].metric_value == 41.0
    assert json.loads((out / "config.json").read_text())["metrics"]["top1"] == 41.0
    assert hub.repos == {}

    capsys.readouterr()
    assert cli_main(["push", str(tmp_path / "missing"), "org/x"]) == 2
    assert "no such model folder" in capsys.readouterr().err
    assert cli_main(["push", str(folder), "org/x", "--metrics", "{oops"]) == 2
    assert "--metrics" in capsys.readouterr().err
    assert cli_main(["push", str(folder), "org/x", "--token", "wrong"]) == 2
    assert "refused" in capsys.readouterr().err


# ----------------------------------------------------------------------- cards


def test_card_shows_results_next_to_the_paper():
    config = model_config(
        glamor_zoo.create_model("glamor_original"), metrics={"top1": 46.0, "dataset": "ncaer_s"}
    )
    card = ModelCard(render_model_card(config, "glamor-zoo/glamor_original.ncaer_s"))
    assert (
        "| NCAER-S | test | Top-1 accuracy (%) | 46.00 | 46.91 (Le et al. 2021, Table 3) | -0.91 |"
        in card.text
    )
    assert card.data.eval_results[0].metric_value == 46.0
    # The default tag's description (the authors' converted checkpoint) is not about these weights.
    assert "TF2 checkpoint" not in card.text
    assert card.text.count("| NCAER-S |") == 1


def test_card_without_metrics_shows_the_paper_number_unevaluated():
    config = model_config(glamor_zoo.create_model("glamor_original"), dataset="caer_s")
    card = ModelCard(render_model_card(config, "org/original"))
    assert "not evaluated | 77.90" in card.text
    assert card.data.eval_results is None and card.data.datasets is None
    assert card.data.metrics is None


def test_a_hub_dataset_id_is_listed_as_given():
    config = model_config(
        glamor_zoo.create_model("glamor_test"),
        metrics={"top1": 51.0, "dataset": "my-org/Faces-2026", "split": "test"},
    )
    card = ModelCard(render_model_card(config, "org/name"))
    assert card.data.datasets == ["my-org/Faces-2026"] and card.data.metrics == ["accuracy"]
    assert card.data.eval_results[0].dataset_type == "my-org/Faces-2026"


def test_training_style_metrics_are_normalised():
    metrics = {
        "dataset": "fer2013",
        "val_accuracy": 0.6812,
        "val_loss": 0.91,
        "best_epoch": 41,
        "wall_s": 1200.0,
        "confusion": [[1, 2], [3, 4]],
    }
    got = {(m.split, m.key): round(m.value, 4) for m in card_metrics(metrics)}
    assert got == {("validation", "accuracy"): 68.12, ("validation", "loss"): 0.91}
    with pytest.raises(ValueError, match="which dataset"):
        card_metrics({"top1": 40.0})


def test_training_run_folder_gets_its_dataset_metrics_and_paper_number(tmp_path):
    """What ``glamor-zoo train --push-to-hub`` writes: metrics by split, a loader kind, a recipe."""
    final = {
        "val": {"split": "val", "top1": 47.5, "loss": 1.4, "per_class_accuracy": {"Anger": 40.0}},
        "test": {"split": "test", "top1": 46.2, "mean_class_accuracy": 45.0, "num_samples": 2000},
    }
    training = {"name": "glamor_original_ncaer_s", "paper_accuracy": 46.91, "run": {"epochs": 60}}
    config = model_config(
        glamor_zoo.create_model("glamor_original"),
        metrics=final,
        recipe="glamor_original_ncaer_s",
        dataset={"kind": "caer", "root": "data/NCAER-S"},
        training=training,
        command="accelerate launch recipes/train.py --config recipes/glamor_original_ncaer_s.yaml",
    )
    card = ModelCard(render_model_card(config, "glamor-zoo/glamor_original.ncaer_s"))
    results = {(r.dataset_split, r.metric_type): r.metric_value for r in card.data.eval_results}
    assert results == {
        ("validation", "accuracy"): 47.5,
        ("validation", "loss"): 1.4,
        ("test", "accuracy"): 46.2,
        ("test", "balanced_accuracy"): 45.0,
    }
    assert card.data.datasets is None
    assert card.data.metrics == ["accuracy", "balanced_accuracy", "loss"]
    assert {r.dataset_type for r in card.data.eval_results} == {"ncaer_s"}
    assert (
        "| NCAER-S | test | Top-1 accuracy (%) | 46.20 | 46.91 (Le et al. 2021, Table 3) | -0.71 |"
        in card.text
    )
    assert "| NCAER-S | validation | Top-1 accuracy (%) | 47.50 | — | — |" in card.text
    assert (
        "paper_accuracy: 46.91" in card.text and "recipes/glamor_original_ncaer_s.yaml" in card.text
    )


@pytest.mark.parametrize("template", ["glamor_net", "deep_emotion", "face_only", "default"])
def test_every_shipped_template_renders_and_parses(template):
    config = model_config(_tiny(), metrics=METRICS)
    card = ModelCard(render_model_card(config, "org/name", template=template))
    assert card.data.library_name == "glamor-zoo"
    assert "${" not in card.text and "{{" not in card.text and "{%" not in card.text
    assert (
        "# name\n" in card.text and "| NCAER-S | test | Top-1 accuracy (%) | 46.90 |" in card.text
    )


def test_card_round_trips_through_model_card_with_its_metrics_and_dataset(hub):
    """Rendered by ``ModelCard.from_template``: the YAML validates, parses back to the same card,
    and both the metadata and the body name the metrics and the dataset."""
    metrics = {"top1": 46.9, "loss": 1.3, "dataset": "ncaer_s", "split": "test"}
    text = render_model_card(model_config(_tiny(), metrics=metrics), "glamor-zoo/round-trip")
    card = ModelCard(text)
    card.validate()  # the Hub's YAML check (here: the local server's)
    assert ("POST", "/api/validate-yaml") in hub.requests
    assert str(card) == text and text.startswith("---\n") and text.endswith("\n")
    assert card.data.model_name == "round-trip" and card.data.library_name == "glamor-zoo"
    got = {
        (r.dataset_name, r.dataset_type, r.dataset_split, r.metric_type, r.metric_value)
        for r in card.data.eval_results
    }
    assert got == {
        ("NCAER-S", "ncaer_s", "test", "accuracy", 46.9),
        ("NCAER-S", "ncaer_s", "test", "loss", 1.3),
    }
    assert card.data.metrics == ["accuracy", "loss"]
    assert "| NCAER-S | test | Top-1 accuracy (%) | 46.90 |" in card.text
    assert "| NCAER-S | test | Cross-entropy loss | 1.3 |" in card.text
    assert "trained for NCAER-S; it scores 46.90 % top-1 accuracy on NCAER-S test" in card.text


def test_custom_card_templates_are_jinja_and_checked(tmp_path):
    config = model_config(_tiny(), metrics=METRICS)
    custom = tmp_path / "custom.md"
    custom.write_text(
        "---\n{{ card_data }}\n---\n\n# {{ title }} ({{ license }})\n\n"
        "{% for tag in tags %}`{{ tag }}` {% endfor %}\n\n{{ results }}\n"
    )
    card = ModelCard(render_model_card(config, "org/custom", template=custom))
    assert card.text.startswith("\n# custom (mit)\n") and "`emotion-recognition`" in card.text
    assert card.data.eval_results[0].metric_value == 46.9 and "| 46.90 |" in card.text

    custom.write_text("# ${title}\n\n${results}\n")  # a 0.1.x string.Template template
    with pytest.raises(ValueError, match=r"Jinja since 0\.2\.0.*\{\{ results \}\}"):
        render_model_card(config, "org/custom", template=custom)
    custom.write_text("---\n{{ card_data }}\n---\n{{ nonsense }}\n")
    with pytest.raises(ValueError, match=r"unknown variables \['nonsense'\].*usage"):
        render_model_card(config, "org/custom", template=custom)
    custom.write_text("# {{ title }}\n\n{{ results }}\n")
    with pytest.raises(ValueError, match="metadata block"):
        render_model_card(config, "org/custom", template=custom)
    custom.write_text("---\n{{ card_data }}\n---\n{% if %}\n")
    with pytest.raises(ValueError, match="not valid Jinja"):
        render_model_card(config, "org/custom", template=custom)


def test_templates_ship_inside_the_package():
    """A real folder of the package (no link to a folder outside it), one template a family."""
    from importlib import resources

    folder = Path(__file__).parents[1] / "glamor_zoo" / "hub" / "card_templates"
    assert folder.is_dir() and not folder.is_symlink()
    assert not any(path.is_symlink() for path in folder.iterdir())
    shipped = resources.files("glamor_zoo.hub").joinpath("card_templates")
    names = {path.name for path in shipped.iterdir() if path.name.endswith(".md")}
    assert {"face_only.md", "glamor_net.md", "deep_emotion.md", "default.md"} <= names
