"""Re-measure the handed-in models on the test sets and compare with the numbers stored in the model files.

    python3 tools/verify.py [--mnist-dir DIR] [--cifar10-dir DIR] [--only p1|p2] [--bundle DIR]

p1: p1_model.npz is loaded with p1's own load_model and its error on mnist_test.csv is compared with the stored
test_error (tolerance: one image). p2: `p2.py --eval` runs as a student would run it, from the p2 folder alone, and
its accuracy on the 10,000 test images is compared with the stored test_accuracy: within 1 image (0.01 pp, the
printed rounding) on the device and in the precision the model was trained with, within 10 images (0.1 pp)
otherwise. p2 picks its precision for the device (bf16 where the device computes it natively, float32 on a CPU
without it, float16 on an older GPU), and rounding differs between devices and precisions (CPU vector units and GPU
tensor cores add in different orders), so an image whose two best classes are nearly tied can change class: a
CPU-trained model re-measured on an H100 moved by 1 image. A wrong model file or different data moves the accuracy by
far more than 10 images. p2's progress lines pass through while it evaluates.
CIFAR-10 may be in either official layout (cifar-10-batches-bin/ or cifar-10-batches-py/); without --cifar10-dir
it is looked for where p2.py looks (./data first, where the PyTorch tutorial downloads it).
Prints a table; exits 1 on a mismatch, a missing model or missing data.
"""
import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_BUNDLE = os.path.join(ROOT, "andrewID-HW1")
P1_BATCH = 1000
P2_TIMEOUT_S = 3600         # a full-size model with test-time augmentation on a slow, shared CPU
TEST_IMAGES = 10_000
SAME_DEVICE_IMAGES = 1      # the rounding of the printed percentage
OTHER_DEVICE_IMAGES = 10    # bf16 on another device can flip a few nearly tied images (see above)
PRINTED_ROUNDING_PP = 0.005  # p2.py prints the accuracy with two decimals
CIFAR_LAYOUTS = {"cifar-10-batches-bin": tuple(f"data_batch_{i}.bin" for i in range(1, 6)) + ("test_batch.bin",),
                 "cifar-10-batches-py": tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)}
MARK = "verify-json: "

# Run in the p2 folder by `python -E` (as tools/bundle_run.py's checks): reads the stored numbers (weights_only)
# and names this machine's device, then hands over to p2.py's own command line, so the accuracy comes from the code
# path a student runs.
P2_EVAL = r"""
import json, os, sys
sys.path.insert(0, os.getcwd())
import p2   # before torch: p2 sets what torch reads as it loads (a Mac GPU's fallback to the CPU)
import torch
model_path = sys.argv[2]
try:
    ckpt = torch.load(model_path, map_location="cpu", weights_only=True)
    stored = {"test_accuracy": ckpt.get("test_accuracy"), "device": ckpt.get("device")}
    from precision import WORDS
    if stored["device"] and ckpt.get("precision") in WORDS:
        stored["device"] += ", " + WORDS[ckpt["precision"]]
except Exception:
    stored = {"test_accuracy": None, "device": None}  # p2.py's own loading below explains what is wrong
from devices import default_device, describe_device
def named(pick):
    try:
        device = pick()
        return describe_device(device) + ", " + p2.choose_precision("auto", device).words
    except Exception:
        return None
# the device as p2.py picks it; and the CPU, where a Mac's GPU fails and p2 goes on there
print("verify-json: " + json.dumps(dict(stored, current_device=named(lambda: default_device()[0]),
                                        cpu_device=named(lambda: torch.device("cpu")))), flush=True)
sys.exit(p2.main(sys.argv[1:]))
"""


class VerifyError(Exception):
    """A model or data set is missing or unreadable; the message says what to do."""


@dataclass
class Result:
    model: str
    stored: str = "-"
    measured: str = "-"
    tolerance: str = "-"
    match: bool = None  # None: could not be measured
    note: str = ""


