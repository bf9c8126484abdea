"""Config fields and values in words, for the report and the console: what each setting means, values rounded
for reading, the settings a run used and what it changed of its preset, and the layers' names. The Method
section's paragraphs, written from the same config, are in method.py."""
import math
from fractions import Fraction

from config import bias_peak_lr

# Each config field in words, for the report's hyper-parameter table (the console keeps the field names, which
# --set takes). A recipe-specific wording, where one field means something else under Muon, is in MUON_WORDS.
SETTING_WORDS = {
    "widths": "channels of each convolution group",
    "convs_per_group": "3x3 convolutions per group",
    "whiten_patch": "patch side of the whitening stem (pixels)",
    "logit_scale": "factor on the class scores",
    "bn_momentum": "batch-norm statistics: weight of each new batch",
    "optimizer": "update rule",
    "epochs": "passes over the training images",
    "batch_size": "images per step",
    "lr": "peak learning rate",
    "weight_decay": "weight decay (convolution and linear weights)",
    "momentum": "Nesterov momentum",
    "warmup_frac": "fraction of the steps with a rising learning rate",
    "label_smoothing": "label smoothing (share spread over all classes)",
    "translate": "largest random shift (pixels)",
    "flip": "random left-right mirror",
    "cutout": "side of the blanked square (pixels)",
    "epoch_sizes": "training image side, epoch by epoch (pixels)",
    "tta": "test-time augmentation (views averaged)",
    "muon_lr": "Muon: peak angle a filter bank turns per step",
    "muon_momentum": "Muon: momentum of the filter updates",
    "muon_ns_steps": "Muon: Newton-Schulz iterations",
    "bias_lr": "SGD: peak learning rate of the biases",
    "decay_per_step": "SGD parts: weight decay per step at peak rate",
    "bn_scale": "batch-norm scale fixed at 1",
    "dirac_init": "convolutions start as the identity",
    "whiten_bias_epochs": "epochs the whitening stem's bias learns",
    "alternate_flips": "each image mirrored on alternate epochs",
    "residual": "shortcut across each group",
    "lookahead": "final weights a slow average (lookahead)",
    # NOT_IN_TABLE fields: not among the table's settings (the Muon table gives the test-time share a row of its
    # own), but named in words where a run changed them
    "tta_fraction": "share of test images given the extra views",
    "channels_last": "memory layout with the channels innermost",
    "eval_batch_size": "images per batch when testing",
}
MUON_WORDS = {"lr": "SGD: peak learning rate of the linear layer", "momentum": "SGD: Nesterov momentum"}
# Left out of the report's table: how fast the arithmetic runs (the memory layout, the test batch), not what is
# learned; and the share of test images given more views, which the report states in its results and Method.
NOT_IN_TABLE = ("channels_last", "eval_batch_size", "tta_fraction")
# Fields whose 0 or False means "not used"; bn_scale is the other way round (True is ordinary batch norm).
OFF_WHEN_ZERO = ("cutout", "translate", "label_smoothing", "warmup_frac", "weight_decay", "decay_per_step",
                 "whiten_bias_epochs")
TTA_WORDS = {
    "none": "one view of each image",
    "flip": "the image and its mirror",
    "flip_translate": "the image, its mirror and 1-pixel shifts of both",
}
OPTIMIZER_WORDS = {"sgd": "SGD with Nesterov momentum",
                   "muon": "Muon for the convolution filters, SGD for the rest"}


# Fields that only one recipe reads (train.py's two optimizer set-ups): left out of the other's tables and text,
# where they mean nothing.
MUON_ONLY = ("muon_lr", "muon_momentum", "muon_ns_steps", "bias_lr", "decay_per_step", "whiten_bias_epochs")
SGD_ONLY = ("weight_decay",)


def shown_fields(config):
    """The config fields that mean something for this run, in order."""
    hidden = MUON_ONLY if config.get("optimizer", "sgd") == "sgd" else SGD_ONLY
    return {name: value for name, value in config.items() if name not in hidden}


