"""What a p2 run that fails says, and the Mac GPU's second try on the CPU.

error_message turns an error the user can act on (missing data, an unwritable folder, too little memory, a diverged
run, a failed --compile) into one line, and gives None for a bug, whose traceback is then shown;
run_with_cpu_fallback runs a task again on the CPU when a Mac's GPU fails it, and mps_fault decides which failures
those are. They are kept out of p2.py, which reads as the tutorial's steps and its command line: this is what
happens when a step fails.

This module imports torch, so p2.py imports it after its own `import torch`, which comes after what must run before
torch loads (see p2.py).
"""
import gc
import re

import torch

import interrupt
from checkpoint import CheckpointError
from data import DataError
from outputs import OUTPUT_NAMES, OutputError
from train import TrainingDiverged


def run_with_cpu_fallback(task, args, device):
    """task(args, device); if it fails on a Mac's GPU, where PyTorch lacks or mishandles a few operations in some
    versions, it runs again on the CPU, said in one line. A training loss that stops being finite there counts as
    such a failure (wrong gradients show so). A problem with the data or a file would fail on the CPU as well: that
    ends the run as anywhere else."""
    try:
        return task(args, device)
    except Exception as e:
        if device.type != "mps" or interrupt.received() or not mps_fault(e, args):
            raise
        why = first_line(e)
    # out of the except clause, so the failed run's tensors are freed before the CPU run needs the memory
    print(f"the Mac's GPU (MPS) failed ({why}); running on the CPU instead (--device cpu skips the GPU)")
    gc.collect()
    torch.mps.empty_cache()
    args.fallback = " (the Mac's GPU failed, so the run was repeated on the CPU)"   # the report's Device line
    return task(args, torch.device("cpu"))


def mps_fault(error, args):
    """Whether `error`, raised on a Mac's GPU, is PyTorch's MPS support failing: an operation it lacks, or an error
    of torch's that names MPS or Metal (not our own errors, whose file paths may hold those letters in a user's
    name); or the preset's own recipe diverging (wrong gradients show so; it does not on a CPU)."""
    if isinstance(error, TrainingDiverged):
        return not (args.set or args.epochs or args.batch_size)
    if error_message(error) is not None:   # the data, a file, the memory: the same on the CPU
        return False
    return isinstance(error, NotImplementedError) or (isinstance(error, (RuntimeError, TypeError)) and
                                                     re.search(r"\b(MPS|mps|Metal)\b", str(error)) is not None)


def first_line(exc):
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def error_message(exc):
    """The one line shown for an error the user can act on; None for a bug (then the traceback is shown: a
    ValueError from inside the code is one, as the settings are all checked before any work)."""
    if isinstance(exc, (DataError, CheckpointError, OutputError)):
        return str(exc)
    if isinstance(exc, TrainingDiverged):
        return f"{exc}; {', '.join(OUTPUT_NAMES)} are as they were"
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return ("out of GPU memory; --preset cpu needs less (batches of 1000, with learning rates set for "
                "them), and --device cpu trains in the computer's own memory")
    if isinstance(exc, MemoryError) or "DefaultCPUAllocator: can't allocate memory" in str(exc):
        return ("out of memory (a CPU training run of the cpu recipe takes up to about 4 GB, fast and best more): "
                "close other programs, or train on a GPU (Colab's free one, for instance)")
    if isinstance(exc, OSError):
        return f"{exc.filename or 'a file'}: {exc.strerror or exc}"
    if type(exc).__module__.startswith(("torch._dynamo", "torch._inductor")):   # e.g. no C++ compiler on the CPU
        inner = getattr(exc, "inner_exception", None)   # what the compiler's wrapper holds (torch 2.2 to 2.14)
        known = error_message(inner) if inner is not None else None   # out of memory while compiling, say
        if known:
            return known
        why = f"{type(inner).__name__}: {first_line(inner)}" if inner is not None else first_line(exc)
        return f"--compile failed ({why}); run without --compile, which only saves time"
    return None
