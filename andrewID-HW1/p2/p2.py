"""Problem 2: train a CNN on CIFAR-10 and write p2_model.pkl, p2_report.pdf and p2_training.png.

    python p2.py                          # "fast" on an NVIDIA GPU (seconds), else "cpu" (4 to 40 min on a CPU)
    python p2.py --preset best --seed 1 --out runs/
    python p2.py --validation 5000        # hold out 5,000 training images and show their accuracy per epoch
    python p2.py --eval p2_model.pkl      # re-measure a saved model's test accuracy

The steps follow the PyTorch CIFAR-10 tutorial ("Training a Classifier"): load the data, define the network, the
loss and the optimizer, train, test, save; then write the report. `run_training` below is that list.

Data: CIFAR-10 in either official layout (cifar-10-batches-bin/ or cifar-10-batches-py/) from --data-dir; without
it, from the first that holds one of: $CIFAR10_DIR, ./data (where the PyTorch tutorial puts it), the folder holding
p2.py, its data/, and data/ and data/cifar10 two folders above p2.py. If none does, the official binary version is
downloaded (md5-checked) into $CIFAR10_DIR, or else ./data.
"""
import copy
import itertools
import os
import platform
import sys
import time

import cpu_memory
import interrupt

interrupt.while_starting(__name__ == "__main__")   # before torch loads (seconds): a Ctrl-C then ends in one line
# An operation PyTorch has no Mac GPU (MPS) kernel for then runs on the CPU instead of ending the run; torch reads
# this as it loads. No effect elsewhere.
os.environ.setdefault("PYTORCH_ENABLE_MPS_FALLBACK", "1")
import torch  # noqa: E402

from checkpoint import load_model, save_checkpoint  # noqa: E402
from data import CLASSES, LAYOUT_NAMES, load_cifar10, locate_cifar10  # noqa: E402
from describe import TTA_WORDS, config_table, selective_share  # noqa: E402
from devices import describe_device, pick_device  # noqa: E402
from failures import error_message, run_with_cpu_fallback  # noqa: E402
from method import method_paragraphs  # noqa: E402
from model import build_model  # noqa: E402
from options import check_options, command_line, compose_config, for_device, parse_args, selection_note  # noqa: E402
from outputs import OUTPUT_NAMES, OutputError, OutputSet  # noqa: E402
from precision import choose_precision  # noqa: E402
from predict import MEAN, STD, evaluate, normalize, predict_logits  # noqa: E402
from train import train  # noqa: E402

WHITEN_FIT_IMAGES = 5_000     # training images the whitening stem is computed from
WARM_UP_STEPS = 3             # training steps run (and undone) before the timed run, on a GPU or compiled


