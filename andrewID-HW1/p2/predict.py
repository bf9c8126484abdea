"""Predictions of a network: images normalised as in training, in batches, averaged over test-time views; and the
test step of p2.py (evaluate): accuracy on the test images, the predictions, the confusion matrix.

Test-time augmentation averages the class scores of several views of each image: the image itself, its mirror
image and 1-pixel shifts of both. The extra views go only to the images one view is least sure of.

Credit: test-time augmentation by the mirror image and 1-pixel shifts follows Keller Jordan, "94% on CIFAR-10 in
3.29 Seconds on a Single GPU", arXiv:2404.00498 (2024), and its airbench code (github.com/KellerJordan/
cifar10-airbench). Giving the extra views only to a fixed share of the images one view is least sure of follows the
selective test-time augmentation of Hiverge's "CIFAR10-Speedrun" (github.com/hiverge/cifar10-speedrun, 2025), which
ranks them by their top class probability; ranking by the gap between the two likeliest classes, and the share, are
our choices. The code is our own.
"""
import math

import torch
import torch.nn.functional as F

from config import TTAS
from precision import choose_precision
from progress import Progress

# Per-channel mean and standard deviation of the official CIFAR-10 training images (0..255 scale), kept fixed so
# that every copy of the data (the JPEG one measures within half a unit of these) is normalised alike.
MEAN = (125.31, 122.95, 113.87)
STD = (62.99, 62.09, 66.70)
# On a CPU, evaluation runs in small batches: each activation of the cpu and fast networks (25 MB at most in float32)
# stays under the 32 MB above which glibc's malloc maps fresh pages from the kernel for every call (best's wider
# network reaches 49 MB), and memory stays low. With glibc's default malloc the handed-in model's forward ran 18 %
# (float32, AVX2 kernels) to 37 % (bf16, AMX) faster in batches of 100 than of 2000 on a 2-core Intel Xeon with AMX
# (as fast as 2000 once cpu_memory.keep_freed_memory() has run, which not every caller of this function does). A GPU
# wants large batches (the config's eval_batch_size).
CPU_EVAL_BATCH = 100


def normalize(images, mean=MEAN, std=STD):
    """uint8 (N, 3, H, W) -> float32, zero mean and unit variance per channel."""
    mean = torch.tensor(mean, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(std, device=images.device).view(1, 3, 1, 1)
    return (images.float() - mean) / std


def to_memory_format(x, cfg):
    return x.contiguous(memory_format=torch.channels_last) if cfg.channels_last else x


def least_sure(logits, fraction):
    """Indices (ascending) of the `fraction` of rows whose two most likely classes are closest in probability."""
    probs = logits.softmax(1).topk(2, dim=1).values
    order = (probs[:, 0] - probs[:, 1]).argsort(stable=True)
    return order[:math.ceil(fraction * len(logits))].sort().values


@torch.no_grad()
def predict_logits_per_tta(model, images, cfg, device, ttas, mean=MEAN, std=STD, precision=None, desc=None):
    """{tta: logits (N, 10) in float32} for uint8 `images`, for each test-time augmentation named in `ttas`.

    Every image is classified from one view first ("none"). The other views of a test-time augmentation go only to
    the cfg.tta_fraction of the images that view is least sure of (closest top two classes); the rest keep their
    one-view logits: on 16 trained models (13 of the cpu recipe and variants of it, 3 of fast), 40 % of the images
    gave the accuracy of all views on all, for half the work; the same held on 5,000 held-out training images for 3
    more cpu-recipe models. `precision`: a precision.Precision (None: the device's own choice); `desc`: show
    progress under it.
    """
    for tta in ttas:
        if tta not in TTAS:
            raise ValueError(f"unknown tta {tta!r}")
    device = torch.device(device)   # "cpu" or "cuda" as a string works too
    precision = precision or choose_precision("auto", device)
    was_training = model.training
    model.eval()
    size = cfg.eval_batch_size if device.type != "cpu" else min(cfg.eval_batch_size, CPU_EVAL_BATCH)

    def batches(index, what):
        """(positions, normalised images) of `index`, a batch at a time."""
        starts = range(0, len(index), size)
        for k in Progress(len(starts), what) if desc else range(len(starts)):
            part = index[starts[k]:starts[k] + size]
            yield part, to_memory_format(normalize(images[part].to(device), mean, std), cfg)

    plain = torch.empty(len(images), 10)
    with precision.autocast(device):
        for part, x in batches(torch.arange(len(images)), desc):
            plain[part] = model(x).float().cpu()
    out = {tta: plain.clone() for tta in ttas}
    chosen = least_sure(plain, cfg.tta_fraction) if set(ttas) - {"none"} else torch.arange(0)
    with precision.autocast(device):
        for part, x in batches(chosen, desc and f"{desc}, more views of {len(chosen):,} images"):
            views = [x, x.flip(-1)]
            flip = (plain[part] + model(views[1]).float().cpu()) / 2
            if "flip" in ttas:
                out["flip"][part] = flip
            if "flip_translate" in ttas:
                # One-pixel shifts (down-right and up-left, reflect padding) of both the image and its mirror.
                padded = [F.pad(v, (1, 1, 1, 1), mode="reflect") for v in views]
                shifted = [p[..., :-2, :-2] for p in padded] + [p[..., 2:, 2:] for p in padded]
                shifted_logits = torch.stack([model(to_memory_format(s, cfg)).float() for s in shifted]).mean(0)
                out["flip_translate"][part] = 0.5 * flip + 0.5 * shifted_logits.cpu()
    model.train(was_training)
    return out


def predict_logits(model, images, cfg, device, tta=None, mean=MEAN, std=STD, precision=None):
    """Logits (N, 10) in float32 for uint8 `images`, averaged over the test-time views `tta` names."""
    tta = cfg.tta if tta is None else tta
    return predict_logits_per_tta(model, images, cfg, device, (tta,), mean, std, precision)[tta]


def evaluate(model, cfg, data, device, precision, mean=MEAN, std=STD):
    """Test accuracy with the preset's TTA, its predictions, confusion matrix and per-class accuracy; and, from the
    same pass, the accuracy without TTA."""
    ttas = (cfg.tta, "none") if cfg.tta != "none" else ("none",)
    logits = predict_logits_per_tta(model, data["test_images"], cfg, device, ttas, mean=mean, std=std,
                                    precision=precision, desc="testing")
    labels = data["test_labels"].cpu()
    preds = logits[cfg.tta].cpu().argmax(1)
    confusion = torch.zeros(10, 10, dtype=torch.long)
    confusion.index_put_((labels, preds), torch.ones_like(labels), accumulate=True)
    per_class = (confusion.diag().float() / confusion.sum(1).clamp(min=1).float()).tolist()
    return accuracy(logits[cfg.tta], labels), accuracy(logits["none"], labels), preds, confusion, per_class


def accuracy(logits, labels):
    return (logits.argmax(1) == labels.to(logits.device)).float().mean().item()
