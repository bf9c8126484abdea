"""The report's Method section, paragraph by paragraph: the recipe written out from its config (so the text stays
true when a value changes), then what the run's summary adds: its arithmetic and how the settings were chosen.

The words for single settings and values come from describe.py. Where a paragraph states a published idea it
names its source: the "1cycle" schedule (Leslie Smith, arXiv:1803.09820, 2018) and loss scaling (Paulius
Micikevicius et al., "Mixed Precision Training", ICLR 2018); the Sources paragraph (credit.py) credits the rest.
"""
import math

from config import LOOKAHEAD_EVERY, bias_peak_lr, epoch_size, step_counts, warmup_steps
from describe import has_shortcut, mirrors_alternately, readable, selective_share, shown_fields


# ----- the method, paragraph by paragraph -----

def _architecture(cfg, total_params, whiten_images, learned_params=None):
    k = cfg["whiten_patch"]
    size = 32 - k + 1
    sizes = []
    for _ in cfg["widths"]:
        size //= 2
        sizes.append(size)
    n = cfg["convs_per_group"]
    rest = (f", then {n - 1} more 3x3 convolution{'s' if n > 2 else ''} with batch norm and GELU" if n > 1 else "")
    if has_shortcut(cfg):
        rest += (", and the output of the first block is added to that of the last (a shortcut, so that early in "
                 "training a group acts much like its first block alone)")
    learned = (f" ({learned_params:,} of them learned, the others fixed)"
               if learned_params and learned_params != total_params else "")
    return (f"A convolutional network with {total_params:,} parameters{learned}. Its first layer is a whitening "
            f"stem: a {k}x{k} convolution whose filters are not learned but computed before training from "
            f"{whiten_images:,} training images. The {3 * k * k} values of a {k}x{k} patch (three colours) are "
            "strongly correlated. Each eigenvector of their covariance matrix, divided by the square root of its "
            f"eigenvalue, becomes one filter, so the outputs of these {3 * k * k} filters are uncorrelated and of unit "
            "variance, except in the weakest directions: a small constant added to each eigenvalue keeps those, "
            f"mostly noise, from being amplified. Each filter is kept with both signs ({2 * 3 * k * k} channels), so "
            "the GELU after the stem loses nothing (GELU(x) \u2212 GELU(\u2212x) = x). These filters stay frozen; "
            "only the stem's biases learn. This spares the first steps of training the work of decorrelating the "
            f"pixels. Then come {len(cfg['widths'])} groups of "
            f"{', '.join(map(str, cfg['widths']))} channels, with outputs of "
            f"{', '.join(f'{s}x{s}' for s in sizes)} pixels for a 32x32 image. Each group is a 3x3 convolution, a "
            f"2x2 max-pool, batch norm (its running statistics give each new batch the weight "
            f"{readable(cfg['bn_momentum'])}) and GELU{rest}. A global "
            "max-pool keeps the largest value of each channel, and a linear layer without bias gives the ten class "
            f"scores, multiplied by {readable(cfg['logit_scale'])} so that the large early steps do not saturate "
            "the softmax.")


def _loss(cfg):
    s = cfg["label_smoothing"]
    if not s:
        return "Cross-entropy of the softmax of the class scores, averaged over the batch."
    return (f"Cross-entropy of the softmax of the class scores, with label smoothing {readable(s)}: the target puts "
            f"{readable(round(1 - s + s / 10, 6))} on the true class and {readable(round(s / 10, 6))} on each of the "
            "nine others, which discourages over-confident predictions. "
            "The loss is averaged over the batch.")


def _sgd(cfg):
    text = (f"Stochastic gradient descent with Nesterov momentum {readable(cfg['momentum'])}, "
            f"{cfg['batch_size']} images per step, peak learning rate {readable(cfg['lr'])}. ")
    if not cfg["weight_decay"]:
        return text + "No weight decay; the frozen whitening filters are not updated at all."
    return text + (f"Weight decay {readable(cfg['weight_decay'])} (added to the gradient, as PyTorch's SGD does) "
                   "applies to the weights of the convolutions and of the linear layer only; biases and the batch-norm "
                   "scales and shifts get none, and the frozen whitening filters are not updated at all. Batch norm "
                   "makes the convolution weights scale-invariant, so the product of learning rate and weight decay "
                   "sets their effective step size.")


