"""p2.py's command line: its options, their checks (every problem found before any work is done, one line each)
and the config they make of a preset."""
import argparse
import math
import os
import platform
import shlex
import unicodedata

import torch

from config import ALIASES, PRESETS, SELECTION_NOTES, config_problems, default_preset, get_preset, parse_setting
from describe import changes_note
from devices import DeviceError, pick_device
from precision import CHOICES as PRECISIONS, choose_precision

HERE = os.path.dirname(os.path.abspath(__file__))   # the folder holding p2.py: --out's default
TRAIN_IMAGES = 50_000         # CIFAR-10's training set: the largest batch that makes one step per epoch
MAX_VALIDATION = 25_000       # --validation: at most half the training set
MAX_SEED = 2 ** 32 - 1
MAX_NOTE = 100                # --data-note: the report's subtitle is one line
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"error: {message} (python p2.py --help lists the options)\n")


def parse_args(argv, description=None):
    """The options of `argv`; `description` opens --help (p2.py gives its docstring)."""
    p = OneLineParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", type=lambda name: ALIASES.get(name, name), choices=list(PRESETS),   # old names too
                   help="the recipe (config.py; default: fast on an NVIDIA GPU, cpu on a CPU or a Mac's GPU)")
    p.add_argument("--seed", type=int, default=0, help=f"random seed, 0 to {MAX_SEED} (default: 0)")
    p.add_argument("--out", default=HERE, type=path_argument,
                   help="folder for the model file, report and plot (default: next to p2.py)")
    p.add_argument("--data-dir", type=path_argument,
                   help="folder holding cifar-10-batches-bin/ or cifar-10-batches-py/ (default: search, see above)")
    p.add_argument("--data-note", default="", help="a note on the data for the report, e.g. 'JPEG-q75 copy'")
    p.add_argument("--device",
                   help="cpu, cuda, cuda:1 ..., or mps, a Mac's GPU (default: cuda if this PyTorch can run on the "
                        "GPU, mps on an Apple-silicon Mac, else cpu)")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="arithmetic: bf16 or fp16 mixed precision, or fp32 (default auto: bf16 where the device "
                        "computes it natively, fp16 on older GPUs, else fp32)")
    p.add_argument("--validation", type=int, default=0, metavar="N",
                   help="hold out the last N training images and show their accuracy after each epoch (default 0: "
                        "train on all 50,000; the test set is measured once, at the end, either way)")
    p.add_argument("--epochs", type=float, help="override the preset's number of epochs (a positive number)")
    p.add_argument("--batch-size", type=int, help=f"override the preset's batch size (1 to {TRAIN_IMAGES:,})")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override any field of the preset's config (see config.py), e.g. --set residual=true "
                        "--set widths=96,256,256; repeatable")
    p.add_argument("--compile", nargs="?", const="auto", choices=("auto", *COMPILE_MODES), metavar="MODE",
                   help="torch.compile the network, compiled in the warm-up (excluded from the training time); MODE "
                        "is torch.compile's: default, reduce-overhead, max-autotune or max-autotune-no-cudagraphs "
                        "(without MODE: reduce-overhead, with CUDA graphs, on an NVIDIA GPU; default elsewhere)")
    p.add_argument("--no-epoch-eval", action="store_true",
                   help="with --validation: skip the per-epoch validation accuracy")
    task = p.add_mutually_exclusive_group()
    task.add_argument("--eval", metavar="PATH", type=path_argument,
                      help="re-measure the test accuracy of a saved model and exit")
    task.add_argument("--download-only", action="store_true",
                      help="find CIFAR-10, or download it (see above), check every file, and exit")
    p.set_defaults(fallback="")   # words for the report when failures.run_with_cpu_fallback moved a run to the CPU
    return p.parse_args(argv)


