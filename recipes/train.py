"""Train a glamor_zoo recipe.

    accelerate launch recipes/train.py --config recipes/glamor_original_ncaer_s.yaml data.root=/data/NCAER-S
    python recipes/train.py --config recipes/glamor_face_only_ckplus48.yaml run.epochs=2
    python recipes/train.py --config recipes/deep_emotion_ckplus.yaml run.epochs=2 'data.folds=[0,1]'

Same options as ``glamor-zoo train``: ``--resume``, ``--push-to-hub ORG/NAME``, ``--output-dir``,
and ``key=value`` overrides of the recipe.
"""

import sys

from glamor_zoo_cli.commands.train import main

if __name__ == "__main__":
    sys.exit(main())