def _muon(cfg):
    bias_lr = bias_peak_lr(cfg)
    decay, momentum = cfg["decay_per_step"], cfg["momentum"]
    return (f"Two update rules, {cfg['batch_size']} images per step. The convolution filters use Muon: Nesterov "
            f"momentum {readable(cfg['muon_momentum'])}, then the update of each convolution's filters (its filter "
            "bank), seen as a matrix with a row per output channel, is replaced by the nearest matrix whose singular "
            "values are all 1 (the same singular vectors), computed approximately by "
            f"{cfg['muon_ns_steps']} Newton-Schulz iterations. Every direction of the update then moves at about "
            "the same rate, instead of a few dominant ones. Before each step a filter bank is rescaled to a fixed "
            "norm (batch norm follows every convolution, so its scale carries no information), so the peak step, "
            f"{readable(cfg['muon_lr'])}, is roughly the angle in radians by which the bank turns in a step, and no "
            "weight decay is needed. The biases (peak learning rate "
            f"{readable(bias_lr)}) and the linear layer (peak {readable(cfg['lr'])} for the batch-mean loss, the same "
            f"step as {readable(round(cfg['lr'] / cfg['batch_size'], 6))} for the loss summed over the batch) use "
            f"SGD with Nesterov momentum {readable(momentum)}; their weight decay is set so that at the peak "
            f"learning rate it takes {readable(decay)} of each value per step, which the momentum builds up to "
            f"about {readable(round(decay / (1 - momentum), 3))} per step ({readable(decay)} / (1 - "
            f"{readable(momentum)})). The frozen whitening filters are not updated at all.")


# Keyed on the config's `optimizer` field; a config without one uses SGD. Add an entry for a new optimizer.
OPTIMIZER_TEXT = {"sgd": _sgd, "muon": _muon}


def _details(cfg):
    """The recipe's smaller choices, those that are switched on; None when there are none."""
    parts = []
    if not cfg.get("bn_scale", True):
        parts.append("Batch norm learns only its shift; its scale stays fixed at 1.")
    if cfg.get("dirac_init"):
        parts.append("The first filters of every 3x3 convolution start as the identity (a one at the centre "
                     "tap of their own channel), so each group starts close to passing its input through.")
    if cfg.get("whiten_bias_epochs") and "whiten_bias_epochs" in shown_fields(cfg):   # the Muon recipe's field
        if cfg["whiten_bias_epochs"] < cfg["epochs"]:
            parts.append(f"The whitening stem's bias learns only during the first "
                         f"{readable(cfg['whiten_bias_epochs'])} epochs, its learning rate falling linearly to zero; "
                         "after that it stays fixed (it is there to centre the stem's outputs early on).")
        else:   # a run no longer than the bias's schedule: its rate has not reached zero at the end
            parts.append(f"The whitening stem's bias learns throughout this run, its learning rate falling linearly "
                         f"on a schedule of {readable(cfg['whiten_bias_epochs'])} epochs (it is there to centre the "
                         "stem's outputs early on).")
    if cfg.get("lookahead"):
        parts.append(f"Every {LOOKAHEAD_EVERY} steps the weights are pulled towards a slow running average of "
                     "themselves, more strongly as the learning rate falls; the final weights are that average.")
    return " ".join(parts) or None


def _optimizer(cfg):
    name = cfg.get("optimizer", "sgd")
    if name in OPTIMIZER_TEXT:
        return OPTIMIZER_TEXT[name](cfg)
    return (f"Optimizer {name}, {cfg['batch_size']} images per step, peak learning rate {readable(cfg['lr'])}, "
            f"weight decay {readable(cfg['weight_decay'])}.")