def readable(value):
    """A value as a reader wants it: 1/9 not 0.1111111111111111, 14 not 14.0, 'yes' not True."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        if value == 0:
            return "0"
        if not math.isfinite(value):
            return str(value)
        if value.is_integer() and abs(value) < 1e6:
            return readable(int(value))
        short = f"{value:.4g}"
        if float(short) == value:
            return short
        fraction = Fraction(value).limit_denominator(1000)
        if abs(float(fraction) - value) <= 1e-12 * abs(value):
            return f"{fraction.numerator}/{fraction.denominator}"
        return short
    if isinstance(value, (list, tuple)):
        return ", ".join(readable(v) for v in value)
    return str(value)


def config_table(config, columns=3, indent="  "):
    """The config as a few aligned lines of `name value` cells, `columns` cells to a line."""
    cells = [(name, readable(value)) for name, value in shown_fields(config).items()]
    rows = math.ceil(len(cells) / columns)
    by_column = [cells[c * rows:(c + 1) * rows] for c in range(columns)]   # read down, then across
    name_w = [max((len(n) for n, _ in col), default=0) for col in by_column]
    value_w = [max((len(v) for _, v in col), default=0) for col in by_column]
    lines = []
    for r in range(rows):
        parts = [f"{col[r][0]:<{name_w[c]}}  {col[r][1]:<{value_w[c]}}"
                 for c, col in enumerate(by_column) if r < len(col)]
        lines.append(indent + "   ".join(parts).rstrip())
    return lines


CHANGED = "This run changed the"   # how changes_note begins: the report's Recipe line then points to it


def changes_note(preset, config, preset_config):
    """A sentence naming what this run changed of its preset (config dicts), for the note on how the preset's
    settings were chosen; "" when nothing was."""
    pairs = ((name, in_effect(name, config), in_effect(name, preset_config))
             for name in config if name in preset_config)
    changed = [f"{setting_words(name, config)}: {value_words(name, ours)} instead of {value_words(name, theirs)}"
               for name, ours, theirs in pairs if ours != theirs]
    if not changed:
        return ""
    return (f"{CHANGED} {preset} recipe's settings ({'; '.join(changed)}); what follows is about the recipe as it "
            "stands.")


def in_effect(name, config):
    """The value field `name` of `config` (a dict) trains with: the field's own, but under Muon bias_lr's 0 means lr."""
    return bias_peak_lr(config) if name == "bias_lr" and config.get("optimizer") == "muon" else config[name]


def value_words(name, value):
    if name == "bn_scale":   # its words say "fixed at 1", which the value False means
        return readable(not value)
    if name == "tta_fraction":   # a share, said as the report says it elsewhere
        return f"{100 * value:.3g} %"
    if name == "tta":
        return TTA_WORDS.get(value, readable(value))
    if name == "optimizer":
        return OPTIMIZER_WORDS.get(value, readable(value))
    if name == "epoch_sizes" and len(value) > 1:   # the last side holds for the remaining epochs
        return readable(value[:-1]) + f", then {readable(value[-1])}"
    return readable(value)


def mirrors_alternately(config):
    """Whether each image is mirrored on every other epoch: alternate_flips, with mirror images on at all."""
    return bool(config.get("alternate_flips")) and bool(config.get("flip", True))


def has_shortcut(config):
    """As model.ConvGroup builds it: a shortcut needs more than one convolution in a group."""
    return bool(config.get("residual")) and config.get("convs_per_group", 2) > 1


def _used(name, value, config):
    """Whether field `name` took part in this run (a switch that is off, or a 0 that means off, did not)."""
    if name in NOT_IN_TABLE:
        return False
    if name == "bn_scale":
        return value is False
    if name == "flip" and config.get("alternate_flips"):
        return False   # the alternate-epoch row says it
    if name == "alternate_flips":
        return mirrors_alternately(config)
    if name == "residual":
        return has_shortcut(config)
    if name == "epoch_sizes":
        return min(value) < 32   # full-size images throughout: nothing to say
    return bool(value) if name in OFF_WHEN_ZERO or isinstance(value, bool) else True


def setting_words(name, config):
    """What a config field sets, in words (the Muon recipe's own wording where a field means something else there)."""
    muon = config.get("optimizer") == "muon"
    return (MUON_WORDS if muon else {}).get(name) or SETTING_WORDS.get(name) or name.replace("_", " ")


def used_settings(config):
    """[(field, setting in words, value in words)]: only the settings this run used, in reading order (the
    network, then training, augmentation and testing; SETTING_WORDS's order)."""
    fields = {name: in_effect(name, config) for name in shown_fields(config)}
    order = [name for name in SETTING_WORDS if name in fields]
    order += [name for name in fields if name not in SETTING_WORDS]
    rows = []
    for name, value in ((name, fields[name]) for name in order):
        reached = value[:max(1, math.ceil(config.get("epochs", len(value))))] if name == "epoch_sizes" else value
        if not _used(name, reached, config):
            continue
        words = setting_words(name, config)
        if name == "epoch_sizes" and len(reached) < len(value):   # a run that ended before the last side
            rows.append((name, words, readable(reached)))
        else:
            rows.append((name, words, value_words(name, value)))
    return rows


def settings_rows(config):
    """[(setting in words, value in words)] for the report's table (used_settings without the field names)."""
    return [(words, value) for _, words, value in used_settings(config)]


def selective_share(cfg):
    """The share of the test images given the extra views, as a reader says it ('40 %'), where the config (a dict)
    gives them to only some; None where every image gets them or there are none."""
    if cfg.get("tta", "none") == "none" or cfg.get("tta_fraction", 1) >= 1:
        return None
    return f"{100 * cfg['tta_fraction']:.3g} %"


# Module names of model.Net, in words: the stem, the body's groups, the pool and the head.
LAYER_TYPE_WORDS = {"Conv2d": "convolution", "MaxPool2d": "max-pool", "BatchNorm2d": "batch norm",
                    "GELU": "GELU", "Linear": "linear", "Whiten": "whitening layer (frozen filters)",
                    "GlobalMaxPool": "global max-pool"}


def layer_names(rows):
    """The layer column of the architecture table in words: 'group 2, convolution 2' for body.2.layers.4
    (layers.0 is its first)."""
    names, counts = [], {}
    for row in rows:
        kind = LAYER_TYPE_WORDS.get(row["type"], row["type"])
        parts = row["name"].split(".")
        if len(parts) == 4 and parts[0] == "body" and parts[2] == "layers":   # body.G.layers.I
            key = (parts[1], kind)
            counts[key] = counts.get(key, 0) + 1
            names.append(f"group {parts[1]}, {kind} {counts[key]}")
        elif row["name"] == "body.0":
            names.append(f"{kind} after the whitening layer")
        elif row["name"] == "head":
            names.append("linear layer (the ten class scores)")
        elif row["name"] in ("whiten", "pool"):
            names.append(kind)
        else:
            names.append(f"layer {row['name']}: {kind}")
    return names