# ---------------------------------------------------------------------------------------------------------------
# p1: MNIST
# ---------------------------------------------------------------------------------------------------------------
def import_file(folder, filename, name):
    """`folder`/`filename` as a module of its own (`name`), so it never mixes with a module of the same file name
    already imported; its folder is importable while it loads (p2's data.py imports its neighbour safe_pickle)."""
    path = os.path.join(folder, filename)
    if not os.path.isfile(path):
        raise VerifyError(f"{path}: missing; restore it from the repository")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.abspath(folder))
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        raise VerifyError(f"{path} does not import: {type(e).__name__}: {e}") from None
    finally:
        sys.path.remove(os.path.abspath(folder))
    return module


MNIST_TEST_ROWS = 10_000


def mnist_places(p1):
    """Where to look for mnist_test.csv without --mnist-dir: where the bundle's `python p1.py` looks, then (when
    $MNIST_DIR does not decide alone) this repository's data/mnist, for an unpacked zip."""
    places = [folder for folder, _ in p1.mnist_places()]
    if not os.environ.get("MNIST_DIR"):
        places.append(os.path.join(ROOT, "data", "mnist"))
    return distinct_folders(places)


def distinct_folders(places):
    """The folders as absolute paths, each once, in their first order."""
    return list(dict.fromkeys(os.path.normpath(os.path.abspath(place)) for place in places))


def measure_p1(p1_dir, mnist_dir):
    """(stored test error, wrong predictions, test images) of p1_model.npz on MNIST's test set."""
    model_path = os.path.join(p1_dir, "p1_model.npz")
    if not os.path.isfile(model_path):
        raise VerifyError(f"{model_path}: missing; train it with `make p1`")
    p1 = import_file(p1_dir, "p1.py", "verified_p1")
    places = [mnist_dir] if mnist_dir else bundle_call("p1", mnist_places, p1)
    csv = next((os.path.join(place, "mnist_test.csv") for place in places
                if os.path.isfile(os.path.join(place, "mnist_test.csv"))), None)
    if csv is None:
        raise VerifyError(f"MNIST test set (mnist_test.csv) not found in {', '.join(places)}; get it with `make "
                          "data-mnist`, or pass its folder: `make verify MNIST_DIR=/path/to/mnist`")
    mlp = bundle_call("p1", p1.load_model, model_path)
    pixels, labels = bundle_call("p1", p1.load_mnist_csv, csv)
    stored = getattr(mlp, "metadata", {}).get("test_error")
    if stored is None:
        raise VerifyError(f"{model_path}: stores no test_error; retrain with `make p1` to write a complete model file")
    try:
        stored = float(stored)
    except (TypeError, ValueError):
        raise VerifyError(f"{model_path}: its stored test_error ({stored!r}) is not a number; retrain with "
                          "`make p1`") from None
    if len(labels) != MNIST_TEST_ROWS:   # the stored error was measured on the whole test set
        raise VerifyError(f"{csv}: {len(labels):,} rows, but MNIST's test set has {MNIST_TEST_ROWS:,}; get it "
                          "again with `make data-mnist`")
    wrong = bundle_call("p1", count_wrong, p1, mlp, pixels, labels)
    return stored, wrong, len(labels)


def count_wrong(p1, mlp, pixels, labels):
    wrong = 0
    for start in range(0, len(labels), P1_BATCH):
        logits = mlp.forward(p1.preprocess(pixels[start:start + P1_BATCH]))
        wrong += int((logits.argmax(axis=1) != labels[start:start + P1_BATCH]).sum())
    return wrong


def bundle_call(part, function, *args):
    """function(*args), which calls the bundle's own code: whatever that raises is one VerifyError line."""
    try:
        return function(*args)
    except Exception as e:
        raise VerifyError(f"{part}: {type(e).__name__}: {e}") from None