def _schedule(cfg, n_train):
    steps_per_epoch, total, _ = step_counts(cfg, n_train)
    warmup = warmup_steps(cfg["warmup_frac"], total)
    epochs = readable(cfg["epochs"])
    if cfg["warmup_frac"] > 0:
        shape = (f"The learning rate rises linearly to its peak {readable(cfg['lr'])} over the first {warmup:,} "
                 f"step{'s' * (warmup != 1)} ({100 * cfg['warmup_frac']:g} % of the run), then falls linearly to zero "
                 f"at the end of step {total:,}: a triangle, updated after every step (the \"1cycle\" policy of Leslie "
                 'Smith, "A disciplined approach to neural network hyper-parameters", arXiv:1803.09820, 2018).')
    elif total <= 2:   # the peak is held for two steps: a run that short never falls from it
        shape = f"The learning rate stays at its peak {_peaks(cfg)} for the run's {total} step{'s' * (total > 1)}."
    else:
        shape = (f"The learning rate starts at its peak {_peaks(cfg)}, held for the first two steps, and "
                 f"falls linearly to zero at the end of step {total:,}, updated after every step (every parameter "
                 "group follows this shape unless said otherwise below).")
    dropped = (" (the incomplete last batch of each shuffled epoch is dropped)"
               if n_train % cfg["batch_size"] else "")
    return (f"{shape} One epoch is {steps_per_epoch:,} steps of {cfg['batch_size']} images{dropped}; the run is "
            f"{epochs} epoch{'' if epochs == '1' else 's'}.")


def _peaks(cfg):
    """'670' or, with Muon's several rates, '670 (the linear layer; the biases 53, Muon 0.24)'."""
    if cfg.get("optimizer") != "muon":
        return readable(cfg["lr"])
    return (f"{readable(cfg['lr'])} (the linear layer; the biases {readable(bias_peak_lr(cfg))}, Muon "
            f"{readable(cfg['muon_lr'])})")


def _augmentation(cfg):
    parts = []
    if cfg["translate"]:
        parts.append(f"shifted by a random offset of up to {cfg['translate']} pixels each way (reflect padding, then "
                     "a random 32x32 crop)")
    if mirrors_alternately(cfg):
        parts.append("mirrored left-right on every other epoch (which epochs, odd or even, is drawn once per "
                     "image), so that any two consecutive epochs show both views")
    elif cfg["flip"]:
        parts.append("mirrored left-right with probability 1/2")
    if cfg["cutout"]:
        parts.append(f"given a random {cfg['cutout']}x{cfg['cutout']} square of the mean colour (cutout)")
    sizes = [int(v) for v in cfg.get("epoch_sizes", (32,))]
    if min(sizes) < 32:
        before = " and ".join(step for step, on in (("shift", cfg["translate"]), ("mirror", cfg["flip"])) if on)
        parts.append(_size_schedule(sizes, cfg["epochs"], before))
    if not parts:
        return "None: the network sees the training images as they are, normalised per colour channel."
    when = "Each epoch the whole training set" if cfg.get("alternate_flips") else "Each training batch"
    return (f"{when} is augmented afresh on the training device. Every image is "
            + ". It is ".join(parts) + ". The images are normalised per colour channel with the mean and standard "
            "deviation of CIFAR-10's official training set (fixed constants).")


def _size_schedule(sizes, epochs, after):
    """(16, 16, 24, 32) over 8 epochs -> 'shrunk to 16x16 pixels in epochs 1-2, 24x24 in epoch 3 and kept at 32x32
    (full size) in epochs 4-8', with why; `after`: what the images went through before they are shrunk ("" if
    nothing)."""
    sizes = [epoch_size(sizes, epoch) for epoch in range(1, max(1, math.ceil(epochs)) + 1)]
    runs = []   # [size, first epoch, last epoch]
    for epoch, size in enumerate(sizes, 1):
        if runs and runs[-1][0] == size:
            runs[-1][2] = epoch
        else:
            runs.append([size, epoch, epoch])
    words = []
    for k, (size, first, last) in enumerate(runs):
        verb = "kept at " if size == 32 else "shrunk to " if k == 0 or runs[k - 1][0] == 32 else ""
        words.append(f"{verb}{size}x{size}{' pixels' if k == 0 else ''}{' (full size)' if size == 32 else ''} in "
                     f"epoch{'s' if last > first else ''} {first}{f'-{last}' if last > first else ''}")
    small = min(sizes)
    why = (f"; an image of {small}x{small} pixels has {100 * (small / 32) ** 2:.0f} % of a full one's pixels and "
           "costs about that share of the arithmetic, and the net learns coarse shapes from small images before "
           "the last epochs at full size; the global max-pool lets one network take every size"
           if sizes[-1] == 32 else "")
    return (", ".join(words[:-1]) + (" and " if len(words) > 1 else "") + words[-1]
            + f" (antialiased bilinear down-scaling{f' after the {after}' if after else ''}{why})")


