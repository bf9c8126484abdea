#!/usr/bin/env bash
# The whole GPU measurement in one run (about 8 minutes on one H100): decode the JPEG-q75 copy, train gpu-fast
# with 3 seeds and gpu-best once, print the table (preset, seed, accuracy, train seconds, card).
#
# On the device machine, from the repository root, with ../shared/data/cifar10/{cifar10_jpeg_q75.npz,build.py}
# copied into gpu_data/ (git-ignored) and carried:   bash bench/gpu_p2.sh
# A tiny dry run on the CPU (checks the script, not the numbers):
#   P2_BENCH_ARGS="--device cpu --epochs 0.02" CIFAR10_DIR=data/cifar10 bash bench/gpu_p2.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${CIFAR_SRC:-gpu_data}
DATA=${CIFAR10_DIR:-$SRC/decoded}
OUT=${OUT:-scratch/gpu_p2}
mkdir -p "$OUT"
if [ ! -f "$DATA/cifar-10-batches-bin/test_batch.bin" ]; then
    python3 "$SRC/build.py" "$DATA" --format bin
fi
python3 -c "import torch; print('torch', torch.__version__, '| device:', torch.cuda.get_device_name() if torch.cuda.is_available() else 'CPU only')"
# shellcheck disable=SC2086  # P2_BENCH_ARGS is a list of words on purpose
python3 bench/p2_runs.py --data-dir "$DATA" --out "$OUT" --table "$OUT/table.md" \
    --runs gpu-fast:0 gpu-fast:1 gpu-fast:2 gpu-best:0 -- --no-epoch-eval ${P2_BENCH_ARGS:-}
