"""One row of bench/gpu_p2.sh: a p2 preset trained for several seeds in one process, each as p2.py trains it
(p2's own new_model, compile_model, warm_up, train and evaluate), without the report. The network is compiled and
warmed up once; each seed then loads its own initial weights into it (the same tensors, so the compiled graphs and
CUDA graphs stay valid), trains and is evaluated. Each finished seed is a line in --results, and the table is
rewritten after it (bench/gpu_table.py). Compiling once and reusing the compiled network for every run is
what airbench94_muon's own __main__ does (Keller Jordan, github.com/KellerJordan/cifar10-airbench).

    python bench/p2_seeds.py --row gpu-fast --seeds 0 1 2 3 4 --data-dir DIR --results R.jsonl --table T.md \
        -- --preset fast --compile [--precision fp16] [--set FIELD=VALUE ...]

After `--` come p2.py's own options, checked as p2.py checks them (--seed, --out and the report's options aside).
--graphed-muon replays Muon's step from a CUDA graph (bench/cuda_graph.py); --one-batch-muon orthogonalises Muon's
filter banks in one zero-padded batch (bench/muon_variants.py); --variant applies a network variant
of bench/p2_ops.py (max-pool2d-global, whiten-as-sum); --deadline (Unix seconds) skips the seeds that would end
past it; --limit-train/--limit-test shrink the data for a dry run on the CPU.
"""
import argparse
import contextlib
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "andrewID-HW1", "p2"))
sys.path.insert(1, HERE)
import p2  # noqa: E402
from data import load_cifar10  # noqa: E402
from precision import choose_precision  # noqa: E402
from train import train  # noqa: E402

import gpu_table  # noqa: E402  (bench/)


def parse(argv):
    own = argv[:argv.index("--")] if "--" in argv else argv
    p2_argv = argv[argv.index("--") + 1:] if "--" in argv else []
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--row", required=True, help="the row's name in the table, e.g. fast")
    p.add_argument("--seeds", type=int, nargs="+", required=True)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--results", required=True, help="JSON lines, one per finished seed (appended)")
    p.add_argument("--table", help="the markdown table, rewritten after every seed")
    p.add_argument("--info", help="the machine's description (bench/gpu_table.py info)")
    p.add_argument("--graphed-muon", action="store_true", help="Muon's step replayed from a CUDA graph")
    p.add_argument("--one-batch-muon", action="store_true",
                   help="Muon's filter banks orthogonalised in one zero-padded batch")
    p.add_argument("--variant", action="append", default=[], help="a network variant of bench/p2_ops.py")
    p.add_argument("--deadline", type=float, help="Unix time: no seed starts that would end after it")
    p.add_argument("--limit-train", type=int, help="use only the first N training images (dry run)")
    p.add_argument("--limit-test", type=int, help="use only the first N test images (dry run)")
    return p, p.parse_args(own), p2_argv


