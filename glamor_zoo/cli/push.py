"""``glamor-zoo push``: publish a model folder to the Hugging Face Hub (weights, config, card)."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from glamor_zoo.cli import CliError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "push",
        help="publish a model folder to the Hugging Face Hub in one commit",
        description=(
            "Upload MODEL_DIR/model.safetensors, its config.json (with the metrics, dataset, "
            "recipe and command merged in) and a freshly rendered model card (README.md) to "
            "REPO_ID as one commit. MODEL_DIR is a folder written by save_pretrained, a training "
            "run or convert-tf; it is checked (the weights must load into the model its config "
            "describes) and never modified. Metrics already in config.json go into the card."
        ),
    )
    parser.add_argument("model_dir", help="folder holding model.safetensors and config.json")
    parser.add_argument("repo_id", help="Hub repository, org/name")
    parser.add_argument(
        "--metrics",
        metavar="JSON_OR_FILE",
        help='measured metrics, e.g. \'{"top1": 46.9, "dataset": "ncaer_s"}\' or a JSON file '
        "(default: config.json's)",
    )
    parser.add_argument("--dataset", help="training dataset, e.g. ncaer_s, caer_s, fer2013")
    parser.add_argument("--recipe", help="recipe YAML (its text goes into the card) or a name")
    parser.add_argument(
        "--command",
        dest="train_command",
        metavar="COMMAND",
        help="the command that trained the model",
    )
    parser.add_argument("--base-model", help="Hub id this model was fine-tuned from")
    parser.add_argument("--message", help="commit message")
    parser.add_argument("--private", action="store_true", help="create the repository as private")
    parser.add_argument("--token", help="Hub token (default: saved login or HF_TOKEN)")
    parser.add_argument("--card-template", help="card template file or shipped template name")
    parser.add_argument(
        "--dry-run",
        metavar="OUT_DIR",
        help="write the config.json and README.md that would be pushed to OUT_DIR; upload nothing",
    )
    parser.set_defaults(func=run)


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


def run(args: argparse.Namespace) -> int:
    from huggingface_hub.errors import HfHubHTTPError

    if not getattr(args, "verbose", False):
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per HTTP request

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
            out = Path(args.dry_run)
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
