"""Problem 2: train a CNN on CIFAR-10 and write p2_model.pkl, p2_report.pdf and p2_training.png.

    python p2.py                          # the cpu preset, or gpu-fast when CUDA is there
    python p2.py --preset gpu-best --seed 1 --out runs/
    python p2.py --eval p2_model.pkl      # re-measure a saved model's test accuracy

Data: the official binary CIFAR-10 in --data-dir (or $CIFAR10_DIR), downloaded there if absent.
"""
import argparse
import copy
import os
import platform
import shlex
import sys
import time

import torch

from checkpoint import CheckpointError, load_model, save_checkpoint  # noqa: F401  (load_model: public API)
from config import PRESETS, get_preset
from data import CLASSES, DataError, load_cifar10, locate_cifar10
from model import build_model
from train import MEAN, STD, normalize, predict_logits, train

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA_DIR = os.environ.get("CIFAR10_DIR") or os.path.join(HERE, "..", "..", "data", "cifar10")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", choices=sorted(PRESETS), help="default: gpu-fast with CUDA, else cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=HERE, help="folder for the model file, report and plot (default: next to p2.py)")
    p.add_argument("--data-dir", default=DEFAULT_DATA_DIR,
                   help="folder holding cifar-10-batches-bin/ (default: $CIFAR10_DIR or data/cifar10)")
    p.add_argument("--data-note", default="", help="a note on the data for the report, e.g. 'JPEG-q75 copy'")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    p.add_argument("--epochs", type=float, help="override the preset's number of epochs")
    p.add_argument("--batch-size", type=int, help="override the preset's batch size")
    p.add_argument("--compile", action="store_true", help="torch.compile the network (warm-up excluded from timing)")
    p.add_argument("--no-epoch-eval", action="store_true", help="skip the per-epoch test accuracy for the curves")
    p.add_argument("--eval", metavar="PATH", help="re-measure the test accuracy of a saved model and exit")
    p.add_argument("--download-only", action="store_true", help="download CIFAR-10 into --data-dir and exit")
    return p.parse_args(argv)


def pick_device(args):
    return torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))


def describe_device(device):
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"CPU: {cpu}, {torch.get_num_threads()} threads"


def compile_model(model, device):
    """torch.compile with static shapes: one graph for training and one for evaluation (the train/eval switch
    picks between the two), both compiled during the warm-up. A new batch shape gets its own graph instead of
    a recompilation for dynamic shapes, whose kernels are slower."""
    mode = "max-autotune-no-cudagraphs" if device.type == "cuda" else None
    return torch.compile(model, dynamic=False, mode=mode)


