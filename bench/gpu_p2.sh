#!/usr/bin/env bash
# The whole GPU measurement in one run (about 8 minutes on one H100): decode the JPEG-q75 copy; train ours
# gpu-fast with 5 seeds (and 2 more with --compile) and gpu-best once, and the public airbench 0.1.8 train94 3 times and train96 once on the
# same decoded data; print one table (accuracy, train seconds, card) with ours relative to airbench.
#
# Carry in gpu_data/ (git-ignored): cifar10_q75_compact.npz and build.py (the q75 copy and its decoder), and
# airbench-0.1.8.tar.gz (`pip download airbench==0.1.8 --no-deps --no-binary :all: -d gpu_data`); 18 MB, so delete
# a gpu_data/decoded/ left by a dry run first. Then, from the repository root on the GPU machine:
#   bash bench/gpu_p2.sh        (the table and the whole log land in $OUT; the decoded data in gpu_data/decoded/)
# A dry run on the CPU (checks the script end to end, not the numbers; airbench needs CUDA and stops after its
# set-up; p2 reads only complete batch files, so the dry run trains a few steps on the full set):
#   P2_BENCH_ARGS="--device cpu --epochs 0.04 --batch-size 500" OUT=scratch/dry bash bench/gpu_p2.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${CIFAR_SRC:-gpu_data}
OUT=${OUT:-scratch/gpu_p2}     # on the GPU machine, the folder whose files come back
DATA=${DATA:-$SRC/decoded}     # 180 MB decoded: kept out of $OUT
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1      # through tee, lines stay in the order they were printed

measure() {
    if [ ! -f "$DATA/cifar-10-batches-bin/test_batch.bin" ]; then
        python3 "$SRC/build.py" "$DATA" --format bin
    fi
    rm -rf "$OUT/airbench-0.1.8" && tar xzf "$SRC/airbench-0.1.8.tar.gz" -C "$OUT"
    python3 -c "import torch; print('torch', torch.__version__, '| card:', torch.cuda.get_device_name() if torch.cuda.is_available() else 'none (CPU only)')"
    # Operations per training step, as this device's host issues them (seconds; no data needed).
    python3 bench/p2_ops.py
    # shellcheck disable=SC2086  # P2_BENCH_ARGS is a list of words on purpose
    python3 bench/p2_runs.py --data-dir "$DATA" --out "$OUT/runs" --table "$OUT/table.md" \
        --airbench "$OUT/airbench-0.1.8" \
        --runs gpu-fast:0 gpu-fast:1 gpu-fast:2 gpu-fast:3 gpu-fast:4 gpu-fast+compile:0 gpu-fast+compile:1 \
               gpu-best:0 airbench94:0 airbench94:1 airbench94:2 airbench96:0 \
        -- --no-epoch-eval ${P2_BENCH_ARGS:-}
}

# The whole log is kept in $OUT: all of it comes back, not just the tail that a remote run shows.
measure 2>&1 | tee "$OUT/log.txt"