TTA_VIEWS = {
    "none": "",
    "flip": "the image and its mirror image",
    "flip_translate": ("the image and its mirror image (half the weight), and both of them shifted by one pixel "
                       "down-right and up-left with reflect padding (the other half)"),
}


def _tta(cfg):
    tta = cfg["tta"]
    if tta == "none":
        return ("None: each test image is classified from one view, as it is, and so are the held-out images of "
                "a run that has them.")
    text = (f"Test-time augmentation classifies a test image from the average of the class scores of several "
            f"views of it: {TTA_VIEWS.get(tta, tta)}. The network is the same; only the prediction looks more than "
            "once")
    share = selective_share(cfg)
    if share:
        text += (f", and only where one look leaves it unsure: the {share} of test images whose two "
                 "highest class probabilities are closest after one view get the other views (see Sources)")
    return text + (". The final test accuracy is given both with and without it; the validation accuracy after each "
                   "epoch, where a run holds images out, is measured from one view.")


def method_paragraphs(cfg, *, total_params, n_train, whiten_images, learned_params=None):
    """[(heading, paragraph)] describing the run of `cfg` (a config dict) on `n_train` training images."""
    paragraphs = [("Architecture", _architecture(cfg, total_params, whiten_images, learned_params)),
                  ("Loss", _loss(cfg)),
                  ("Optimizer", _optimizer(cfg)),
                  ("Learning-rate schedule", _schedule(cfg, n_train)),
                  ("Augmentation", _augmentation(cfg)),
                  ("Test-time augmentation", _tta(cfg))]
    details = _details(cfg)
    if details:
        paragraphs.append(("Recipe details", details))
    return paragraphs


# ----- what the report adds from the run's summary -----

def plain_words(text):
    """A precision or its reason as a reader says it: 'bfloat16 mixed precision', not 'bf16 autocast'."""
    for code, words in (("asked for with --precision", "chosen on the command line"),
                        ("autocast", "mixed precision"), ("bf16", "bfloat16"), ("fp16", "float16"),
                        ("fp32", "float32")):
        text = text.replace(code, words)
    return text


def precision_words(precision, reason=""):
    """'bfloat16 mixed precision (this CPU computes bfloat16 natively, with AMX, its matrix units)': the precision
    and why."""
    reason = plain_words(reason).replace(" (", ", ").replace(")", "")   # one level of brackets reads better
    return plain_words(precision) + (f" ({reason})" if reason else "")


def precision_paragraph(precision, reason=""):
    """The arithmetic of the run: `precision` as p2 records it ("float32", "bfloat16 autocast", ...)."""
    words = plain_words(precision)
    text = f"Training and evaluation run in {precision_words(precision, reason)}."
    low = next((t for t in ("bfloat16", "float16") if t in words), None)
    if low:
        text += (f" The network's convolutions and matrix products run in {low}; the weights, the loss and the "
                 "averaged class scores stay in float32.")
    if "loss scaling" in words:
        text += (" The loss is multiplied by a large factor before the backward pass and the gradients are "
                 "divided by it again, so that small float16 gradients do not round to zero (loss scaling, from "
                 'Paulius Micikevicius et al., "Mixed Precision Training", ICLR 2018).')
    return text


def selection_paragraph(n_train, n_validation, note="", n_test=10_000, evaluated=True, n_seen=None):
    """Which images chose the settings and which measured the result; None when the run recorded neither.
    `evaluated`: whether the held-out images were measured after each epoch (not with --no-epoch-eval); `n_seen`:
    the training images a run of less than one epoch went through (None: all of them)."""
    if n_train is None and n_validation is None and not note:
        return None
    part = f"{n_seen:,} (less than one epoch) of " if n_seen and n_train and n_seen < n_train else ""
    if n_validation:
        text = (f"{n_validation:,} of the training images were held out as a validation set: the curves and the "
                "per-epoch log show the accuracy on them." if evaluated else
                f"{n_validation:,} of the training images were held out as a validation set, but not evaluated in "
                "this run (--no-epoch-eval).")
        if n_train:
            text += f" The model trained on {part}the other {n_train:,} images."
    elif n_train:
        which = f"{part}the {n_train:,}" if part else f"all {n_train:,}"
        text = (f"The final model trained on {which} training images; no validation accuracy is recorded during "
                "this run.")
    else:
        text = ""
    text += f" The {n_test:,} test images were evaluated once, after training."
    return (text + (" " + note if note else "")).strip()
