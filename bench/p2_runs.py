"""Run p2.py for a list of (preset, seed) pairs and print one table: preset, seed, accuracy, train seconds, wall
seconds, device; with --airbench, runs named airbench94 / airbench96 are the public trainer on the same data,
and the table ends with our time and accuracy relative to it. Used by bench/gpu_p2.sh (GPU) and
`make bench-p2-cpu` (CPU).

    python bench/p2_runs.py --data-dir DIR --runs fast:0 fast+compile:0 best:0 [-- extra p2 args]
    python bench/p2_runs.py --data-dir DIR --airbench SDIST_DIR --runs fast:0 airbench94:0 [-- extra p2 args]
    python bench/p2_runs.py --data-dir DIR --runs best@residual=true@epochs=40:0   (a variant: p2.py --set)

The table is rewritten after every run, so a run list cut short by a time limit still leaves the finished rows.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
P2 = os.path.join(ROOT, "andrewID-HW1", "p2", "p2.py")
AIRBENCH_RUN = os.path.join(ROOT, "bench", "airbench_run.py")
# Ours against the public trainer of the same accuracy class; a run's rival is its preset's, whatever its options.
RIVALS = {"fast": "airbench94", "best": "airbench96", "gpu-fast": "airbench94", "gpu-best": "airbench96"}


def p2_options(run_name):
    """"gpu-fast+compile" -> --preset gpu-fast --compile; "gpu-best@residual=true@epochs=40" -> --preset gpu-best
    --set residual=true --set epochs=40."""
    name, *settings = run_name.split("@")
    preset, _, option = name.partition("+")
    return ["--preset", preset, *([f"--{option}"] if option else []),
            *[arg for setting in settings for arg in ("--set", setting)]]


def run_one(run_name, seed, data_dir, out_dir, extra):
    options = p2_options(run_name)
    cmd = [sys.executable, P2, *options, "--seed", str(seed), "--data-dir", data_dir, "--out", out_dir, *extra]
    print("$ " + " ".join(cmd), flush=True)
    # A compiled run names every recompilation in its log, and every graph that CUDA graphs skipped (perf_hints):
    # the first things to look at when --compile is slow.
    compiled = any(option.startswith("--compile") for option in options)
    env = {**os.environ, "TORCH_LOGS": "recompiles,perf_hints"} if compiled else None
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env)
    wall = time.perf_counter() - t0
    ckpt = torch.load(os.path.join(out_dir, "p2_model.pkl"), map_location="cpu", weights_only=True)
    return dict(preset=run_name, seed=seed, acc=ckpt["test_accuracy"], train_s=ckpt["train_seconds"], wall_s=wall,
                device=ckpt["device"])


def run_airbench(variant, seed, data_dir, out_dir, airbench_dir):
    result = os.path.join(out_dir, "result.json")
    cmd = [sys.executable, AIRBENCH_RUN, "--airbench", airbench_dir, "--data-dir", data_dir,
           "--work-dir", os.path.dirname(out_dir), "--variant", variant[len("airbench"):], "--seed", str(seed),
           "--result", result]
    print("$ " + " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - t0
    with open(result) as f:
        r = json.load(f)
    return dict(preset=variant, seed=seed, acc=r["acc"], train_s=r["train_s"], wall_s=wall, device=r["device"])


def summary_lines(rows):
    """Per preset: mean accuracy and median time; then each of ours against its airbench rival."""
    stats, lines = {}, []
    done = [r for r in rows if not math.isnan(r["acc"])]
    for preset in dict.fromkeys(r["preset"] for r in done):
        accs = [100 * r["acc"] for r in done if r["preset"] == preset]
        times = [r["train_s"] for r in done if r["preset"] == preset]
        stats[preset] = (statistics.mean(accs), statistics.median(times))
        if len(accs) > 1:
            lines.append(f"| {preset} mean of {len(accs)} | | {statistics.mean(accs):.2f}% "
                         f"(min {min(accs):.2f}, max {max(accs):.2f}) | median {statistics.median(times):.2f} | | |")
    for ours in stats:
        rival = RIVALS.get(p2_options(ours)[1])   # ["--preset", preset, ...]
        if rival in stats and not math.isnan(stats[rival][1]):
            (acc, t), (rival_acc, rival_t) = stats[ours], stats[rival]
            lines.append(f"| {ours} / {rival} | | {acc - rival_acc:+.2f} points | time x{t / rival_t:.2f} | | |")
    return lines


def table_text(rows):
    lines = ["| run | seed | test accuracy | train s | wall s | device |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['preset']} | {r['seed']} | {100 * r['acc']:.2f}% | {r['train_s']:.2f} | {r['wall_s']:.1f} | "
              f"{r['device']} |" for r in rows]
    return "\n".join(lines + summary_lines(rows))


def main():
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--runs", nargs="+", required=True, help="preset:seed pairs")
    p.add_argument("--out", help="keep each run's files in OUT/<preset>-<seed> (default: a temp folder)")
    p.add_argument("--table", help="also write the table (markdown) to this file")
    p.add_argument("--airbench", help="the unpacked airbench sdist, for runs named airbench94 / airbench96")
    args = p.parse_args(argv)

    if any(run.startswith("airbench") for run in args.runs) and not args.airbench:
        p.error("runs named airbench94 / airbench96 need --airbench")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, run in enumerate(args.runs):
            preset, _, seed = run.rpartition(":")
            out_dir = os.path.join(args.out or tmp, f"{i:02d}-{preset.split('@')[0]}-{seed}")
            os.makedirs(out_dir, exist_ok=True)
            t0 = time.perf_counter()
            try:
                if preset.startswith("airbench"):
                    rows.append(run_airbench(preset, int(seed), args.data_dir, out_dir, args.airbench))
                else:
                    rows.append(run_one(preset, int(seed), args.data_dir, out_dir, extra))
            except subprocess.CalledProcessError as e:   # one failed run (its log above) does not end the list
                rows.append(dict(preset=preset, seed=int(seed), acc=math.nan, train_s=math.nan,
                                 wall_s=time.perf_counter() - t0, device=f"failed (exit {e.returncode})"))
            table = table_text(rows)
            if args.table:   # after every run: a list cut short still leaves its finished rows
                with open(args.table, "w") as f:
                    f.write(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
