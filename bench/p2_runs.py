"""Run p2.py for a list of (preset, seed) pairs and print one table: preset, seed, accuracy, train seconds, wall
seconds, device. Used by bench/gpu_p2.sh (GPU) and `make bench-p2-cpu` (CPU).

    python bench/p2_runs.py --data-dir DIR --runs gpu-fast:0 gpu-fast:1 gpu-fast:2 gpu-best:0 [-- extra p2 args]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
P2 = os.path.join(ROOT, "andrewID-HW1", "p2", "p2.py")


def run_one(preset, seed, data_dir, out_dir, extra):
    cmd = [sys.executable, P2, "--preset", preset, "--seed", str(seed), "--data-dir", data_dir,
           "--out", out_dir, *extra]
    print("$ " + " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - t0
    ckpt = torch.load(os.path.join(out_dir, "p2_model.pkl"), map_location="cpu", weights_only=True)
    return dict(preset=preset, seed=seed, acc=ckpt["test_accuracy"], train_s=ckpt["train_seconds"], wall_s=wall,
                device=ckpt["device"])


def main():
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--runs", nargs="+", required=True, help="preset:seed pairs")
    p.add_argument("--out", help="keep each run's files in OUT/<preset>-<seed> (default: a temp folder)")
    p.add_argument("--table", help="also write the table (markdown) to this file")
    args = p.parse_args(argv)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in args.runs:
            preset, seed = run.split(":")
            out_dir = os.path.join(args.out or tmp, f"{preset}-{seed}")
            os.makedirs(out_dir, exist_ok=True)
            rows.append(run_one(preset, int(seed), args.data_dir, out_dir, extra))

    lines = ["| preset | seed | test accuracy | train s | wall s | device |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['preset']} | {r['seed']} | {100 * r['acc']:.2f}% | {r['train_s']:.2f} | {r['wall_s']:.1f} | "
              f"{r['device']} |" for r in rows]
    for preset in dict.fromkeys(r["preset"] for r in rows):
        accs = [100 * r["acc"] for r in rows if r["preset"] == preset]
        times = [r["train_s"] for r in rows if r["preset"] == preset]
        if len(accs) > 1:
            lines.append(f"| {preset} mean of {len(accs)} | | {statistics.mean(accs):.2f}% "
                         f"(min {min(accs):.2f}, max {max(accs):.2f}) | median {statistics.median(times):.2f} | | |")
    table = "\n".join(lines)
    print(table)
    if args.table:
        with open(args.table, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
