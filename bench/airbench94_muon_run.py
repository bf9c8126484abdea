"""The public airbench94_muon (Keller Jordan, github.com/KellerJordan/cifar10-airbench, airbench94_muon.py: 94.01 %
in 2.59 s on an A100 by its header) on our decoded data, several seeds in one process, as its own __main__ runs it:
the network compiled once (mode="max-autotune", as there), a warm-up run on random labels, then one main() per
seed. Its file is read from where it lies (git-ignored gpu_data/, never committed) and is not edited:

- data: its CifarLoader reads cifar10/{train,test}.pt under the working directory (images (N, 32, 32, 3) uint8,
  labels, classes) and downloads the official set only when they are missing; they are written there from our
  binary files first (bench/airbench_run.py's writer), and the working directory is changed to that folder.
- its figures: main() returns only the TTA accuracy and prints the rest through its module-level
  print_training_details(locals(), ...); that function is wrapped to keep, per run, the last epoch's time_seconds
  (its own CUDA-event timer: whitening init and training, the per-epoch evaluation left out), that epoch's val_acc
  (without TTA) and the final time_seconds (with the final TTA evaluation, what its header's 2.59 s counts).
- seeds: torch.manual_seed(seed) before each main() (its own __main__ seeds nothing).
- its first lines open sys.argv[0] (to log the code run): that is this wrapper, made absolute before the chdir.

    python bench/airbench94_muon_run.py --file gpu_data/airbench94_muon.py --data-dir DIR --work-dir W \
        --seeds 0 1 2 3 4 --results R.jsonl --table T.md [--info I.json] [--deadline UNIX_S]

It needs CUDA, torch with torch.compile (and Triton for max-autotune), torchvision (it imports it) and nothing
from the network once the .pt files are there. --device cpu is a dry run: its compile is switched off, its data
is moved to the CPU in float32, its CUDA timer is a wall clock and its batches are --dry-batch images (no figure
to keep).
"""
import argparse
import importlib.util
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gpu_table  # noqa: E402  (bench/)
from airbench_run import write_airbench_data  # noqa: E402  (bench/)

ROW = "airbench94_muon"


def load(path):
    spec = importlib.util.spec_from_file_location("airbench94_muon", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class WallClockEvent:
    """torch.cuda.Event's timing interface on the host clock, for a dry run on the CPU."""

    def __init__(self, enable_timing=True):
        self.t = None

    def record(self):
        self.t = time.perf_counter()

    def elapsed_time(self, end):
        return 1e3 * (end.t - self.t)


def patch_for_cpu(module, batch):
    """A dry run on the CPU: its data stays on the CPU in float32, its timer reads the wall clock, its batches are
    small and nothing is compiled. Only for checking this wrapper end to end; its figures mean nothing."""
    torch._dynamo.config.disable = True
    real_load = torch.load
    torch.load = lambda *a, **k: real_load(*a, **{**k, "map_location": "cpu"})
    torch.cuda.Event = WallClockEvent
    torch.cuda.synchronize = lambda *a, **k: None

    class SmallBatches(module.CifarLoader):   # and in float32: fp16 arithmetic is emulated, slowly, on most CPUs
        def __init__(self, path, train=True, batch_size=500, aug=None):
            super().__init__(path, train, min(batch_size, batch), aug)
            self.images = self.images.float()
    module.CifarLoader = SmallBatches


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--file", required=True, help="airbench94_muon.py, as published")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--work-dir", required=True, help="where cifar10/{train,test}.pt are written")
    p.add_argument("--seeds", type=int, nargs="+", required=True)
    p.add_argument("--results", required=True)
    p.add_argument("--table")
    p.add_argument("--info")
    p.add_argument("--deadline", type=float, help="Unix time: no seed starts that would end after it")
    p.add_argument("--compile-mode", default="max-autotune", help="as its own __main__ (none: not compiled)")
    p.add_argument("--device", default="cuda", help="cpu: a dry run (see above)")
    p.add_argument("--limit", type=int, help="only the first N images of each split (dry run)")
    p.add_argument("--dry-batch", type=int, default=50, help="the batch size of a dry run on the CPU")
    args = p.parse_args()
    sys.argv[0] = os.path.abspath(sys.argv[0])   # its first lines read sys.argv[0] (its log keeps the code run)
    for name in ("file", "data_dir", "work_dir", "results", "table", "info"):   # they must survive the chdir
        if getattr(args, name):
            setattr(args, name, os.path.abspath(getattr(args, name)))
    device = torch.device(args.device)
    row = dict(row=ROW, precision="fp16 (its own)")

    def record(**fields):
        gpu_table.record(args.results, {**row, **fields}, args.table, args.info)

    if not os.path.isfile(args.file):
        record(seed="", acc=None, train_s=None, note=f"not run: {args.file} is missing (see bench/gpu_p2.sh)")
        return 2
    if device.type == "cuda" and not torch.cuda.is_available():
        record(seed="", acc=None, train_s=None, note="not run: no CUDA here (a dry run passes --device cpu)")
        return 2
    write_airbench_data(args.data_dir, args.work_dir, args.limit)
    os.chdir(args.work_dir)
    module = load(args.file)
    if device.type != "cuda":
        patch_for_cpu(module, args.dry_batch)
    runs = []
    real_print = module.print_training_details

    def keep(variables, is_final_entry):   # its own logging, plus the figures main() does not return
        runs[-1].append(dict(variables, is_final_entry=is_final_entry))
        real_print(variables, is_final_entry)
    module.print_training_details = keep

    model = module.CifarNet().to(device).to(memory_format=torch.channels_last)
    if device.type != "cuda":
        model = model.float()   # the dry run's float32 (see patch_for_cpu)
    compiled = device.type == "cuda" and args.compile_mode != "none"
    if compiled:
        model.compile(mode=args.compile_mode)
    row["note"] = f"compiled {args.compile_mode}" if compiled else "not compiled (dry run)"
    if device.type != "cuda":
        row["precision"] = "fp32 (dry run)"
    module.print_columns(module.logging_columns_list, is_head=True)
    t0 = time.perf_counter()
    runs.append([])
    try:
        module.main("warmup", model)
    except Exception as e:  # noqa: BLE001  (a row that cannot even warm up is a finding: say so)
        record(seed="", acc=None, train_s=None, note=f"failed in the warm-up: {type(e).__name__}: {str(e)[:200]}")
        return 1
    warm_s = time.perf_counter() - t0
    print(f"{ROW}: warm-up run (compilation, autotuning) {warm_s:.1f} s", flush=True)
    per_seed = None
    for seed in args.seeds:
        if args.deadline and per_seed and time.time() + per_seed > args.deadline:
            record(seed=seed, acc=None, train_s=None, note="not run: past the call's time budget")
            continue
        start = time.perf_counter()
        torch.manual_seed(seed)
        runs.append([])
        try:
            acc = module.main(seed, model)
        except Exception as e:  # noqa: BLE001  (a failed run is a row that says so; the next seed goes on)
            record(seed=seed, acc=None, train_s=None, note=f"failed: {type(e).__name__}: {str(e)[:200]}")
            continue
        per_seed = time.perf_counter() - start
        epochs = [r for r in runs[-1] if not r["is_final_entry"]]
        final = runs[-1][-1]
        record(seed=seed, acc=acc, plain=epochs[-1]["val_acc"], train_s=epochs[-1]["time_seconds"],
               with_tta_s=final["time_seconds"],
               device=torch.cuda.get_device_name() if device.type == "cuda" else "CPU (dry run)",
               **({"warmup_s": round(warm_s, 1)} if seed == args.seeds[0] else {}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