def path_argument(text):
    """A path option's value with a leading ~ expanded, as no shell does after "--out=" (nor zsh in an argument
    such as VAR=~/runs). An empty one, such as an unset shell variable gives, is refused: --eval "" would train
    instead."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; give a file or folder")
    return os.path.expanduser(text)


def check_options(args):
    """Every problem with the settings, one message each (empty: all fine). Nothing is read or written yet."""
    problems = not_applying(args)
    if args.epochs is not None and not (math.isfinite(args.epochs) and args.epochs > 0):
        problems.append(f"--epochs {args.epochs:g}: must be a positive finite number, e.g. --epochs 10")
    if args.batch_size is not None and not 1 <= args.batch_size <= TRAIN_IMAGES:
        problems.append(f"--batch-size {args.batch_size}: must be between 1 and {TRAIN_IMAGES:,} "
                        "(the training set's size)")
    if not 0 <= args.validation <= MAX_VALIDATION:
        problems.append(f"--validation {args.validation}: must be from 0 to {MAX_VALIDATION:,} training images")
    if args.no_epoch_eval and not args.validation and not (args.eval or args.download_only):
        problems.append("--no-epoch-eval skips the per-epoch accuracy of the images --validation holds out; without "
                        "--validation there is none to skip: leave it out")
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in args.data_note):   # a no-break space is fine
        problems.append("--data-note: one line, without line breaks or tabs (it is the report's subtitle)")
    elif len(args.data_note) > MAX_NOTE:
        problems.append(f"--data-note: at most {MAX_NOTE} characters (the report's subtitle is one line), not "
                        f"{len(args.data_note)}")
    if not 0 <= args.seed <= MAX_SEED:
        problems.append(f"--seed {args.seed}: must be a whole number from 0 to {MAX_SEED}")
    if args.compile and not compile_supported():
        problems.append(f"--compile: torch {torch.__version__} cannot compile on Python {platform.python_version()}; "
                        "leave --compile out (it only saves time)")
    for setting in args.set:
        try:
            parse_setting(setting)
        except ValueError as e:
            problems.append(str(e))
    try:
        device, _ = pick_device(args.device)
    except DeviceError as e:
        return problems + [str(e)]
    try:
        choose_precision(args.precision, device)   # fp16 on a CPU needs a torch with CPU loss scaling
    except ValueError as e:
        problems.append(str(e))
    if not problems and not (args.eval or args.download_only):   # each setting is fine; is the whole?
        preset, cfg = compose_config(args, device)
        problems += [f"preset {preset} with these settings: {problem}" for problem in config_problems(cfg)]
        left = TRAIN_IMAGES - args.validation
        if args.validation and cfg.batch_size > left:
            problems.append(f"batch size {cfg.batch_size:,} is larger than the {left:,} training images --validation "
                            f"{args.validation:,} leaves; use a smaller --batch-size")
    return problems


def compile_supported():
    """Whether torch.compile works with this torch and Python (torch 2.2 does not on Python 3.12, an Intel Mac's)."""
    import torch._dynamo   # loaded only when --compile is asked for: about a second
    return torch._dynamo.is_dynamo_supported()


def not_applying(args):
    """A problem for options that --eval or --download-only would ignore: a run that silently does less than the
    command says is no run to trust."""
    if not (args.eval or args.download_only):
        return []
    given = [option for option, value in (
        ("--preset", args.preset), ("--set", args.set), ("--epochs", args.epochs is not None),
        ("--batch-size", args.batch_size is not None), ("--validation", args.validation), ("--seed", args.seed),
        ("--compile", args.compile), ("--no-epoch-eval", args.no_epoch_eval), ("--out", args.out != HERE),
        ("--data-note", args.data_note)) if value]
    if not given:
        return []
    task = ("--eval re-measures a saved model with the settings stored in it" if args.eval
            else "--download-only only finds or downloads the data")
    return [f"{task}: {', '.join(given)} would not apply; leave {'it' if len(given) == 1 else 'them'} out"]


def selection_note(preset, cfg, device):
    """How the preset's settings were chosen, after what this run changed of them (--set, --epochs, ...; not what
    the device changes, for_device)."""
    changes = changes_note(preset, cfg.to_dict(), for_device(get_preset(preset), device).to_dict())
    return f"{changes} {SELECTION_NOTES.get(preset, '')}".strip()


def compose_config(args, device):
    """(preset name, config): the preset, then --set, then --epochs and --batch-size."""
    preset = args.preset or default_preset(device)   # parse_args has mapped an earlier name already
    settings = dict(parse_setting(setting) for setting in args.set)
    cfg = get_preset(preset).override(**settings).override(epochs=args.epochs, batch_size=args.batch_size)
    return preset, for_device(cfg, device)


def for_device(cfg, device):
    """`cfg` as `device` runs it. A Mac's GPU (MPS) keeps the usual memory layout: there channels_last gains no
    speed, and in PyTorch releases before 2.14 its batch-norm gradients came out wrong (PyTorch bug report #175189)
    and its max-pool gradients could stop the program (#175190)."""
    return cfg.override(channels_last=False) if device.type == "mps" else cfg


def command_line(argv):
    """The command as run, for the report: `python p2.py ...` with paths that say where this machine keeps things
    (absolute, from home, or up out of the working folder) cut to their last part."""
    def short(arg):
        option, eq, value = arg.partition("=") if arg.startswith("--") else ("", "", arg)
        if os.path.isabs(os.path.expanduser(value)) or value.startswith(("../", ".." + os.sep)):
            value = ".../" + os.path.basename(os.path.normpath(value))
        return option + eq + value
    return "python p2.py " + shlex.join(short(a) for a in argv)
