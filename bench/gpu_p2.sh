#!/usr/bin/env bash
# The whole GPU measurement in one run (about 9-10 minutes on one H100: give it what the lease allows, and re-run
# what a cut-off list missed with P2_RUNS): decode the JPEG-q75 copy; count and time the operations of a training
# step (gpu-fast and gpu-best, each with torch's 2x2 max-pool and with max_pool=mask; gpu-fast compiled with CUDA
# graphs, which also fills the compiler's cache for the compiled runs); train ours gpu-fast with 5 seeds, the
# public airbench 0.1.8 train94 3 times, gpu-fast with max_pool=mask 3 times, gpu-fast compiled with CUDA graphs
# (reduce-overhead) twice; gpu-best (max_pool=mask) twice and airbench96 once; last, gpu-fast compiled with
# max-autotune (CUDA graphs and kernel selection: about 150 s of compilation).
# P2_RUNS replaces the run list: `name@field=value` is p2.py --set, `name+compile=MODE` is --compile=MODE (both:
# `name+compile=MODE@field=value`). The table (accuracy, train seconds, card, ours relative to airbench) is
# rewritten after every run, so a list cut short by the time limit keeps the rows it finished. Earlier runs:
# bench/results/h100-2026-11-27.md.
#
# Carry in gpu_data/ (git-ignored): cifar10_q75_compact.npz and build.py (the q75 copy and its decoder), and
# airbench-0.1.8.tar.gz (`pip download airbench==0.1.8 --no-deps --no-binary :all: -d gpu_data`); 18 MB, so delete
# a gpu_data/decoded/ left by a dry run first. Then, from the repository root on the GPU machine:
#   bash bench/gpu_p2.sh        (the table and the whole log land in $OUT; the decoded data and the runs in gpu_data/)
# A dry run on the CPU (checks the script end to end, not the numbers; airbench needs CUDA and stops after its
# set-up; p2 reads only complete batch files, so the dry run trains a few steps on the full set):
#   P2_BENCH_ARGS="--device cpu --epochs 0.04 --batch-size 500" P2_RUNS="gpu-fast:0 gpu-best@max_pool=mask:0 \
#     airbench94:0" P2_TIME_STEPS=1 P2_OPS_COMPILE=default OUT=scratch/dry bash bench/gpu_p2.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${CIFAR_SRC:-gpu_data}
OUT=${OUT:-scratch/gpu_p2}     # on the GPU machine, the folder whose files come back
DATA=${DATA:-$SRC/decoded}     # 180 MB decoded: kept out of $OUT
WORK=${WORK:-$SRC/work}        # each run's model and report, and airbench's copy of the data: kept out of $OUT too
# In order of what the issue's targets need first, so that a run cut short by the time limit loses the least.
RUNS=${P2_RUNS:-"gpu-fast:0 gpu-fast:1 gpu-fast:2 gpu-fast:3 gpu-fast:4 airbench94:0 airbench94:1 airbench94:2
      gpu-fast@max_pool=mask:0 gpu-fast@max_pool=mask:1 gpu-fast@max_pool=mask:2
      gpu-fast+compile=reduce-overhead:0 gpu-fast+compile=reduce-overhead:1
      gpu-best@max_pool=mask:0 gpu-best@max_pool=mask:1 airbench96:0 gpu-fast+compile=max-autotune:0"}
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
        for setting in max_pool=torch max_pool=mask; do
            python3 bench/p2_ops.py --preset $preset --time "${P2_TIME_STEPS:-20}" --set $setting \
                >> "$OUT/ops-$preset.txt" 2>&1 || echo "p2_ops.py --preset $preset --set $setting failed"
        done
        grep -m1 -A8 "ATen operations" "$OUT/ops-$preset.txt" || true
        grep "ms a step" "$OUT/ops-$preset.txt" || true
    done
    # The compiled step with CUDA graphs: how close it comes to its kernels' time, and which kernels those are.
    python3 bench/p2_ops.py --preset gpu-fast --time "${P2_TIME_STEPS:-20}" \
        --compile "${P2_OPS_COMPILE:-reduce-overhead}" > "$OUT/ops-gpu-fast-compiled.txt" 2>&1 || echo "p2_ops.py --compile failed"
    grep "ms a step" "$OUT/ops-gpu-fast-compiled.txt" || true
    # shellcheck disable=SC2086  # RUNS and P2_BENCH_ARGS are lists of words on purpose
    python3 bench/p2_runs.py --data-dir "$DATA" --out "$WORK/runs" --table "$OUT/table.md" \
        --airbench "$WORK/airbench-0.1.8" --runs $RUNS -- --no-epoch-eval ${P2_BENCH_ARGS:-}
}

# The whole log is kept in $OUT: all of it comes back, not just the tail that a remote run shows. $OUT holds only
# five small files (log, table, three operation tables): a remote run brings back at most eight.
measure 2>&1 | tee "$OUT/log.txt"
