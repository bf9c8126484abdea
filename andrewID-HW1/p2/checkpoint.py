"""The model file: a plain dict saved with torch.save and read back with weights_only=True (no code can run)."""
import codecs
import errno
import math
import os
import pickle
import re
import warnings
import zipfile

import torch

from config import Config
from model import build_model

FORMAT = "hw1-p2-cifar10/1"
REQUIRED = ("format", "state_dict", "config", "class_names", "mean", "std", "preset", "seed", "test_accuracy")


class CheckpointError(Exception):
    """The file is missing, not a p2 model file, or does not match the network it describes."""


def save_checkpoint(path, model, cfg, *, class_names, mean, std, preset, seed, test_accuracy, **extra):
    """Write the model file to `path`. p2.py gives a staged name, which outputs.OutputSet renames into place only
    once every output is complete (or removes)."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = dict(format=FORMAT, state_dict=state, config=cfg.to_dict(), class_names=list(class_names),
                   mean=[float(m) for m in mean], std=[float(s) for s in std], preset=str(preset), seed=int(seed),
                   test_accuracy=float(test_accuracy), torch_version=str(torch.__version__), **extra)
    try:
        torch.save(payload, path)
    except RuntimeError as e:   # torch's words for a write that failed half way
        if "unexpected pos" not in str(e) and "PytorchStreamWriter failed" not in str(e):
            raise
        raise OSError(errno.EIO, "it was not written completely; is the disk full, or a file size or quota limit "
                                 "reached?", path) from e


def _refusal(path, reason):
    return CheckpointError(f"{path}: not a p2 model file: {reason}")


def _sniff(path, head):
    """Refuse, before torch reads it, any file whose first bytes show it cannot be a p2 model file."""
    if not head:
        raise _refusal(path, "the file is empty (0 bytes)")
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                # torch reads the members without checking their CRCs; a file saved with torch's compute_crc32
                # off has none to check (all zero)
                damaged = archive.testzip() if any(info.CRC for info in archive.infolist()) else None
        except (zipfile.BadZipFile, OSError, EOFError, zipfile.LargeZipFile, NotImplementedError):
            raise _refusal(path, "it is a damaged or truncated zip archive; copy the model file again, "
                                 "or train a new one with `python p2.py`") from None
        if damaged:
            raise _refusal(path, f"it is damaged ({damaged} fails its checksum); copy the model file again, "
                                 "or train a new one with `python p2.py`")
        if names and all(name.endswith(".npy") for name in names):
            raise _refusal(path, "it is a NumPy .npz archive (such as p1_model.npz)")
        if not any(name.endswith("/data.pkl") for name in names):
            raise _refusal(path, "it is a zip archive, but not a PyTorch file")
    elif not head.startswith(b"\x80"):  # neither a zip nor a binary pickle (protocol 2 and up)
        try:
            # incremental: a character cut at the end of `head` is not an error
            is_text = b"\0" not in head and bool(codecs.getincrementaldecoder("utf-8")().decode(head))
        except UnicodeDecodeError:
            is_text = False
        raise _refusal(path, "it is a text file" if is_text else "its bytes match no PyTorch file format")


def _python_objects(error):
    """The refusal for a pickle that weights_only loading will not build, naming the object it asked for."""
    # Torch words this "Unsupported global: GLOBAL os.system ..." or "unsupported GLOBAL posix.system ..."
    asked = re.search(r"GLOBAL\s+([\w.]+)", str(error))
    named = f" ({asked.group(1)})" if asked else ""
    return f"it holds Python objects{named}, which are never loaded"


def load_checkpoint(path):
    """The validated dict stored in `path`; raises CheckpointError with the reason otherwise.

    Torch's own messages are never passed on: they advise loading the file unsafely.
    """
    if os.path.isdir(path):
        raise CheckpointError(f"{path}: is a folder; pass the model file itself (p2_model.pkl)")
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such file (train one with `python p2.py`, or pass the right path)")
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read it ({e.strerror})") from None
    _sniff(path, head)
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols, inviting bug reports
            warnings.simplefilter("ignore")
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # weights_only refuses any pickle that would import or call Python code; nothing has run.
        raise _refusal(path, _python_objects(e)) from None
    except Exception:
        raise _refusal(path, "it is a damaged or truncated PyTorch file; copy the model file again, "
                             "or train a new one with `python p2.py`") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise _refusal(path, f"it is a PyTorch file, but not a dict with format {FORMAT!r}")
    missing = [k for k in REQUIRED if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path}: p2 model file lacks {', '.join(missing)}")
    problem = _metadata_problem(ckpt)
    if problem:
        raise CheckpointError(f"{path}: not a valid p2 model file: {problem}")
    return ckpt


def _metadata_problem(ckpt):
    """What is wrong with the values stored beside the weights (the evaluation and the report use them)."""
    def numbers(value, count):
        return (isinstance(value, (list, tuple)) and len(value) == count
                and all(_is_number(v) and math.isfinite(v) for v in value))
    if not (numbers(ckpt["mean"], 3) and numbers(ckpt["std"], 3) and min(ckpt["std"]) > 0):
        return "mean and std must be 3 finite numbers each (one per colour), std above 0"
    names = ckpt["class_names"]
    if not (isinstance(names, (list, tuple)) and len(names) == 10 and all(isinstance(n, str) for n in names)):
        return "class_names must be the 10 class names"
    if not (_is_number(ckpt["test_accuracy"]) and 0 <= ckpt["test_accuracy"] <= 1):
        return "test_accuracy must be a number from 0 to 1"
    seed = ckpt["seed"]
    if not isinstance(ckpt["preset"], str) or isinstance(seed, bool) or not isinstance(seed, int):
        return "preset must be a name and seed a whole number"
    state = ckpt["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(name, str) and (not torch.is_tensor(t) or t.layout ==
                                                                         torch.strided) for name, t in state.items()):
        return "state_dict must be a dict of tensors by name, each dense (a sparse one is no layer's weights)"
    if any(torch.is_tensor(t) and t.is_floating_point() and t.device.type != "meta" and not torch.isfinite(t).all()
           for t in state.values()):
        return "its weights hold NaN or infinite values, which predict nothing"
    return None


def _differing_tensors(expected, stored):
    """The names of the tensors missing from either dict, or stored with another shape."""
    names = sorted(set(expected) | set(stored))
    return [name for name in names if name not in expected or not torch.is_tensor(stored.get(name))
            or stored[name].shape != expected[name].shape]


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def load_model(path, device="cpu"):
    """Rebuild the network stored in `path`: returns (model in eval mode, config, checkpoint dict)."""
    ckpt = load_checkpoint(path)
    try:
        cfg = Config.from_dict(ckpt["config"])
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"{path}: not a valid p2 model file: its config: {e}") from None
    # The shapes first, on the meta device (no memory): a config that names a network other than the weights' (or
    # a huge one, in a tampered file) is refused before anything is allocated.
    with torch.device("meta"):
        expected = build_model(cfg).state_dict()
    differ = _differing_tensors(expected, ckpt["state_dict"])
    if differ:
        raise CheckpointError(f"{path}: the weights do not fit the network its config describes: "
                              f"{', '.join(differ[:3])}{' and more' if len(differ) > 3 else ''} differ")
    try:
        model = build_model(cfg)
        model.load_state_dict(ckpt["state_dict"])
    except (ValueError, TypeError, RuntimeError) as e:
        detail = "; ".join(line.strip().rstrip(":.") for line in str(e).splitlines() if line.strip())
        detail = detail if len(detail) <= 300 else detail[:297] + "..."
        raise CheckpointError(f"{path}: the weights do not fit the network its config describes: {detail}") from None
    return model.to(device).eval(), cfg, ckpt
