"""``glamor-zoo push``: publish a model folder to the Hugging Face Hub (weights, config, card):
the arguments (the work is ``glamor_zoo_cli.commands.push``)."""

from __future__ import annotations

from typing import Any


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
    parser.add_argument(
        "--card-template",
        help="Jinja card template file (see docs/publishing.md) or shipped template name",
    )
    parser.add_argument(
        "--dry-run",
        metavar="OUT_DIR",
        help="write the config.json and README.md that would be pushed to OUT_DIR (not "
        "MODEL_DIR, nor a folder inside it); upload nothing",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="--dry-run: replace config.json and README.md in OUT_DIR even when glamor-zoo did "
        "not write them (by default such files are refused)",
    )
    parser.set_defaults(run_module="glamor_zoo_cli.commands.push")
