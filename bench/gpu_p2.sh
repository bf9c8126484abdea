#!/usr/bin/env bash
# The whole GPU measurement in one run (about 9-10 minutes on one H100: give it what the lease allows, and re-run
# what a cut-off list missed with P2_RUNS), in order of what the issue's targets need first:
#  1. decode the JPEG-q75 copy; run the CUDA tests of the optimizer and the model (if pytest is there);
#  2. train gpu-fast in one process several ways (bench/cudagraph_check.py): compiled with CUDA graphs as it is;
#     with Muon's step replayed from a CUDA graph (muon_cuda_graph), alone, with the global max-pool as
#     F.max_pool2d, and with that pool and the whitening conv as a fused sum (whiten-as-sum); the pool with
#     muon_one_batch (Muon's banks in one padded batch), and with both; eager, with and without the graphed Muon;
#     then 4 more seeds of the fastest way that trains;
#  3. time a training step (bench/p2_ops.py; each timing checks that the loss stayed finite): gpu-fast compiled as
#     it is, with the pool and the graphed Muon, and with whiten-as-sum; gpu-best eager with muon_cuda_graph (as
#     it is: 23.07 ms a step, bench/results/h100-2026-11-27b-ops-gpu-best.txt);
#  4. the runs through p2.py: ours gpu-fast compiled (p2.py --compile) with 3 seeds, the public airbench 0.1.8
#     train94 3 times, gpu-fast compiled with muon_cuda_graph 3 times, gpu-best with muon_cuda_graph, airbench96
#     once, gpu-best as it is, 2 more seeds of gpu-fast compiled, gpu-fast eager with muon_cuda_graph.
# Adopt a change in the presets (muon_cuda_graph, muon_one_batch) or in the model (F.max_pool2d as the compiled
# global pool, the whitening as a sum when compiled) only if its accuracy holds over 5 seeds (>= 90.6 %).
# P2_RUNS replaces the run list: `name@field=value` is p2.py --set, `name+compile=MODE` is --compile=MODE (both:
# `name+compile=MODE@field=value`). The table (accuracy, train seconds, card, ours relative to airbench) is
# rewritten after every run, so a list cut short by the time limit keeps the rows it finished. Earlier runs:
# bench/results/h100-2026-11-27.md (two leases).
#
# Carry in gpu_data/ (git-ignored): cifar10_q75_compact.npz and build.py (the q75 copy and its decoder), and
# airbench-0.1.8.tar.gz (`pip download airbench==0.1.8 --no-deps --no-binary :all: -d gpu_data`); 18 MB, so delete
# a gpu_data/decoded/ left by a dry run first. Then, from the repository root on the GPU machine:
#   bash bench/gpu_p2.sh        (the table and the whole log land in $OUT; the decoded data and the runs in gpu_data/)
# A dry run on the CPU (checks the script end to end, not the numbers; no CUDA graphs there, so the ways and
# timings run without them; airbench needs CUDA and stops after its set-up; p2 reads only complete batch files, so
# the dry run trains a few steps on the full set; about 10 minutes on 2 cores):
#   P2_BENCH_ARGS="--device cpu --epochs 0.04 --batch-size 500" P2_RUNS="gpu-fast:0 \
#     gpu-fast+compile@muon_cuda_graph=true:0 airbench94:0" P2_TIME_STEPS=1 P2_OPS_COMPILE=none \
#     P2_CHECK_WAYS=eager+max-pool2d-global+whiten-as-sum@muon_cuda_graph=true@muon_one_batch=true,eager \
#     P2_CHECK_ARGS="--device cpu --epochs 0.04 --seeds 2" OUT=scratch/dry bash bench/gpu_p2.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${CIFAR_SRC:-gpu_data}
OUT=${OUT:-scratch/gpu_p2}     # on the GPU machine, the folder whose files come back
DATA=${DATA:-$SRC/decoded}     # 180 MB decoded: kept out of $OUT
WORK=${WORK:-$SRC/work}        # each run's model and report, and airbench's copy of the data: kept out of $OUT too
# In order of what the issue's targets need first, so that a run cut short by the time limit loses the least.
RUNS=${P2_RUNS:-"gpu-fast+compile:0 gpu-fast+compile:1 gpu-fast+compile:2 airbench94:0 airbench94:1 airbench94:2
      gpu-fast+compile@muon_cuda_graph=true:0 gpu-fast+compile@muon_cuda_graph=true:1
      gpu-fast+compile@muon_cuda_graph=true:2 gpu-best@muon_cuda_graph=true:1 airbench96:0 gpu-best:1
      gpu-fast+compile:3 gpu-fast+compile:4 gpu-fast@muon_cuda_graph=true:0"}
WAYS=${P2_CHECK_WAYS:-"reduce-overhead+max-pool2d-global+whiten-as-sum@muon_cuda_graph=true,\
reduce-overhead+max-pool2d-global@muon_cuda_graph=true,reduce-overhead@muon_cuda_graph=true,\
reduce-overhead+max-pool2d-global@muon_one_batch=true,\
reduce-overhead+max-pool2d-global@muon_cuda_graph=true@muon_one_batch=true,reduce-overhead,\
eager@muon_cuda_graph=true,eager"}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1      # through tee, lines stay in the order they were printed

measure() {
    if [ ! -f "$DATA/cifar-10-batches-bin/test_batch.bin" ]; then
        python3 "$SRC/build.py" "$DATA" --format bin
    fi
    rm -rf "$WORK" "$OUT"/ops-*.txt && mkdir -p "$WORK" && tar xzf "$SRC/airbench-0.1.8.tar.gz" -C "$WORK"
    python3 -c "import torch; print('torch', torch.__version__, '| card:', torch.cuda.get_device_name() if torch.cuda.is_available() else 'none (CPU only)')"
    # The CUDA-only tests (the graphed Muon step against the eager one, the compiled pool's gradients); seconds.
    python3 -m pytest -q -p no:cacheprovider tests/test_p2_optim.py tests/test_p2_model.py 2>&1 | tail -15 \
        || echo "pytest failed or is not installed"
    # Does each way train, and how fast, side by side in one process; then 4 more seeds of the fastest that trains.
    # shellcheck disable=SC2086  # P2_CHECK_ARGS is a list of words on purpose
    python3 bench/cudagraph_check.py --data-dir "$DATA" --seeds 5 ${P2_CHECK_ARGS:-} --ways "$WAYS" 2>&1 \
        | grep -v "possibly bad tiling" | tee "$OUT/cudagraph-check.txt" || echo "cudagraph_check.py failed"
    # Operations per training step as this device's host issues them, then N timed steps on random data with the
    # operations that take the most device time (seconds each; a failure here does not stop the runs).
    ops() {  # FILE, then p2_ops.py's options
        local file=$1 && shift
        python3 bench/p2_ops.py --time "${P2_TIME_STEPS:-20}" "$@" >> "$OUT/$file" 2>&1 \
            || echo "p2_ops.py $* failed"
    }
    local compile=(--compile "${P2_OPS_COMPILE:-reduce-overhead}")
    [ "${P2_OPS_COMPILE:-}" = none ] && compile=()   # a quick dry run: compiling on a CPU takes minutes a timing
    ops ops-gpu-fast-compiled.txt --preset gpu-fast "${compile[@]}"
    ops ops-gpu-fast-compiled.txt --preset gpu-fast "${compile[@]}" --variant max-pool2d-global \
        --set muon_cuda_graph=true
    ops ops-gpu-fast-compiled.txt --preset gpu-fast "${compile[@]}" --variant whiten-as-sum
    ops ops-gpu-best.txt --preset gpu-best --set muon_cuda_graph=true
    grep -h -A8 "ATen operations" "$OUT/ops-gpu-fast-compiled.txt" "$OUT/ops-gpu-best.txt" || true
    grep -h "ms a step\|WARNING" "$OUT"/ops-*.txt || true
    # shellcheck disable=SC2086  # RUNS and P2_BENCH_ARGS are lists of words on purpose
    python3 bench/p2_runs.py --data-dir "$DATA" --out "$WORK/runs" --table "$OUT/table.md" \
        --airbench "$WORK/airbench-0.1.8" --runs $RUNS -- --no-epoch-eval ${P2_BENCH_ARGS:-}
}

# The whole log is kept in $OUT: all of it comes back, not just the tail that a remote run shows. $OUT holds only
# five small files (log, table, two operation tables, the check): a remote run brings back at most eight.
measure 2>&1 | tee "$OUT/log.txt"
