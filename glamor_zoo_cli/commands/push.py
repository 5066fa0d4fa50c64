"""``glamor-zoo push``: publish a model folder to the Hugging Face Hub (weights, config, card)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from glamor_zoo_cli.commands import CliError


def _metrics(value: str | None) -> Any:
    if value is None:
        return None
    text = Path(value).read_text(encoding="utf-8") if Path(value).is_file() else value
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(
            f"--metrics is neither a JSON object nor a JSON file: {value!r} ({exc})"
        ) from exc


def _preview_folder(out_dir: str, model_dir: str, overwrite: bool) -> Path:
    """``--dry-run``'s folder, claimed for config.json and README.md; never the model folder
    or a folder inside it (the source is never modified)."""
    from glamor_zoo.outputs import OutputFolderError, claim_outputs

    out, source = Path(out_dir).resolve(), Path(model_dir).resolve()
    if out == source or source in out.parents:
        raise CliError(
            f"--dry-run {out_dir!r} is the model folder {model_dir!r} or inside it: --dry-run "
            "writes nothing into the model folder; give another folder"
        )
    try:
        return claim_outputs(out, ("config.json", "README.md"), overwrite)
    except OutputFolderError as exc:
        raise CliError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    from huggingface_hub.errors import HfHubHTTPError

    from glamor_zoo.hub import CheckpointError, prepare_push, push_to_hub
    from glamor_zoo.serialization import atomic_write_text

    options = {
        "metrics": _metrics(args.metrics),
        "dataset": args.dataset,
        "recipe": args.recipe,
        "command": args.train_command,
        "base_model": args.base_model,
        "card_template": args.card_template,
    }
    try:
        if args.dry_run:
            config, card = prepare_push(args.model_dir, args.repo_id, **options)
            out = _preview_folder(args.dry_run, args.model_dir, args.overwrite)
            atomic_write_text(out / "config.json", json.dumps(config, indent=2) + "\n")
            atomic_write_text(out / "README.md", card)
            print(f"wrote {out / 'config.json'} and {out / 'README.md'}; nothing was uploaded")
            return 0
        info = push_to_hub(
            args.model_dir,
            args.repo_id,
            commit_message=args.message,
            private=args.private or None,
            token=args.token,
            **options,
        )
    except (FileNotFoundError, CheckpointError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    except HfHubHTTPError as exc:
        raise CliError(f"the Hub refused the push to {args.repo_id}: {exc}") from exc
    print(f"pushed {args.model_dir} to {args.repo_id}")
    print(f"commit: {info.oid}  ({info.commit_url})")
    print(f'load:   glamor_zoo.create_model("hf-hub:{args.repo_id}", revision="{info.oid}")')
    return 0