def compare_p1(stored, wrong, n):
    """Equal within one image: the stored error was computed on the same n images."""
    error = wrong / n
    return Result("p1  MNIST test error", f"{100 * stored:.2f}%", f"{100 * error:.2f}% ({wrong}/{n})",
                  f"+/-{100 / n:.2f} pp (1 image)", abs(error - stored) <= 1 / n + 1e-12)


# ---------------------------------------------------------------------------------------------------------------
# p2: CIFAR-10
# ---------------------------------------------------------------------------------------------------------------
def cifar10_places(p2_dir):
    """Where to look for CIFAR-10 without --cifar10-dir: where the bundle's `python p2.py` looks (./data first,
    where the PyTorch tutorial downloads), then this repository's data/ and data/cifar10, for an unpacked zip."""
    places = bundle_call("p2", import_file(p2_dir, "data.py", "verified_p2_data").search_places)
    return distinct_folders(places + [os.path.join(ROOT, "data"), os.path.join(ROOT, "data", "cifar10")])


def cifar_batches_dir(*places):
    """The first folder with the six batch files of either layout (PLACE/cifar-10-batches-bin,
    PLACE/cifar-10-batches-py, or PLACE itself); checked here so that p2.py never starts a download from inside a
    verification."""
    for place in places:
        for layout, names in CIFAR_LAYOUTS.items():
            for folder in (os.path.join(place, layout), place):
                if all(os.path.isfile(os.path.join(folder, name)) for name in names):
                    return folder
    raise VerifyError(f"CIFAR-10 not found in {', '.join(places)}: expected cifar-10-batches-bin/ or "
                      "cifar-10-batches-py/ with the five training batches and the test batch; get it with `make "
                      "data-cifar10`, or pass the folder: `make verify CIFAR10_DIR=/path/to/cifar10`")


def measure_p2(p2_dir, cifar10_dir):
    """(stored accuracy, re-measured accuracy in %, stored device, current device) via `p2.py --eval`."""
    model_path = os.path.abspath(os.path.join(p2_dir, "p2_model.pkl"))
    if not os.path.isfile(model_path):
        raise VerifyError(f"{model_path}: missing; train it with `make p2`")
    places = [cifar10_dir] if cifar10_dir else cifar10_places(p2_dir)
    data_dir = os.path.abspath(cifar_batches_dir(*places))
    # -u: each line as p2 prints it (-E ignores PYTHONUNBUFFERED)
    cmd = [sys.executable, "-E", "-B", "-u", "-c", P2_EVAL, "--eval", model_path, "--data-dir", data_dir]
    returncode, lines = run_showing_progress(cmd, p2_dir)
    info = next((json.loads(line[len(MARK):]) for line in lines if line.startswith(MARK)), None)
    printed = re.fullmatch(r"test accuracy: ([0-9.]+)%", lines[-1].strip()) if lines else None
    if returncode != 0 or info is None or printed is None:
        # its lines have already passed through: name its own error line, not all of them again
        said = next((line for line in reversed(lines) if line.startswith(("error: ", "interrupted"))),
                    lines[-1] if lines else "no output")
        raise VerifyError(f"p2.py --eval {model_path} failed (exit {returncode}): {said.removeprefix('error: ')}")
    if not isinstance(info["test_accuracy"], (int, float)):
        raise VerifyError(f"{model_path}: stores no test_accuracy; retrain with `make p2`")
    fell_back = any(line.startswith("the Mac's GPU (MPS) failed") for line in lines)   # p2 went on on the CPU
    current = info["cpu_device"] if fell_back else info["current_device"]
    return float(info["test_accuracy"]), float(printed.group(1)), info["device"], current