def main(argv=None):
    p, args, p2_argv = parse(sys.argv[1:] if argv is None else argv)
    row = dict(row=args.row)

    def record(**fields):
        gpu_table.record(args.results, {**row, **fields}, args.table, args.info)

    try:   # p2.py's own parser and checks: an option p2.py lacks (or refuses) is a row that says so, not a crash
        p2_args = p2.parse_args(p2_argv)
    except SystemExit:
        record(seed="", acc=None, train_s=None, note=f"not run: p2.py refuses {' '.join(p2_argv)}")
        return 2
    problems = p2.check_options(p2_args)
    if problems:
        record(seed="", acc=None, train_s=None, note="not run: " + "; ".join(problems))
        return 2
    from p2_ops import VARIANTS   # noqa: E402  (bench/; after the checks: it imports the profiler)
    unknown = [v for v in args.variant if v not in VARIANTS]
    if unknown:
        p.error(f"unknown variant(s) {unknown}; known: {sorted(VARIANTS)}")
    device, _ = p2.pick_device(p2_args.device)
    preset, cfg = p2.compose_config(p2_args, device)
    precision = choose_precision(p2_args.precision, device)   # as p2.py: the device's own, or --precision
    row["precision"] = precision.name
    torch.backends.cudnn.benchmark = True   # as p2.py: fixed shapes, the fastest kernels
    data = p2.split_validation(load_cifar10(p2.find_data(args.data_dir)), 0, device)
    for split, limit in (("train", args.limit_train), ("test", args.limit_test)):
        if limit:
            data[f"{split}_images"], data[f"{split}_labels"] = (data[f"{split}_images"][:limit],
                                                                data[f"{split}_labels"][:limit])

    def fresh_model(seed):
        model = p2.new_model(cfg, data["train_images"], device, seed)
        for variant in args.variant:
            model = VARIANTS[variant](model)
        return model

    muon_changes = []   # entered around the warm-up and the seeds
    if args.one_batch_muon:
        from muon_variants import one_batch_muon   # noqa: E402  (bench/)
        muon_changes.append(one_batch_muon())
    if args.graphed_muon:
        from cuda_graph import graphed_muon   # noqa: E402  (bench/)
        muon_changes.append(graphed_muon())
        if device.type != "cuda":
            print("note: no CUDA graphs on a CPU: Muon takes its ordinary step here")
    what = " ".join([f"preset {preset}", *p2_argv, *(["one-batch Muon"] if args.one_batch_muon else []),
                     *(["graphed Muon"] if args.graphed_muon else []), *[f"variant {v}" for v in args.variant]])
    print(f"{args.row}: {what}; device {p2.describe_device(device)}, torch {torch.__version__}; "
          f"precision: {precision.describe()}", flush=True)

    model = fresh_model(args.seeds[0])
    compiled = bool(p2_args.compile)
    net = p2.compile_model(model, device, p2_args.compile) if compiled else model

    def failed(e):
        return f"{type(e).__name__}: {str(e)[:200]}"

    def eager_instead(why):
        """A compiled row that fails (as the compiled amax pool once gave NaN) goes on eagerly, and says so."""
        nonlocal net, compiled
        record(seed="", acc=None, train_s=None, note=f"compiled: {why}; the seeds below ran eager")
        torch._dynamo.reset()
        row["note"] = "eager (compiled failed, above)"
        net, compiled = model, False
        model.load_state_dict(fresh_model(args.seeds[0]).state_dict())
        return warm()

    def warm():   # as p2.py: on a GPU, or compiled; a CPU run has no kernels to select
        if device.type != "cuda" and not compiled:
            return 0.0
        t0 = time.perf_counter()
        p2.warm_up(net, cfg, data, device, precision, compiled)
        seconds = time.perf_counter() - t0
        print(f"{args.row}: warm-up ({'compilation, ' if compiled else ''}kernel selection) {seconds:.1f} s",
              flush=True)
        return seconds

    with contextlib.ExitStack() as changes:
        for change in muon_changes:
            changes.enter_context(change)
        try:
            try:
                warm_s = warm()
            except Exception as e:  # noqa: BLE001  (a failure is a finding: said in the table)
                if not compiled:
                    raise
                warm_s = eager_instead(f"failed in the warm-up: {failed(e)}")
        except Exception as e:  # noqa: BLE001
            record(seed="", acc=None, train_s=None, note=f"failed in the warm-up: {failed(e)}")
            return 1
        per_seed, seeds = None, list(args.seeds)
        while seeds:
            seed = seeds.pop(0)
            if args.deadline and per_seed and time.time() + per_seed > args.deadline:
                record(seed=seed, acc=None, train_s=None, note="not run: past the call's time budget")
                continue
            start = time.perf_counter()
            model.load_state_dict(fresh_model(seed).state_dict())   # in place: the compiled graphs stay valid
            try:
                _, train_s = train(net, cfg, data, device, seed, eval_each_epoch=False, log=None,
                                   precision=precision)
                acc, plain, *_ = p2.evaluate(net, cfg, data, device, precision)
            except Exception as e:  # noqa: BLE001  (one failed seed, e.g. a diverged run, is a row that says so)
                if compiled and per_seed is None:   # the first seed fails compiled: the row goes on eager
                    try:
                        warm_s = eager_instead(f"seed {seed} failed: {failed(e)}")
                    except Exception as e:  # noqa: BLE001
                        record(seed="", acc=None, train_s=None, note=f"failed in the eager warm-up: {failed(e)}")
                        return 1
                    seeds.insert(0, seed)
                    continue
                record(seed=seed, acc=None, train_s=None, note=f"failed: {failed(e)}")
                continue
            per_seed = time.perf_counter() - start
            print(f"{args.row}, seed {seed}: {100 * acc:.2f} % ({100 * plain:.2f} % without TTA), "
                  f"{train_s:.2f} s of training ({per_seed:.1f} s wall)", flush=True)
            record(seed=seed, acc=acc, plain=plain, train_s=train_s, device=p2.describe_device(device),
                   **({"warmup_s": round(warm_s, 1)} if seed == args.seeds[0] else {}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
