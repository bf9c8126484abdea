"""Time a p2 recipe on this CPU in each precision, natively and as an AVX2-only CPU runs it.

    python bench/p2_cpu_precisions.py [--preset cpu] [--steps 3] [--eval-batches 2] [--set FIELD=VALUE ...]
    python bench/p2_cpu_precisions.py --set channels_last=false --only fp32-avx2
    python bench/p2_cpu_precisions.py --malloc-default    # glibc's malloc left as it is (see cpu_memory.py)

Each row runs in its own process on random data of the preset's shape: training steps (forward, loss, backward, both
optimizers) at the preset's batch size, for each image side its epochs use (then the whole recipe's training time at
those step times), and evaluation batches (forward only, in batches of predict.CPU_EVAL_BATCH, as `p2.py --eval` runs
each test-time view). Each child makes glibc keep freed memory as p2.py does, unless --malloc-default. "as AVX2"
sets ATEN_CPU_CAPABILITY=avx2 and ONEDNN_MAX_CPU_ISA=AVX2, so torch's and oneDNN's kernels use AVX2 only: the
closest stand-in here for an AVX2-only laptop CPU (its clock and memory still differ). Medians of --steps steps
after one untimed step; the ratios are measured in the same call, which keeps them meaningful on a shared machine
whose absolute speed drifts.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
P2 = os.path.join(os.path.dirname(HERE), "andrewID-HW1", "p2")
AVX2_ONLY = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
ROWS = [("fp32", {}), ("bf16", {}), ("fp32", AVX2_ONLY)]
EMULATED_BF16 = ("bf16", AVX2_ONLY)   # minutes a step: only with --with-emulated-bf16


def row_name(precision, env):
    return precision + ("-avx2" if env else "")


def recipe_network(cfg, precision):
    """(network, its optimizers, its memory format) as p2 trains `cfg` in Precision `precision`, the whitening
    stem fitted to random images (seeded): for timing or counting a training step, not for accuracy."""
    import torch

    from model import build_model
    from train import make_optimizers
    memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
    torch.manual_seed(0)
    model = build_model(cfg)
    model.whiten.fit(torch.randn(256, 3, 32, 32))
    model = model.to(memory_format=memory_format)
    return model, make_optimizers(model, cfg, precision), memory_format


def measure(preset, settings, precision, steps, eval_batches, bf16_emulated_steps, malloc_default=False):
    """In the child process: {"train_s": median s a step, "eval_s": median s an eval batch, ...}."""
    sys.path.insert(0, P2)
    import cpu_memory
    if not malloc_default:
        cpu_memory.keep_freed_memory()   # as p2.py does on a CPU
    import torch
    import torch.nn.functional as F

    from config import epoch_size, get_preset, parse_setting
    from precision import Precision
    from predict import CPU_EVAL_BATCH

    cfg = get_preset(preset).override(**dict(parse_setting(s) for s in settings))
    chosen = Precision(precision, "bench")
    model, optimizers, memory_format = recipe_network(cfg, chosen)
    scaler = chosen.grad_scaler(torch.device("cpu"))
    y = torch.randint(0, 10, (cfg.batch_size,))
    emulated = precision != "fp32" and torch.backends.cpu.get_cpu_capability() == "AVX2"
    n = bf16_emulated_steps if emulated else steps   # emulated bf16 is an order of magnitude slower

    def step(x):
        with chosen.autocast(torch.device("cpu")):
            loss = F.cross_entropy(model(x).float(), y, label_smoothing=cfg.label_smoothing)
        for o in optimizers:
            o.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        for o in optimizers:
            scaler.step(o)
        scaler.update()

    def images(side, n=cfg.batch_size):
        return torch.randn(n, 3, side, side).contiguous(memory_format=memory_format)

    test_x = images(32, cfg.eval_batch_size)

    def forward():   # as p2 evaluates on a CPU: in batches of CPU_EVAL_BATCH
        with torch.no_grad(), chosen.autocast(torch.device("cpu")):
            for chunk in test_x.split(CPU_EVAL_BATCH):
                model(chunk)

    def timed(fn, count):
        fn()   # memory allocation and kernel selection
        times = []
        for _ in range(count):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    model.train()
    # one step time per image side the recipe trains on (epoch_sizes: small images in its first epochs)
    sides = sorted(set(cfg.epoch_sizes) | {32}, reverse=True)
    train_s_by_side = {side: timed(lambda x=images(side): step(x), n) for side in sides}
    model.eval()
    eval_s = timed(forward, eval_batches if not emulated else 1)
    steps_per_epoch = 50_000 // cfg.batch_size
    epochs = range(1, math.ceil(cfg.epochs) + 1)
    recipe_s = sum(steps_per_epoch * train_s_by_side[epoch_size(cfg.epoch_sizes, e)] for e in epochs)
    return dict(capability=torch.backends.cpu.get_cpu_capability(), threads=torch.get_num_threads(),
                batch=cfg.batch_size, eval_batch=cfg.eval_batch_size, train_s=train_s_by_side[32],
                train_s_by_side=train_s_by_side, recipe_s=recipe_s, eval_s=eval_s, steps=n)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="cpu", help="the recipe (default: cpu, p2's default on a CPU)")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--eval-batches", type=int, default=2)
    p.add_argument("--bf16-emulated-steps", type=int, default=1)
    p.add_argument("--with-emulated-bf16", action="store_true",
                   help="also bf16 with AVX2-only kernels (emulated: an order of magnitude slower)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="change a field of the preset, as p2.py --set does (e.g. channels_last=false)")
    p.add_argument("--only", choices=[row_name(*row) for row in ROWS + [EMULATED_BF16]], action="append",
                   help="time only this row (repeatable)")
    p.add_argument("--malloc-default", action="store_true",
                   help="leave glibc's malloc as it is (p2.py makes it keep freed memory: cpu_memory.py)")
    p.add_argument("--child", nargs=1, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(measure(args.preset, args.set, args.child[0], args.steps, args.eval_batches,
                                 args.bf16_emulated_steps, args.malloc_default)))
        return
    results = []
    rows = ROWS + ([EMULATED_BF16] if args.with_emulated_bf16 else [])
    rows = [row for row in rows if not args.only or row_name(*row) in args.only]
    for precision, env in rows:
        cmd = [sys.executable, __file__, "--preset", args.preset, "--steps", str(args.steps), "--eval-batches",
               str(args.eval_batches), "--bf16-emulated-steps", str(args.bf16_emulated_steps),
               *[arg for s in args.set for arg in ("--set", s)], *(["--malloc-default"] if args.malloc_default else []),
               "--child", precision]
        out = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, check=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        row.update(precision=precision, kernels="as AVX2" if env else "native")
        results.append(row)
        threads = f"{row['threads']} thread{'s' * (row['threads'] != 1)}"
        print(f"{precision:5s} {row['kernels']:8s} ({row['capability']}, {threads}): "
              f"{row['train_s']:.2f} s a training step of {row['batch']} ({row['batch'] / row['train_s']:.0f} img/s), "
              f"{row['eval_s']:.2f} s a forward of {row['eval_batch']} "
              f"({row['eval_batch'] / row['eval_s']:.0f} img/s)", flush=True)
        smaller = {side: t for side, t in row["train_s_by_side"].items() if side != "32"}
        if smaller:
            print("      smaller images: " + ", ".join(f"{side}x{side} {t:.2f} s" for side, t in smaller.items()))
        print(f"      the {args.preset} recipe's training at these step times: {row['recipe_s'] / 60:.1f} min "
              "(its epochs and image sizes)", flush=True)
    base = results[0]["train_s"]
    print(f"training step time relative to the first row ({row_name(*rows[0])}): " +
          ", ".join(f"{r['precision']} {r['kernels']} {r['train_s'] / base:.2f}x" for r in results))


if __name__ == "__main__":
    main()
