#!/usr/bin/env bash
# The whole GPU measurement in one run (about 9-11 minutes on one H100: give it the 600 s a call allows, and
# re-run what a cut-off list missed with P2_RUNS): decode the JPEG-q75 copy; count and time the operations of a
# training step (gpu-fast, gpu-best; each as it is and with the global max-pool as it was, nn.AdaptiveMaxPool2d);
# train ours gpu-fast with 5 seeds and the public airbench 0.1.8 train94 3 times; gpu-fast compiled with CUDA
# graphs (max-autotune); gpu-best twice and airbench96 once; gpu-fast compiled without CUDA graphs; and last the
# compiled step's profile.
# P2_RUNS replaces the run list: `name@field=value` is p2.py --set, `name+compile=MODE` is --compile=MODE. The
# table (accuracy, train seconds, card, ours relative to airbench) is rewritten after every run, so a list cut short
# by the time limit keeps the rows it finished. The run of 2026-11-27 is in bench/results/h100-2026-11-27.md.
#
# Carry in gpu_data/ (git-ignored): cifar10_q75_compact.npz and build.py (the q75 copy and its decoder), and
# airbench-0.1.8.tar.gz (`pip download airbench==0.1.8 --no-deps --no-binary :all: -d gpu_data`); 18 MB, so delete
# a gpu_data/decoded/ left by a dry run first. Then, from the repository root on the GPU machine:
#   bash bench/gpu_p2.sh        (the table and the whole log land in $OUT; the decoded data and the runs in gpu_data/)
# A dry run on the CPU (checks the script end to end, not the numbers; airbench needs CUDA and stops after its
# set-up; p2 reads only complete batch files, so the dry run trains a few steps on the full set):
#   P2_BENCH_ARGS="--device cpu --epochs 0.04 --batch-size 500" P2_RUNS="gpu-fast:0 gpu-best@residual=true:0 \
#     airbench94:0" P2_TIME_STEPS=1 OUT=scratch/dry bash bench/gpu_p2.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${CIFAR_SRC:-gpu_data}
OUT=${OUT:-scratch/gpu_p2}     # on the GPU machine, the folder whose files come back
DATA=${DATA:-$SRC/decoded}     # 180 MB decoded: kept out of $OUT
WORK=${WORK:-$SRC/work}        # each run's model and report, and airbench's copy of the data: kept out of $OUT too
# In order of what the issue's targets need first, so that a run cut short by the time limit loses the least.
RUNS=${P2_RUNS:-"gpu-fast:0 gpu-fast:1 gpu-fast:2 gpu-fast:3 gpu-fast:4 airbench94:0 airbench94:1 airbench94:2
      gpu-fast+compile=max-autotune:0 gpu-best:0 gpu-best:1 airbench96:0 gpu-fast+compile:0"}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1      # through tee, lines stay in the order they were printed

measure() {
    if [ ! -f "$DATA/cifar-10-batches-bin/test_batch.bin" ]; then
        python3 "$SRC/build.py" "$DATA" --format bin
    fi
    rm -rf "$WORK" "$OUT"/ops-*.txt && mkdir -p "$WORK" && tar xzf "$SRC/airbench-0.1.8.tar.gz" -C "$WORK"
    python3 -c "import torch; print('torch', torch.__version__, '| card:', torch.cuda.get_device_name() if torch.cuda.is_available() else 'none (CPU only)')"
    # Operations per training step as this device's host issues them, then N timed steps on random data with the
    # operations that take the most device time (seconds each; a failure here does not stop the runs).
    for preset in gpu-fast gpu-best; do
        for variant in as-is adaptive-pool; do
            python3 bench/p2_ops.py --preset $preset --time "${P2_TIME_STEPS:-20}" --variant $variant \
                >> "$OUT/ops-$preset.txt" 2>&1 || echo "p2_ops.py --preset $preset --variant $variant failed"
        done
        grep -m1 -A8 "ATen operations" "$OUT/ops-$preset.txt" || true
        grep "ms a step" "$OUT/ops-$preset.txt" || true
    done
    # shellcheck disable=SC2086  # RUNS and P2_BENCH_ARGS are lists of words on purpose
    python3 bench/p2_runs.py --data-dir "$DATA" --out "$WORK/runs" --table "$OUT/table.md" \
        --airbench "$WORK/airbench-0.1.8" --runs $RUNS -- --no-epoch-eval ${P2_BENCH_ARGS:-}
    # Last, the compiled step's own profile (its kernel choices come from the cache the compiled runs filled; about
    # 150 s of compilation without it).
    python3 bench/p2_ops.py --preset gpu-fast --time "${P2_TIME_STEPS:-20}" --compile max-autotune-no-cudagraphs \
        > "$OUT/ops-gpu-fast-compiled.txt" 2>&1 || echo "p2_ops.py --compile failed"
    grep "ms a step" "$OUT/ops-gpu-fast-compiled.txt" || true
}

# The whole log is kept in $OUT: all of it comes back, not just the tail that a remote run shows. $OUT holds only
# five small files (log, table, three operation tables): a remote run brings back at most eight.
measure 2>&1 | tee "$OUT/log.txt"
