#!/usr/bin/env bash
# Every CPU benchmark in sequence, each table into OUT_DIR (default benchmarks/results).
#   bash benchmarks/run_all.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-benchmarks/results}"
mkdir -p "$out"
uptime | tee "$out/load_start.txt"
python benchmarks/bench_startup.py --repeats 7 > "$out/startup.md"
if [ -x "${GLAMOR_ZOO_TF_PYTHON:-$HOME/tfvenv/bin/python}" ]; then  # the official TF2 model
    python benchmarks/bench_vs_tf.py --json "$out/vs_tf.json" > "$out/vs_tf.md"
fi
python benchmarks/bench_inference.py --models glamor_original glamor_mobilenetv2 glamor_resnet18 deep_emotion \
    --json "$out/inference.json" > "$out/inference.md"
python benchmarks/bench_predict.py --models deep_emotion glamor_original > "$out/predict.md"
python benchmarks/bench_train.py --models glamor_original glamor_mobilenetv2 glamor_resnet18 deep_emotion \
    --profile-out "$out/train_profile.md" > "$out/train.md"
uptime | tee "$out/load_end.txt"
