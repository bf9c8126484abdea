"""The model file: a plain dict saved with torch.save and read back with weights_only=True (no code can run)."""
import os
import pickle
import tempfile

import torch

from config import Config
from model import build_model

FORMAT = "hw1-p2-cifar10/1"
REQUIRED = ("format", "state_dict", "config", "class_names", "mean", "std", "preset", "seed", "test_accuracy")


class CheckpointError(Exception):
    """The file is missing, not a p2 model file, or does not match the network it describes."""


def save_checkpoint(path, model, cfg, *, class_names, mean, std, preset, seed, test_accuracy, **extra):
    """Write the model file atomically: a temp file in the same folder, renamed over `path` when complete."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = dict(format=FORMAT, state_dict=state, config=cfg.to_dict(), class_names=list(class_names),
                   mean=[float(m) for m in mean], std=[float(s) for s in std], preset=str(preset), seed=int(seed),
                   test_accuracy=float(test_accuracy), torch_version=str(torch.__version__), **extra)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".p2_model.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)   # mkstemp makes the file private; a model file is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load_checkpoint(path):
    """The validated dict stored in `path`; raises CheckpointError with the reason otherwise."""
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such file (train one with `python p2.py`, or pass the right path)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # The wording differs between torch versions; the refused import is always named as a "global".
        globals_asked = [line.strip() for line in str(e).splitlines() if "global" in line.lower()]
        if not globals_asked:
            raise CheckpointError(f"{path}: not a readable torch model file: {str(e).splitlines()[0]}") from None
        # weights_only refuses any pickle that would import or call Python code; nothing has run.
        raise CheckpointError(f"{path}: refused: not a plain p2 model file (it asks to run Python code, which "
                              f"weights_only loading never does). {globals_asked[0]}") from None
    except Exception as e:
        raise CheckpointError(f"{path}: not a readable torch model file: {e}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a p2 model file (expected a dict with format {FORMAT!r})")
    missing = [k for k in REQUIRED if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path}: p2 model file lacks {', '.join(missing)}")
    return ckpt


def load_model(path, device="cpu"):
    """Rebuild the network stored in `path`: returns (model in eval mode, config, checkpoint dict)."""
    ckpt = load_checkpoint(path)
    try:
        cfg = Config.from_dict(ckpt["config"])
        model = build_model(cfg)
        model.load_state_dict(ckpt["state_dict"])
    except (ValueError, TypeError, RuntimeError) as e:
        raise CheckpointError(f"{path}: the weights do not fit the network its config describes: {e}") from None
    return model.to(device).eval(), cfg, ckpt