def run_training(args, device):
    """Train, test once, save and report: the PyTorch tutorial's steps, each one call."""
    t_start = time.perf_counter()
    preset, cfg = compose_config(args, device)
    precision = choose_precision(args.precision, device)
    torch.backends.cudnn.benchmark = True  # fixed shapes (the ragged last batch is dropped): pick the fastest kernels
    with OutputSet(args.out, OUTPUT_NAMES) as out:   # checked writable now; files replaced only at the end
        announce(args, preset, cfg, precision, device)
        if device.type == "cpu":
            set_up_cpu_memory()

        # 1. Data (data.py): the 50,000 training and 10,000 test images, as uint8 tensors on the device.
        source = find_data(args.data_dir)
        data = split_validation(load_cifar10(source), args.validation, device)

        # 2. The network (model.py), its whitening stem fitted to the training images.
        model = new_model(cfg, data["train_images"], device, args.seed)
        net = compile_model(model, device, args.compile) if args.compile else model
        data_prep_s = time.perf_counter() - t_start
        on_gpu_or_compiled = device.type != "cpu" or args.compile
        warm_up_s = warm_up(net, cfg, data, device, precision, args.compile) if on_gpu_or_compiled else 0.0

        # 3-4. Loss (label-smoothed cross-entropy), optimizers (Muon + SGD) and the training loop: train.py.
        history, train_s = train(net, cfg, data, device, args.seed, eval_each_epoch=not args.no_epoch_eval,
                                 precision=precision)

        # 5. Test (predict.py): once, at the end, with and without test-time augmentation; with the network as saved
        # (not compiled: its kernels round differently), so `--eval` of the model file gives the same accuracy.
        t_eval = time.perf_counter()
        acc, plain_acc, preds, confusion, per_class = evaluate(model, cfg, data, device, precision)
        eval_s = time.perf_counter() - t_eval
        print(f"training time {train_s:.2f} s (first step to final weights); test evaluation {eval_s:.1f} s")

        # 6. Save the model file (checkpoint.py), then 7. the report (report.py).
        facts = dict(preset=preset, seed=args.seed, test_accuracy=acc, test_accuracy_no_tta=plain_acc,
                     train_seconds=train_s, device=describe_device(device), data_note=args.data_note,
                     precision=precision.name, n_train=len(data["train_images"]), n_validation=args.validation)
        save_model(out, model, cfg, facts)
        summary = dict(facts, device=facts["device"] + args.fallback, history=history, config=cfg.to_dict(),
                       tta=cfg.tta, per_class_accuracy=per_class,
                       confusion=confusion.tolist(), class_names=list(CLASSES),
                       samples=pick_samples(data["test_images"], data["test_labels"], preds),
                       timing=dict(data_prep_s=data_prep_s, warm_up_s=warm_up_s,
                                   train_s=train_s, eval_s=eval_s, total_s=time.perf_counter() - t_start),
                       precision=precision.words, precision_reason=precision.reason,
                       memory_kept=device.type == "cpu" and cpu_memory.memory_is_kept(),
                       selection_note=selection_note(preset, cfg, device),
                       data_description=source.describe(args.data_note),
                       title="24789 HW1 problem 2: CIFAR-10 CNN", torch_version=torch.__version__,
                       command=command_line(sys.argv[1:]),
                       machine=f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs")
        write_report(summary, model, cfg, len(data["train_images"]), out)
        interrupt.check()   # a Ctrl-C swallowed while writing still keeps the old outputs
        with interrupt.deferred():   # from here a Ctrl-C no longer stops the run: the three renames finish together
            out.commit()
    print(f"wrote {', '.join(OUTPUT_NAMES)} in {out.folder}")
    if cfg.tta != "none":
        print(f"test accuracy without test-time augmentation: {100 * plain_acc:.2f}%")
    print(f"test accuracy: {100 * acc:.2f}%")   # the last line: scripts that re-measure a model read it


# ----- run_training's steps, in the order it takes them

def announce(args, preset, cfg, precision, device):
    """The console's first lines: what runs, where, in which precision and why, and the whole config."""
    print(f"preset {preset}, seed {args.seed}, device {describe_device(device)}, torch {torch.__version__}")
    print(f"precision: {precision.describe()}")
    print("config:")
    print("\n".join(config_table(cfg.to_dict())))


def set_up_cpu_memory():
    """Freed memory kept for the next step (cpu_memory.py), unless less memory is free than a training run would
    then take: that is said instead, as a run the system stops for want of memory ends with a bare "Killed"."""
    low = cpu_memory.low_memory_note()
    if low:
        print(low)
    else:
        cpu_memory.keep_freed_memory()


def find_data(data_dir):
    """The CIFAR-10 folder to read (see the module docstring for the search), named in one line."""
    source = locate_cifar10(data_dir)
    print(f"data: {source.folder} (CIFAR-10 {LAYOUT_NAMES[source.layout]})")
    return source


def split_validation(data, n_validation, device):
    """The data on `device`, the last `n_validation` training images moved into "val_images"/"val_labels"."""
    data = {k: v.to(device) for k, v in data.items()}
    if n_validation:
        for name in ("images", "labels"):
            full = data.pop(f"train_{name}")
            data[f"train_{name}"], data[f"val_{name}"] = full[:-n_validation], full[-n_validation:]
        print(f"holding out the last {n_validation:,} training images for validation: training on "
              f"{len(data['train_images']):,}")
    return data


def new_model(cfg, train_images, device, seed):
    """The network of `cfg` on `device`, initialised from `seed`, its whitening stem fitted to the first training
    images, in the memory layout the config asks for: ready to train."""
    torch.manual_seed(seed)
    model = build_model(cfg).to(device)
    model.whiten.fit(normalize(train_images[:WHITEN_FIT_IMAGES]))
    return model.to(memory_format=torch.channels_last) if cfg.channels_last else model


def compile_model(model, device, mode="auto"):
    """torch.compile with static shapes, for training: a graph per image size, compiled during the warm-up (the
    test runs uncompiled, as `--eval` does). A new batch shape gets its own graph instead of a recompilation for
    dynamic shapes, whose kernels are slower. Mode "auto": CUDA graphs ("reduce-overhead") on
    a GPU, the fastest measured (the fast recipe on an H100: 1.49 s against 1.59 s compiled without them and 1.83 s
    eager, after about 14 s of compilation), the default elsewhere."""
    if mode == "auto":
        mode = "reduce-overhead" if device.type == "cuda" else "default"
    return torch.compile(model, dynamic=False, mode=None if mode == "default" else mode)


def warm_up(model, cfg, data, device, precision, compiled):
    """On a GPU or compiled: run three training steps at each training image size and one evaluation so compilation
    and kernel selection happen before the timed region (with CUDA graphs the first step runs as compiled, the
    second records the graph, the third replays it); then put the weights and BN statistics back exactly as they
    were. Returns its seconds."""
    sizes = tuple(dict.fromkeys(cfg.epoch_sizes))   # each image size is a graph of its own
    print(f"set-up before timing: {WARM_UP_STEPS} training steps{' per image size' if len(sizes) > 1 else ''} to "
          f"{'compile and ' if compiled else ''}select kernels, then undone")
    t = time.perf_counter()
    saved = copy.deepcopy(model.state_dict())
    warm_cfg = cfg.override(epochs=WARM_UP_STEPS / max(1, len(data["train_images"]) // cfg.batch_size))
    for size in sizes:
        if len(sizes) > 1:   # compiling one size can take half a minute: a line each, so the wait shows progress
            print(f"  {size}x{size} images", flush=True)
        train(model, warm_cfg.override(epoch_sizes=(size,)), data, device, seed=0, eval_each_epoch=False, log=None,
              precision=precision)
    eager = getattr(model, "_orig_mod", model)   # the test runs uncompiled (run_training, step 5)
    predict_logits(eager, data["test_images"][:cfg.eval_batch_size], cfg, device, precision=precision)
    model.load_state_dict(saved)
    seconds = time.perf_counter() - t
    print(f"set-up took {seconds:.1f} s, not counted in the training time")
    return seconds


def save_model(out, model, cfg, facts):
    try:
        save_checkpoint(out.staged("p2_model.pkl"), model, cfg, class_names=CLASSES, mean=MEAN, std=STD, **facts)
    except OSError as e:
        raise out.not_written("the model file", e) from None


def pick_samples(images, labels, preds, n_wrong=15):
    """Images for the report: the first test image of each class, then misclassified ones taken a class at a time
    (the first of each class, then the second of each, ...), so a test set stored in class order shows every class."""
    labels, preds = labels.cpu(), preds.cpu()
    first = [int((labels == c).nonzero()[0]) for c in range(len(CLASSES)) if (labels == c).any()]
    wrong = (preds != labels).nonzero().flatten()
    per_class = [wrong[labels[wrong] == c].tolist() for c in range(len(CLASSES))]
    wrong = [i for rank in itertools.zip_longest(*per_class) for i in rank if i is not None][:n_wrong]

    def group(title, index):
        return dict(title=title, images=images[index].permute(0, 2, 3, 1).cpu().numpy(),
                    labels=labels[index].tolist(), preds=preds[index].tolist())
    wrong_title = (f"{len(wrong)} misclassified test images, the first of each class in turn" if wrong
                   else "No test image is misclassified")
    return [group("The first test image of each class", first), group(wrong_title, wrong)]


def write_report(summary, model, cfg, n_train, out):
    import report   # matplotlib only when a report is written
    total, learned = report.total_params(model), report.learned_params(model)
    summary.update(architecture=report.layer_table(model, (3, 32, 32)), total_params=total, learned_params=learned,
                   method=method_paragraphs(cfg.to_dict(), total_params=total, learned_params=learned,
                                            n_train=n_train, whiten_images=min(WHITEN_FIT_IMAGES, n_train)))
    try:
        report.write_report(summary, out.staged("p2_report.pdf"), out.staged("p2_training.png"))
    except report.ReportError as e:
        raise OutputError(str(e)) from None
    except OSError as e:   # e.g. a full disk while matplotlib writes
        raise out.not_written("the report", e) from None


# ----- --eval and main (the command line's options and their checks: options.py; what a failure says and the
# Mac GPU's second try on the CPU: failures.py)

def run_eval(args, device):
    if device.type == "cpu":
        cpu_memory.keep_freed_memory()   # the free-memory check concerns training only
    model, cfg, ckpt = load_model(args.eval, device)
    cfg = for_device(cfg, device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    precision = choose_precision(args.precision, device)
    print(f"precision: {precision.describe()}")
    data = {k: v.to(device) for k, v in load_cifar10(find_data(args.data_dir), splits=("test",)).items()}
    share = selective_share(cfg.to_dict())
    print(f"{args.eval}: preset {ckpt['preset']}, seed {ckpt['seed']}, stored test accuracy "
          f"{100 * ckpt['test_accuracy']:.2f}%; test-time augmentation: {TTA_WORDS[cfg.tta]}"
          + (f", for the {share} of images least sure after one view" if share else ""), flush=True)
    acc, plain_acc, *_ = evaluate(model, cfg, data, device, precision, mean=ckpt["mean"], std=ckpt["std"])
    if cfg.tta != "none":   # the report's second figure; its stored value where the file has one
        stored = ckpt.get("test_accuracy_no_tta")
        print(f"test accuracy without test-time augmentation: {100 * plain_acc:.2f}%"
              + (f" (stored {100 * stored:.2f}%)" if isinstance(stored, float) else ""))
    apart = round(abs(acc - ckpt["test_accuracy"]) * len(data["test_labels"]))
    if apart:   # bf16 above all rounds differently from one CPU, GPU or precision to the next
        note = ckpt.get("data_note")   # what the training run said of its data: other test images score otherwise
        print(f"{apart} test image{'s' * (apart != 1)} apart from the stored figure ({100 * ckpt['test_accuracy']:.2f}"
              "%): a device or precision other than the training run's rounds differently"
              + (f"; and the stored figure was measured on data described as \"{note}\"" if note else ""))
    print(f"test accuracy: {100 * acc:.2f}%")


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv, __doc__)
    problems = check_options(args)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return 2
    try:
        device, note = pick_device(args.device)   # note: why an NVIDIA GPU here is passed over, if one is
        if note:
            print(note)
        if device.type == "cuda" and device.index is not None:   # events, graphs and new tensors go to the
            torch.cuda.set_device(device)                           # current GPU (cuda:0 unless set): this one
        if args.download_only:
            source = locate_cifar10(args.data_dir)
            found = load_cifar10(source)   # every file read and checked: a partial copy is no "ok"
            print(f"CIFAR-10 is in {source.folder}: {len(found['train_labels']):,} training and "
                  f"{len(found['test_labels']):,} test images, checked")
        else:
            run_with_cpu_fallback(run_eval if args.eval else run_training, args, device)
    except (KeyboardInterrupt, Exception) as e:
        # After a Ctrl-C, whatever error comes out is the interrupt in another form (see interrupt.py).
        if isinstance(e, KeyboardInterrupt) or interrupt.received():
            kept = "" if args.eval or args.download_only else f"; {', '.join(OUTPUT_NAMES)} are as they were"
            what, status = interrupt.ending()
            print(f"interrupted ({what}){kept}", file=sys.stderr)
            return status
        message = error_message(e)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    if hasattr(sys.stdout, "reconfigure"):   # a path with letters the console's code page lacks: shown with ?, no error
        sys.stdout.reconfigure(errors="replace")
    with interrupt.installed():   # Ctrl-C, SIGTERM, SIGHUP from here on; the handlers from before are put back after
        status = main()
    sys.exit(status)
