"""Training: the data set lives on the device as uint8; each epoch's augmented, normalised view (or, without
alternate_flips, each batch) is made there.

Credit: the training loop follows the PyTorch CIFAR-10 tutorial ("Training a Classifier", pytorch.org/tutorials):
forward, loss, backward, optimizer step. Label smoothing of 0.2, the lookahead average of the weights and training
the whitening bias for the first epochs only follow Keller Jordan, "94% on CIFAR-10 in 3.29 Seconds on a Single
GPU", arXiv:2404.00498 (2024), and its airbench code (github.com/KellerJordan/cifar10-airbench); the Muon recipe's
settings (its SGD learning rates, momenta and decay, and learning rates that fall linearly to zero without a
warm-up) come from that repository's airbench94_muon.py. Label smoothing
itself is Szegedy et al.'s ("Rethinking the Inception Architecture for Computer Vision", CVPR 2016), the lookahead
average Zhang et al.'s ("Lookahead Optimizer: k steps forward, 1 step back", NeurIPS 2019). Training the first
epochs on down-scaled images (epoch_sizes) follows the "progressive resizing" of fast.ai's ImageNet training (Jeremy
Howard et al., "Now anyone can train Imagenet in 18 minutes", fast.ai, 2018). The code is our own.
"""
import inspect
import math
import time

import torch
import torch.nn.functional as F

import cpu_memory
import interrupt
from augment import augment, cutout, downscale, epoch_view
from config import LOOKAHEAD_EVERY, bias_peak_lr, epoch_size, step_counts, warmup_steps
from data import DataError
from devices import synchronize
from muon import Muon
from precision import choose_precision
from predict import accuracy, normalize, predict_logits, to_memory_format
from progress import EpochProgress, TimeEstimate, epoch_line

# On a CPU each epoch's augmented view of the set is made this many images at a time (augment.epoch_view): the
# copies of the whole set that one piece would take cost a float32 run 2.4 GB of its peak memory (6.25 -> 3.89 GB).
# An NVIDIA GPU makes it in one piece: fewer kernel launches, and memory to spare. (A Mac's GPU shares the Mac's
# memory: pieces, as on a CPU.)
CPU_VIEW_CHUNK = 5000


def lr_factor(step, total_steps, warmup_frac):
    """Linear warm-up to 1 over round(warmup_frac * total_steps) steps (at least one), then linear decay; the
    factor reaches 0 at step total_steps, one past the last step run."""
    warmup = warmup_steps(warmup_frac, total_steps)
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup))


def lr_schedules(total_steps, warmup_frac, whiten_steps):
    """The lr factor of every step (and one past the last), computed once: "main" for most parameters,
    "whiten" for the whitening bias (a linear decay to 0 over the first `whiten_steps`, then frozen)."""
    steps = range(total_steps + 1)
    main = [lr_factor(s, total_steps, warmup_frac) for s in steps]
    whiten = main if whiten_steps <= 0 else [max(0.0, 1 - s / whiten_steps) for s in steps]
    return dict(main=main, whiten=whiten)


def make_sgd_optimizer(model, cfg):
    """SGD with Nesterov momentum; weight decay only on conv/linear weights, never on biases or BN parameters."""
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    groups = [dict(params=decay, weight_decay=cfg.weight_decay), dict(params=no_decay, weight_decay=0.0)]
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=True)


