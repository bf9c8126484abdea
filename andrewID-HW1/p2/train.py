"""Training and evaluation: the data set lives on the device as uint8; each batch is normalised and augmented there."""
import math
import time

import torch
import torch.nn.functional as F

from augment import augment, cutout
from progress import EpochProgress, epoch_line

# Per-channel mean and standard deviation of the CIFAR-10 training images (0..255 scale).
MEAN = (125.31, 122.95, 113.87)
STD = (62.99, 62.09, 66.70)


def normalize(images, mean=MEAN, std=STD):
    """uint8 (N, 3, H, W) -> float32, zero mean and unit variance per channel."""
    mean = torch.tensor(mean, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(std, device=images.device).view(1, 3, 1, 1)
    return (images.float() - mean) / std


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def lr_factor(step, total_steps, warmup_frac):
    """Linear warm-up to 1, then linear decay to 0 at the last step."""
    warmup = max(1, round(warmup_frac * total_steps))
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup))


def make_optimizer(model, cfg):
    """SGD with Nesterov momentum; weight decay only on conv/linear weights, never on biases or BN parameters."""
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    groups = [dict(params=decay, weight_decay=cfg.weight_decay), dict(params=no_decay, weight_decay=0.0)]
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=True)


def autocast(device, enabled):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)


def to_memory_format(x, cfg):
    return x.contiguous(memory_format=torch.channels_last) if cfg.channels_last else x


@torch.no_grad()
def predict_logits(model, images, cfg, device, tta=None, mean=MEAN, std=STD):
    """Logits (N, 10) in float32 for uint8 `images`, averaged over the test-time views `tta` names."""
    tta = cfg.tta if tta is None else tta
    if tta not in ("none", "flip", "flip_translate"):
        raise ValueError(f"unknown tta {tta!r}")
    was_training = model.training
    model.eval()
    out = []
    for start in range(0, len(images), cfg.eval_batch_size):
        x = to_memory_format(normalize(images[start:start + cfg.eval_batch_size].to(device), mean, std), cfg)
        views = [x] if tta == "none" else [x, x.flip(-1)]
        with autocast(device, cfg.autocast):
            logits = torch.stack([model(v).float() for v in views]).mean(0)
            if tta == "flip_translate":
                # One-pixel shifts (down-right and up-left, reflect padding) of both the image and its mirror.
                padded = [F.pad(v, (1, 1, 1, 1), mode="reflect") for v in views]
                shifted = [p[..., :-2, :-2] for p in padded] + [p[..., 2:, 2:] for p in padded]
                shifted_logits = torch.stack([model(to_memory_format(s, cfg)).float() for s in shifted]).mean(0)
                logits = 0.5 * logits + 0.5 * shifted_logits
        out.append(logits.float())
    model.train(was_training)
    return torch.cat(out)


def accuracy(logits, labels):
    return (logits.argmax(1) == labels.to(logits.device)).float().mean().item()


def train(model, cfg, data, device, seed, eval_each_epoch=True, log=print):
    """Train `model` in place on data["train_images"/"train_labels"]; returns (history, train_seconds).

    `train_seconds` covers the first step to the final weights; the per-epoch test evaluation (for the curves
    only, never for choosing anything) is excluded from it.
    """
    images, labels = data["train_images"].to(device), data["train_labels"].to(device)
    generator = torch.Generator().manual_seed(seed)
    steps_per_epoch = len(images) // cfg.batch_size   # drop the ragged last batch: fixed shapes for compile
    if steps_per_epoch == 0:
        raise ValueError(f"batch size {cfg.batch_size} is larger than the {len(images)} training images")
    total_steps = max(1, round(cfg.epochs * steps_per_epoch))
    optimizer = make_optimizer(model, cfg)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, cfg.warmup_frac))

    history, train_seconds, step = [], 0.0, 0
    for epoch in range(1, math.ceil(total_steps / steps_per_epoch) + 1):
        n_steps = min(steps_per_epoch, total_steps - step)
        order = torch.randperm(len(images), generator=generator)[:n_steps * cfg.batch_size].to(device)
        model.train()
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        synchronize(device)
        t0 = time.perf_counter()
        bar = EpochProgress(epoch, n_steps, cfg.batch_size)  # a bar on a terminal, a line every ~30 s in a log
        for i in bar:
            idx = order[i * cfg.batch_size:(i + 1) * cfg.batch_size]
            # Shift and flip the uint8 pixels (cheaper than floats); cut out after normalising, so the
            # square is filled with the mean colour.
            x = normalize(augment(images[idx], cfg.translate, cfg.flip, 0, generator))
            if cfg.cutout:
                x = cutout(x, cfg.cutout, generator)
            y = labels[idx]
            with autocast(device, cfg.autocast):
                logits = model(to_memory_format(x, cfg))
                loss = F.cross_entropy(logits.float(), y, label_smoothing=cfg.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_sum += loss.detach()
            correct += (logits.argmax(1) == y).sum()
            if bar.due(i):  # .item() waits for the device
                bar.report(i, loss_sum.item() / (i + 1), correct.item() / ((i + 1) * cfg.batch_size))
        bar.close()
        synchronize(device)
        seconds = time.perf_counter() - t0
        train_seconds += seconds
        step += n_steps
        row = dict(epoch=epoch, train_loss=loss_sum.item() / n_steps,
                   train_acc=correct.item() / (n_steps * cfg.batch_size), test_acc=None,
                   lr=optimizer.param_groups[0]["lr"], seconds=seconds,
                   images_per_s=n_steps * cfg.batch_size / seconds)
        if eval_each_epoch and "test_images" in data:
            row["test_acc"] = accuracy(predict_logits(model, data["test_images"], cfg, device, tta="none"),
                                       data["test_labels"])
        history.append(row)
        log(epoch_line(row))
    return history, train_seconds