def warm_up(model, cfg, data, device):
    """Run one training step and one evaluation so compilation and kernel selection happen before the timed
    region; then put the weights and BN statistics back exactly as they were."""
    saved = copy.deepcopy(model.state_dict())
    warm_cfg = cfg.override(epochs=1 / max(1, len(data["train_images"]) // cfg.batch_size))
    train(model, warm_cfg, data, device, seed=0, eval_each_epoch=False, log=lambda *a: None)
    predict_logits(model, data["test_images"][:cfg.eval_batch_size], cfg, device)
    model.load_state_dict(saved)


def evaluate(model, cfg, data, device, mean=MEAN, std=STD):
    logits = predict_logits(model, data["test_images"], cfg, device, mean=mean, std=std).cpu()
    preds, labels = logits.argmax(1), data["test_labels"].cpu()
    confusion = torch.zeros(10, 10, dtype=torch.long)
    confusion.index_put_((labels, preds), torch.ones_like(labels), accumulate=True)
    per_class = (confusion.diag().float() / confusion.sum(1).clamp(min=1).float()).tolist()
    return (preds == labels).float().mean().item(), preds, confusion, per_class


def run_training(args):
    t_start = time.perf_counter()
    device = pick_device(args)
    device_name = describe_device(device)
    torch.backends.cudnn.benchmark = True  # fixed shapes (the ragged last batch is dropped): pick the fastest kernels
    preset = args.preset or ("gpu-fast" if device.type == "cuda" else "cpu")
    cfg = get_preset(preset).override(epochs=args.epochs, batch_size=args.batch_size)
    print(f"preset {preset}, seed {args.seed}, device {device_name}, torch {torch.__version__}")
    print("config: " + ", ".join(f"{k}={v}" for k, v in cfg.to_dict().items()))
    os.makedirs(args.out, exist_ok=True)

    data = {k: v.to(device) for k, v in load_cifar10(args.data_dir).items()}
    torch.manual_seed(args.seed)
    model = build_model(cfg).to(device)
    model.whiten.fit(normalize(data["train_images"][:5000]))
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    net = compile_model(model, device) if args.compile else model
    t_warm = time.perf_counter()
    warm_up(net, cfg, data, device)
    warm_up_s = time.perf_counter() - t_warm
    data_prep_s = time.perf_counter() - t_start
    print(f"warm-up (compilation, kernel selection) {warm_up_s:.1f} s, not counted in the training time")

    print(f"training on {len(data['train_images'])} images for {cfg.epochs:g} epochs")
    history, train_s = train(net, cfg, data, device, args.seed, eval_each_epoch=not args.no_epoch_eval)

    t_eval = time.perf_counter()
    acc, preds, confusion, per_class = evaluate(net, cfg, data, device)
    eval_s = time.perf_counter() - t_eval
    print(f"training time {train_s:.2f} s (first step to final weights); "
          f"evaluation with TTA '{cfg.tta}' {eval_s:.1f} s")

    model_path = os.path.join(args.out, "p2_model.pkl")
    save_checkpoint(model_path, model, cfg, class_names=CLASSES, mean=MEAN, std=STD, preset=preset,
                    seed=args.seed, test_accuracy=acc, train_seconds=train_s, device=device_name,
                    data_note=args.data_note)
    timing = dict(data_prep_s=data_prep_s, train_s=train_s, eval_s=eval_s,
                  total_s=time.perf_counter() - t_start)
    write_outputs(args, model, cfg, preset, history, acc, preds, confusion, per_class, data, device_name, timing)
    print(f"wrote {model_path}, p2_report.pdf and p2_training.png in {args.out}")
    print(f"test accuracy: {100 * acc:.2f}%")


def write_outputs(args, model, cfg, preset, history, acc, preds, confusion, per_class, data, device_name, timing):
    from report import layer_table, total_params, write_report  # matplotlib only when a report is written
    rows, total = layer_table(model, (3, 32, 32)), total_params(model)
    n = 32
    summary = dict(
        title="24789 HW1 problem 2: CIFAR-10 CNN", preset=preset, seed=args.seed, config=cfg.to_dict(),
        architecture=rows, total_params=total, history=history, test_accuracy=acc, tta=cfg.tta,
        class_names=list(CLASSES), per_class_accuracy=per_class, confusion=confusion.tolist(),
        samples=dict(images=data["test_images"][:n].permute(0, 2, 3, 1).cpu().numpy(),
                     labels=data["test_labels"][:n].tolist(), preds=preds[:n].tolist()),
        timing=timing, device=device_name, torch_version=torch.__version__,
        data_source=os.path.abspath(args.data_dir) + (f" ({args.data_note})" if args.data_note else ""),
        command="python " + shlex.join(sys.argv),
        machine=f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs")
    write_report(summary, os.path.join(args.out, "p2_report.pdf"), os.path.join(args.out, "p2_training.png"))


def run_eval(args):
    device = pick_device(args)
    model, cfg, ckpt = load_model(args.eval, device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    data = {k: v.to(device) for k, v in load_cifar10(args.data_dir, splits=("test",)).items()}
    acc, *_ = evaluate(model, cfg, data, device, mean=ckpt["mean"], std=ckpt["std"])
    print(f"{args.eval}: preset {ckpt['preset']}, seed {ckpt['seed']}, TTA '{cfg.tta}', "
          f"stored test accuracy {100 * ckpt['test_accuracy']:.2f}%")
    print(f"test accuracy: {100 * acc:.2f}%")


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.download_only:
            print(f"CIFAR-10 is in {locate_cifar10(args.data_dir)}")
        elif args.eval:
            run_eval(args)
        else:
            run_training(args)
    except (DataError, CheckpointError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