def make_muon_optimizers(model, cfg, ns_dtype=None):
    """Muon for the conv filters; SGD (Nesterov) for the whitening bias, the BN biases and the head.

    Each SGD group's weight decay is cfg.decay_per_step divided by its lr (torch's coupled weight decay), so at peak
    lr every group loses decay_per_step of its value a step before momentum, about decay_per_step / (1 - momentum)
    once the momentum has built up. `ns_dtype`: the dtype of Muon's Newton-Schulz iteration (None: Muon's own
    choice); a 16-bit one the device computes natively.
    """
    filters, whiten_bias, biases, head = [], [], [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if p.ndim == 4:
            filters.append(p)
        elif name.endswith("whiten.bias"):
            whiten_bias.append(p)
        else:
            (biases if p.ndim <= 1 else head).append(p)
    bias_lr = bias_peak_lr(cfg.to_dict())
    groups = [dict(params=whiten_bias, lr=bias_lr, schedule="whiten"),
              dict(params=biases, lr=bias_lr), dict(params=head, lr=cfg.lr)]
    for group in groups:
        group["weight_decay"] = cfg.decay_per_step / group["lr"]
    # fused: every group in a few kernels on a GPU (torch's SGD has the option from 2.3 on)
    fused = bool(filters) and filters[0].is_cuda and "fused" in inspect.signature(torch.optim.SGD).parameters
    sgd = torch.optim.SGD([g for g in groups if g["params"]], lr=cfg.lr, momentum=cfg.momentum, nesterov=True,
                          **({"fused": True} if fused else {}))
    start_momentum_at_zero(sgd)
    muon = Muon(filters, lr=cfg.muon_lr, momentum=cfg.muon_momentum, ns_steps=cfg.muon_ns_steps, ns_dtype=ns_dtype)
    return [sgd, muon]


def start_momentum_at_zero(sgd):
    """Give every parameter of a torch SGD a zero momentum buffer, as Muon's start (the same first step: momentum * 0
    + g = g). Left to itself, fused SGD makes its buffers with torch.empty_like on its first step; when float16 loss
    scaling skips that step (a gradient overflowed) its kernel writes nothing, and the next step would start from
    whatever that memory held."""
    for p in (p for group in sgd.param_groups for p in group["params"]):
        sgd.state[p]["momentum_buffer"] = torch.zeros_like(p)


def newton_schulz_dtype(precision, on_gpu):
    """The dtype of Muon's Newton-Schulz iteration. On a GPU the run's own, which the card computes natively: bf16,
    float16 where the card has no bf16, float32 when asked for (bf16 there would be emulated on an older card). On a
    CPU None: Muon's float32, as every recorded CPU run did."""
    return precision.dtype if precision is not None and on_gpu else None


def make_optimizers(model, cfg, precision=None):
    """The optimizers of cfg's recipe, Muon's iteration in newton_schulz_dtype()."""
    ns_dtype = newton_schulz_dtype(precision, on_gpu=next(model.parameters()).is_cuda)
    optimizers = (make_muon_optimizers(model, cfg, ns_dtype) if cfg.optimizer == "muon"
                  else [make_sgd_optimizer(model, cfg)])
    for group in (g for opt in optimizers for g in opt.param_groups):
        group["initial_lr"] = group["lr"]
        group.setdefault("schedule", "main")
    return optimizers


def set_lrs(optimizers, schedules, step):
    for group in (g for opt in optimizers for g in opt.param_groups):
        group["lr"] = group["initial_lr"] * schedules[group["schedule"]][step]


class TrainingDiverged(RuntimeError):
    """The training loss is no longer a finite number: every weight after that step is garbage."""


def stop_if_diverged(loss, epoch, cfg):
    if not math.isfinite(loss):
        rates = (f"peak learning rate {cfg.lr:g}; lower it (--set lr=...)" if cfg.optimizer != "muon" else
                 f"peak learning rates {cfg.muon_lr:g} (Muon, the filters), {cfg.lr:g} (SGD, the classifier) and "
                 f"{bias_peak_lr(cfg.to_dict()):g} (SGD, the biases); lower them (--set muon_lr=... --set lr=... "
                 "--set bias_lr=...)")
        raise TrainingDiverged(f"the training loss became {loss} in epoch {epoch} at {rates}, or, with --compile, "
                               "run without it")


class Lookahead:
    """Every `every` steps the slow copy moves `1 - decay` of the way to the weights (and BN statistics), and the
    weights restart from it. decay grows like progress^3 up to 0.95^every, so the slow copy follows the weights
    early on and averages the last, low-lr steps; `finish` leaves the model at the slow copy.
    """

    def __init__(self, model, total_steps, every=LOOKAHEAD_EVERY):
        self.total_steps, self.every = total_steps, every
        self.slow = {k: v.detach().clone() for k, v in model.state_dict().items() if v.is_floating_point()}

    @torch.no_grad()
    def _sync(self, model, decay):
        state = model.state_dict()
        for key, slow in self.slow.items():
            slow.lerp_(state[key], 1 - decay)
            state[key].copy_(slow)

    def _decay(self, step):
        return 0.95 ** self.every * (step / self.total_steps) ** 3

    def update(self, model, step):
        if step % self.every == 0:
            self._sync(model, self._decay(step))

    def finish(self, model):
        """After the last step: the steps since the last pull are pulled in as well (a run of fewer than `every`
        steps would otherwise end at its initial weights)."""
        if self.total_steps % self.every:
            self._sync(model, self._decay(self.total_steps))


class Stopwatch:
    """Seconds of device work from start() to stop(): CUDA events on an NVIDIA GPU (recorded in the stream, so no
    host wait inside the timed region), the wall clock elsewhere, once the device is done (synchronize)."""

    def __init__(self, device):
        self.device, self.cuda = device, device.type == "cuda"

    def start(self):
        if self.cuda:
            self.begin = torch.cuda.Event(enable_timing=True)
            self.begin.record()
        else:
            synchronize(self.device)
            self.begin = time.perf_counter()
        return self

    def stop(self):
        if not self.cuda:
            synchronize(self.device)
            return time.perf_counter() - self.begin
        end = torch.cuda.Event(enable_timing=True)
        end.record()
        end.synchronize()
        return self.begin.elapsed_time(end) / 1000


def normalized_set(images, precision):
    """uint8 images normalised, in the dtype the first conv computes in (autocast would convert them anyway), for
    the recipes that augment a whole epoch at a time and gather each batch from it."""
    return normalize(images).to(precision.dtype)


def train(model, cfg, data, device, seed, eval_each_epoch=True, log=print, precision=None):
    """Train `model` in place on data["train_images"/"train_labels"]; returns (history, train_seconds).

    `train_seconds` covers the first step to the final weights; the per-epoch evaluation on data["val_images"]
    (held-out training images, for the curves; skipped without them) is excluded from it. `precision`: a
    precision.Precision (None: the device's own choice). `log`: where the epoch lines and the time estimate go
    (None: nowhere, and no progress bar).
    """
    quiet, log = log is None, log or (lambda line: None)
    device = torch.device(device)   # "cpu" or "cuda" as a string too
    precision = precision or choose_precision("auto", device)
    images, labels = data["train_images"].to(device), data["train_labels"].to(device)
    # The per-batch path keeps its CPU random stream (the sgd recipe's runs reproduce exactly); the epoch-view
    # path draws on an NVIDIA GPU, so no step waits on the host. (A Mac's GPU draws on the CPU: an operation MPS
    # lacks runs on the CPU, where a generator of the Mac's GPU would be refused.)
    on_cuda = device.type == "cuda"
    generator = torch.Generator(device if cfg.alternate_flips and on_cuda else "cpu").manual_seed(seed)
    if len(images) < cfg.batch_size:
        raise DataError(f"batch size {cfg.batch_size} is larger than the {len(images)} training images; use a "
                        "smaller --batch-size")
    # the ragged last batch of an epoch is dropped (fixed shapes for compile)
    steps_per_epoch, total_steps, whiten_steps = step_counts(cfg.to_dict(), len(images))
    optimizers = make_optimizers(model, cfg, precision)
    scaler = precision.grad_scaler(device)
    schedules = lr_schedules(total_steps, cfg.warmup_frac, whiten_steps)
    # Once the whitening bias has stopped learning (its lr is 0 from then on), autograd can skip its gradient and
    # with it the first convolution's input gradient: 4-5 % of a CPU step. Not in a compiled net, which would
    # recompile for it.
    stem_bias = None if hasattr(model, "_orig_mod") or whiten_steps <= 0 else model.whiten.bias
    lookahead = Lookahead(model, total_steps) if cfg.lookahead else None
    # A step's cost grows roughly with the images' area: the estimate weighs the steps still to come by theirs,
    # then times the first full-size steps themselves.
    estimate = TimeEstimate(total_steps, device, [epoch_size(cfg.epoch_sizes, 1 + s // steps_per_epoch) ** 2
                                                  for s in range(total_steps)])
    epochs = f"{cfg.epochs:g}"
    log(f"training on {len(images):,} images for {epochs} epoch{'' if epochs == '1' else 's'} ({total_steps} "
        f"step{'' if total_steps == 1 else 's'} of {cfg.batch_size}), in {precision.words}")

    if cfg.alternate_flips:
        # Each epoch shifts, flips and normalises the whole set in a few batched ops; a step only gathers its batch.
        flip_phase = torch.rand(len(images), device=generator.device, generator=generator) < 0.5
    history, train_seconds, step = [], 0.0, 0
    for epoch in range(1, math.ceil(total_steps / steps_per_epoch) + 1):
        cpu_memory.release_free_memory()   # on a CPU, once an epoch: bounds what reuse between steps keeps
        n_steps = min(steps_per_epoch, total_steps - step)
        model.train()
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        stopwatch = Stopwatch(device).start()
        size = epoch_size(cfg.epoch_sizes, epoch)
        if cfg.alternate_flips:
            views = None   # the last epoch's, freed before this epoch's are made
            views = epoch_view(images, cfg.translate, flip_phase if cfg.flip else None, epoch, generator,
                               finish=lambda part: downscale(normalized_set(part, precision), size),
                               chunk=len(images) if on_cuda else CPU_VIEW_CHUNK)
            order = torch.randperm(len(images), device=generator.device, generator=generator).to(images.device)
        else:
            order = torch.randperm(len(images), generator=generator)[:n_steps * cfg.batch_size].to(device)
        # a bar on a terminal, a line every ~30 s in a log
        bar = EpochProgress(epoch, n_steps, cfg.batch_size, quiet=quiet)
        for i in bar:
            interrupt.check()   # a Ctrl-C that a library swallowed ends the run here
            idx = order[i * cfg.batch_size:(i + 1) * cfg.batch_size]
            if cfg.alternate_flips:
                x = views[idx]
            else:
                # Shift and flip the uint8 pixels (cheaper than floats); cut out after normalising, so the
                # square is filled with the mean colour.
                x = downscale(normalize(augment(images[idx], cfg.translate, cfg.flip, generator)), size)
            if cfg.cutout:
                x = cutout(x, cfg.cutout, generator)
            y = labels[idx]
            set_lrs(optimizers, schedules, step + i)
            if stem_bias is not None and step + i == whiten_steps:
                stem_bias.requires_grad_(False)
            with precision.autocast(device):
                logits = model(to_memory_format(x, cfg))
                loss = F.cross_entropy(logits.float(), y, label_smoothing=cfg.label_smoothing)
            for optimizer in optimizers:
                optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()   # float16: the loss scaled up, so small gradients stay above zero
            for optimizer in optimizers:
                scaler.step(optimizer)      # float16: unscaled first, skipped if a gradient overflowed
            scaler.update()
            if lookahead:
                lookahead.update(model, step + i + 1)
            loss_sum += loss.detach()
            correct += (logits.argmax(1) == y).sum()
            message = estimate.after_step(step + i)
            if message:
                bar.write(message, log)
            if bar.due(i):  # .item() waits for the device
                bar.report(i, loss_sum.item() / (i + 1), correct.item() / ((i + 1) * cfg.batch_size))
        bar.close()
        step += n_steps
        if lookahead and step == total_steps:
            lookahead.finish(model)
        seconds = stopwatch.stop()
        train_seconds += seconds
        train_loss = loss_sum.item() / n_steps
        # Checked once an epoch, where the loss is read anyway: a check each step would make the GPU wait on it.
        stop_if_diverged(train_loss, epoch, cfg)
        row = dict(epoch=epoch, train_loss=train_loss,
                   train_acc=correct.item() / (n_steps * cfg.batch_size), val_acc=None,
                   lr=cfg.lr * schedules["main"][step], seconds=seconds,
                   images_per_s=n_steps * cfg.batch_size / seconds)
        if eval_each_epoch and len(data.get("val_images", ())):
            row["val_acc"] = accuracy(predict_logits(model, data["val_images"], cfg, device, tta="none",
                                                     precision=precision), data["val_labels"])
        history.append(row)
        log(epoch_line(row))
    if stem_bias is not None:
        stem_bias.requires_grad_(True)   # as built: a later optimizer or training run includes it again
    return history, train_seconds
