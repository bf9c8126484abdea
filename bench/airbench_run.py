"""One run of the public airbench trainer (Keller Jordan's registry package airbench 0.1.8, unpacked from its sdist)
on our decoded data, for bench/gpu_p2.sh and bench/p2_runs.py. Writes {acc, train_s, device} as JSON (--result),
or appends it as a row of bench/gpu_table.py's results (--results, with --table rewritten).

    python bench/airbench_run.py --airbench DIR --data-dir DIR --variant 94 --seed 0 --result r.json
    python bench/airbench_run.py --airbench DIR --data-dir DIR --variant 96 --seed 0 --results R.jsonl --table T.md

airbench reads cifar10/{train,test}.pt under the working directory (and would download the official set
without them), so they are written there from our binary files first. Its time here: CUDA events around
train94/train96 with per-epoch evaluation off (loader set-up, whitening fit and training), after one short
warm-up run; the accuracy is its own TTA evaluation.
"""
import argparse
import json
import os
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "andrewID-HW1", "p2"))
from data import CLASSES, load_cifar10  # noqa: E402

sys.path.insert(1, os.path.dirname(os.path.abspath(__file__)))
import gpu_table  # noqa: E402  (bench/)


def write_airbench_data(data_dir, work_dir, limit=None):
    """cifar10/train.pt and test.pt as airbench (the package, and airbench94_muon.py) expect: images (N, 32, 32, 3)
    uint8, labels, class names; only the first `limit` images of each split with `limit` (a dry run)."""
    folder = os.path.join(work_dir, "cifar10")
    os.makedirs(folder, exist_ok=True)
    data = load_cifar10(data_dir, download=False)
    for split in ("train", "test"):
        torch.save(dict(images=data[f"{split}_images"][:limit].permute(0, 2, 3, 1).contiguous(),
                        labels=data[f"{split}_labels"][:limit], classes=list(CLASSES)),
                   os.path.join(folder, f"{split}.pt"))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--airbench", required=True, help="the unpacked sdist (the folder holding airbench/)")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--work-dir", required=True, help="where cifar10/{train,test}.pt are written")
    p.add_argument("--variant", choices=["94", "96"], required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--result", help="write the result here as JSON")
    p.add_argument("--results", help="or append it to bench/gpu_table.py's results (JSON lines)")
    p.add_argument("--table", help="with --results: the table to rewrite")
    p.add_argument("--info", help="with --results: the machine's description (bench/gpu_table.py info)")
    args = p.parse_args()
    if not (args.result or args.results):
        p.error("say where the result goes: --result or --results")
    for name in ("airbench", "data_dir", "work_dir", "result", "results", "table", "info"):   # they must survive
        if getattr(args, name):                                                              # the chdir below
            setattr(args, name, os.path.abspath(getattr(args, name)))

    sys.path.insert(0, args.airbench)
    import airbench  # noqa: E402  (from the unpacked sdist)
    if not os.path.isfile(os.path.join(args.work_dir, "cifar10", "test.pt")):
        write_airbench_data(args.data_dir, args.work_dir)
    if not torch.cuda.is_available():   # airbench is CUDA-only: a CPU dry run stops after the set-up
        print(f"airbench{args.variant}: data and package ready; no CUDA, so no run")
        result = dict(acc=float("nan"), train_s=float("nan"), device="CPU (not run)", note="not run: no CUDA")
    else:
        os.chdir(args.work_dir)
        train = getattr(airbench, f"train{args.variant}")
        hyp = getattr(airbench, f"lib_airbench{args.variant}").hyp
        torch.backends.cudnn.benchmark = True
        train(epochs=0.2, verbose=False)                 # warm-up: kernel selection
        torch.manual_seed(args.seed)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        model = train(verbose=False)
        end.record()
        end.synchronize()
        test_loader = airbench.CifarLoader("cifar10", train=False, batch_size=2000)
        acc = airbench.evaluate(model, test_loader, tta_level=hyp["net"]["tta_level"])
        result = dict(acc=acc, train_s=start.elapsed_time(end) / 1000, device=torch.cuda.get_device_name())
    if args.result:
        with open(args.result, "w") as f:
            json.dump(result, f)
    if args.results:   # NaN is not JSON: a run that did not happen has no figures
        figures = {k: (None if isinstance(v, float) and v != v else v) for k, v in result.items()}
        gpu_table.record(args.results, dict(row=f"airbench{args.variant}", seed=args.seed, precision="its own",
                                            **figures), args.table, args.info)


if __name__ == "__main__":
    main()