def run_showing_progress(cmd, folder):
    """(exit status, output lines) of `cmd` run in `folder`, its stdout and stderr together; its lines pass through
    as they come (p2.py says its precision, and its progress every 30 s, while it evaluates)."""
    proc = subprocess.Popen(cmd, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, MPLBACKEND="Agg"))
    # The deadline runs beside the reading: a wait after it would only start once the output had ended.
    expired = threading.Event()
    deadline = threading.Timer(P2_TIMEOUT_S, lambda: (expired.set(), proc.kill()))
    deadline.start()
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if not line.startswith(MARK):   # on stderr: stdout keeps the table alone, for scripts
                print(f"  p2: {line.rstrip()}", file=sys.stderr, flush=True)
        returncode = proc.wait()
    finally:
        deadline.cancel()
        if proc.poll() is None:
            proc.kill()
    if expired.is_set():
        raise VerifyError(f"p2.py --eval took over {P2_TIMEOUT_S} s; gave up")
    return returncode, lines


def compare_p2(stored, measured_pct, stored_device, current_device):
    """Result row and a footnote. On the training device the evaluation repeats the same kernels; elsewhere bf16
    rounding differs and a few images whose two best classes are nearly tied may change class."""
    same = stored_device is not None and stored_device == current_device
    images = SAME_DEVICE_IMAGES if same else OTHER_DEVICE_IMAGES
    tolerance = 100 * images / TEST_IMAGES
    match = abs(measured_pct - 100 * stored) <= tolerance + PRINTED_ROUNDING_PP + 1e-9
    allowed = f"{images} image{'s' * (images != 1)} of {TEST_IMAGES:,} ({tolerance:g} pp)"
    if same:
        note = f"p2: re-measured on the device it was trained on ({current_device}): tolerance {allowed}."
    else:
        note = (f"p2: trained on {stored_device or 'an unrecorded device'}, re-measured on {current_device}: "
                f"tolerance {allowed}, since rounding (bf16's above all) differs between devices and precisions "
                "and can change the class of an image whose two best classes are nearly tied.")
    return Result("p2  CIFAR-10 test accuracy", f"{100 * stored:.2f}%", f"{measured_pct:.2f}%",
                  f"+/-{images} image{'s' * (images != 1)} ({tolerance:g} pp)", match, note)


# ---------------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------------
def format_table(results):
    header = ("model", "stored", "re-measured", "tolerance", "match")
    match = {True: "yes", False: "NO", None: "n/a"}
    rows = [header] + [(r.model, r.stored, r.measured, r.tolerance, match[r.match]) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # a leading ~ expanded: zsh (macOS) leaves it as typed in `make verify MNIST_DIR=~/mnist`
    p.add_argument("--mnist-dir", type=os.path.expanduser,
                   help="folder holding mnist_test.csv (default: where p1.py looks: $MNIST_DIR, beside p1.py, the "
                        "working folder, data/mnist)")
    p.add_argument("--cifar10-dir", type=os.path.expanduser,
                   help="folder holding cifar-10-batches-bin/ or cifar-10-batches-py/ (default: where p2.py looks: "
                        "$CIFAR10_DIR, ./data, beside p2.py, data/cifar10)")
    p.add_argument("--only", choices=("p1", "p2"), help="verify one model only")
    p.add_argument("--bundle", default=DEFAULT_BUNDLE, type=os.path.expanduser,
                   help="folder holding p1/ and p2/ (default: andrewID-HW1; an unpacked zip works too)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    results, errors = [], []
    checks = {
        "p1": ("p1  MNIST test error",
               lambda: compare_p1(*measure_p1(os.path.join(args.bundle, "p1"), args.mnist_dir))),
        "p2": ("p2  CIFAR-10 test accuracy",
               lambda: compare_p2(*measure_p2(os.path.join(args.bundle, "p2"), args.cifar10_dir))),
    }
    for name, (label, check) in checks.items():
        if args.only in (None, name):
            try:
                results.append(check())
            except VerifyError as e:
                results.append(Result(label))
                errors.append(str(e))
    print("\n".join(format_table(results)))
    for r in results:
        if r.note:
            print(r.note)
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    if errors or not all(r.match for r in results):
        if not errors:
            print("error: a re-measured number differs from the stored one beyond the tolerance", file=sys.stderr)
        return 1
    print("all stored numbers reproduced")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted (Ctrl-C); nothing was changed", file=sys.stderr)
        sys.exit(130)
