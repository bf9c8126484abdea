"""Credit for the p2 recipe: which of its ideas come from published work, and what is our own.

The report's Method section ends with sources_paragraph(config), and its table of hyper-parameters sets each value
beside airbench94_muon's (airbench_rows); the modules that implement the borrowed ideas name the same sources in
their docstrings.
"""
import math

from describe import (SETTING_WORDS, has_shortcut, mirrors_alternately, readable, selective_share, used_settings,
                      value_words)

AIRBENCH = ('Keller Jordan, "94% on CIFAR-10 in 3.29 Seconds on a Single GPU", arXiv:2404.00498 (2024), and its '
            "code, airbench (github.com/KellerJordan/cifar10-airbench)")
AIRBENCH_MUON = "airbench94_muon.py, the Muon version of that code in the same repository (2024)"
LINEAGE = ("The airbench code in turn descends from tysam-code's hlb-CIFAR10 (github.com/tysam-code/hlb-CIFAR10, "
           '2023) and David Page\'s "How to Train Your ResNet" posts (Myrtle.ai, 2018-2019), where patch whitening, '
           "a fixed batch-norm scale, label smoothing and mirror-image test-time augmentation were used for fast "
           "CIFAR-10 training before airbench")
MUON = ('Keller Jordan et al., "Muon: An optimizer for hidden layers in neural networks" (2024), '
        "kellerjordan.github.io/posts/muon/")
RESIZING = ('fast.ai\'s fast ImageNet training (Jeremy Howard et al., "Now anyone can train Imagenet in 18 '
            'minutes", fast.ai, 2018), which trained on small images first ("progressive resizing")')
TUTORIAL = 'the PyTorch tutorial "Training a Classifier" (pytorch.org/tutorials), to which the assignment points'
SELECTIVE_TTA = 'Hiverge\'s "CIFAR10-Speedrun" (github.com/hiverge/cifar10-speedrun, 2025)'
ALLOCATOR = ('the "Memory Allocator" advice of Intel\'s Performance Tuning Guide for its PyTorch extension '
             "(intel.github.io/intel-extension-for-pytorch), which loads another allocator (jemalloc or TCMalloc); "
             "here the C library's own settings do the same")
# Where the ideas themselves were introduced, cited whenever the run uses them (the layers every run has first).
ORIGINS = {
    "batch norm": 'Sergey Ioffe and Christian Szegedy, "Batch Normalization", ICML 2015',
    "GELU": 'Dan Hendrycks and Kevin Gimpel, "Gaussian Error Linear Units (GELUs)", arXiv:1606.08415 (2016)',
    "label smoothing": ('Christian Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", '
                        "CVPR 2016"),
    "identity initialisation": ('Sergey Zagoruyko and Nikos Komodakis, "DiracNets: Training Very Deep Neural '
                                'Networks Without Skip-Connections", arXiv:1706.00388 (2017)'),
    "the shortcut": 'Kaiming He et al., "Deep Residual Learning for Image Recognition", CVPR 2016',
    "cutout": ('Terrance DeVries and Graham Taylor, "Improved Regularization of Convolutional Neural Networks with '
               'Cutout", arXiv:1708.04552 (2017)'),
    "the lookahead average": 'Michael Zhang et al., "Lookahead Optimizer: k steps forward, 1 step back", NeurIPS 2019',
    "Nesterov momentum": 'Yurii Nesterov (1983) and, for deep networks, Ilya Sutskever et al. (ICML 2013)',
    "test-time augmentation": ('Alex Krizhevsky, Ilya Sutskever and Geoffrey Hinton, "ImageNet Classification with '
                               'Deep Convolutional Neural Networks", NeurIPS 2012'),
}

# The same origins, short, for the ideas only p2.py's other recipes use (named beside them, not cited in full).
SHORT_ORIGINS = {"the shortcut across each group": "He et al., 2016", "cutout": "DeVries and Taylor, 2017",
                 "the lookahead average of the weights": "Zhang et al., 2019"}

# A config with every borrowed idea switched on: what p2.py's recipes together take from the airbench work.
EVERY_IDEA = dict(whiten_patch=2, logit_scale=1 / 9, label_smoothing=0.2, tta="flip_translate", optimizer="muon",
                  dirac_init=True, bn_scale=False, alternate_flips=True, whiten_bias_epochs=3.0, lookahead=True,
                  convs_per_group=3, residual=True, cutout=12)


# airbench94_muon.py's settings in this program's units (learning rates for the batch-mean loss at its batch of 2000,
# BN momentum as the weight of each new batch), for the report's column beside this run's values. Its learning rates
# and weight decay scale with the batch size (per image: 0.67, 0.053 and 2e-6 a step), as this program's do.
AIRBENCH94_MUON = dict(widths=(64, 256, 256), convs_per_group=2, whiten_patch=2, logit_scale=1 / 256, bn_momentum=0.4,
                       optimizer="muon", epochs=8.0, batch_size=2000, lr=1340.0, momentum=0.85, warmup_frac=0.0,
                       label_smoothing=0.2, translate=2, flip=True, epoch_sizes=(32,), tta="flip_translate",
                       muon_lr=0.24, muon_momentum=0.6, muon_ns_steps=3, bias_lr=106.0, decay_per_step=0.004,
                       bn_scale=False, dirac_init=True, whiten_bias_epochs=3.0, alternate_flips=True)
PER_IMAGE = ("lr", "bias_lr", "decay_per_step")   # compared per image: the value divided by the batch size
THEIR_WORDS = {"tta": "mirror and shifts"}   # airbench94_muon's value where it differs, in its narrow column


def airbench_rows(cfg):
    """[(setting in words, this run's value, airbench94_muon's)] for the report's table of a Muon run: "same" where
    the two agree (per image for the rates), its value where they differ, "-" where it has no such setting."""
    rows, batch, share = [], AIRBENCH94_MUON["batch_size"], selective_share(cfg)
    shown = set()
    for name, words, value in used_settings(cfg):
        shown.add(name)
        theirs = AIRBENCH94_MUON.get(name)
        if theirs is None:
            rows.append((words, value, "-"))
        elif name in PER_IMAGE:
            same = math.isclose(cfg[name] / cfg["batch_size"], theirs / batch)
            rows.append((words, value, "same per image" if same and cfg["batch_size"] != batch else
                         "same" if same else readable(theirs)))
        else:
            ours = tuple(cfg[name]) if isinstance(theirs, tuple) else cfg[name]
            rows.append((words, value, "same" if ours == theirs else
                         "32 throughout" if name == "epoch_sizes" else THEIR_WORDS.get(name, readable(theirs))))
        if name == "tta" and share:   # airbench gives every test image the extra views
            rows.append(("share of test images given the extra views", share, "100 %"))
    # what airbench94_muon uses and this run switched off (a 0, a no; for bn_scale a yes): a row too, or the table
    # would hide it
    for name, theirs in AIRBENCH94_MUON.items():
        if name not in shown and name in SETTING_WORDS and cfg.get(name, theirs) != theirs:
            rows.append((SETTING_WORDS[name], value_words(name, cfg[name]), value_words(name, theirs)))
    return rows


def borrowed_ideas(cfg):
    """The ideas of the run of `cfg` that come from the airbench work, in words, in the order a reader meets them."""
    ideas = ["the network's layout (groups of a 3x3 convolution, max-pool, batch norm and GELU, then a global "
             "max-pool and a linear layer without bias)"]
    if cfg.get("whiten_patch"):
        ideas.append("the frozen patch-whitening first layer")
    if has_shortcut(cfg):
        ideas.append("the shortcut across each group")
    if cfg.get("logit_scale", 1) != 1:
        ideas.append("class scores scaled down by a constant")
    if cfg.get("label_smoothing"):
        ours, theirs = readable(cfg["label_smoothing"]), readable(AIRBENCH94_MUON["label_smoothing"])
        ideas.append(f"label smoothing {ours}" if ours == theirs else
                     f"label smoothing (airbench's {theirs}; {ours} in this run)")
    if cfg.get("tta") in ("flip", "flip_translate"):
        views = "mirror images and 1-pixel shifts" if cfg["tta"] == "flip_translate" else "mirror images"
        ideas.append(f"test-time augmentation with {views}")
    if cfg.get("optimizer") == "muon":
        ideas.append("the Muon recipe (Newton-Schulz orthogonalised updates, each filter bank's norm held fixed) for "
                     "the convolution filters")
    if cfg.get("optimizer") == "muon" and not cfg.get("warmup_frac"):
        ideas.append("learning rates that start at their peak and fall linearly to zero")
    if cfg.get("dirac_init"):
        ideas.append("identity (Dirac) initialisation of the convolutions")
    if cfg.get("bn_scale") is False:
        ideas.append("batch norm with its scale fixed at 1")
    if cfg.get("translate"):
        ideas.append("random shifts with reflect padding")
    if mirrors_alternately(cfg):
        ideas.append("mirroring each image on alternate epochs")
    if cfg.get("cutout"):
        ideas.append("cutout")
    if cfg.get("optimizer") == "muon" and cfg.get("whiten_bias_epochs"):
        ideas.append("training the whitening layer's bias during the first epochs only")
    if cfg.get("lookahead"):
        ideas.append("the lookahead average of the weights")
    return ideas


def origins(cfg):
    """[(idea, where it was introduced)] for the ideas of the run of `cfg` that have a paper of their own."""
    used = {"batch norm": True, "GELU": True, "label smoothing": cfg.get("label_smoothing"),
            "identity initialisation": cfg.get("dirac_init"), "the shortcut": has_shortcut(cfg),
            "cutout": cfg.get("cutout"), "the lookahead average": cfg.get("lookahead"),
            "Nesterov momentum": True, "test-time augmentation": cfg.get("tta") in ("flip", "flip_translate")}
    return [(idea, ORIGINS[idea]) for idea, on in used.items() if on]


def _listed(items):
    return ", ".join(items[:-1]) + (" and " if len(items) > 1 else "") + (items[-1] if items else "")


def sources_paragraph(cfg, memory_kept=False):
    """Credit for the ideas this recipe borrows, those of p2.py's other recipes, and what is our own; `memory_kept`:
    the run kept freed memory for the next step (cpu_memory.py: on a CPU, with glibc)."""
    used = borrowed_ideas(cfg)
    others = [idea for idea in borrowed_ideas(EVERY_IDEA) if idea not in used]
    # in parts, each its own block on the page: the program, the recipe, the ideas' origins, the speed-ups, ours
    text = ("The steps of the program (load CIFAR-10, define a convolutional network and a cross-entropy loss, "
            f"train, then test) follow {TUTORIAL}.\n\n")
    if used:
        text += (f"Several ideas of this recipe are not ours. {used[0][0].upper()}{used[0][1:]} is taken from "
                 f"{AIRBENCH}. From the same work come {_listed(used[1:])}"
                 if len(used) > 1 else f"Several ideas of this recipe are not ours: {used[0]} is taken from {AIRBENCH}")
        text += (f". The Muon recipe's settings come from {AIRBENCH_MUON}, with four small differences: the "
                 "linear layer's initial weights (airbench rescales them to unit standard deviation) and the small "
                 "constant batch norm adds to the variance (1e-5; airbench: 1e-12) are left at PyTorch's defaults, "
                 "the whitening layer's patches have their mean subtracted before their covariance is taken "
                 "(airbench uses them as they are), and the learning rates hold their peak for two steps, not one. "
                 if cfg.get("optimizer") == "muon" else ". ")
    if others:   # with where each began, in short (the docstrings of the modules that hold them cite in full)
        others = [f"{idea} ({SHORT_ORIGINS[idea]})" if idea in SHORT_ORIGINS else idea for idea in others]
        text += (f"p2.py's other recipes also take from the same work {_listed(others)}. " if used else
                 f"p2.py's other recipes take {_listed(others)} from {AIRBENCH}. ")
    text = text.rstrip() + f"\n\n{LINEAGE}. "
    text += ("The ideas themselves were introduced as follows: "
             + "; ".join(f"{idea}, {where}" for idea, where in origins(cfg)) + ". ")
    text += f"The Muon optimizer is described in {MUON}. "
    if min(cfg.get("epoch_sizes", (32,))) < 32:
        text += f"Training the first epochs on down-scaled images follows {RESIZING}. "
    text = text.rstrip() + "\n\n"
    share = selective_share(cfg)
    if share:
        text += (f"Giving the extra test-time views only to a fixed share of the least sure images follows "
                 f"{SELECTIVE_TTA}, which ranks them by the probability of their likeliest class; ranking them by "
                 f"the gap between their two highest class probabilities, and the share ({share}), are our choices. ")
    if memory_kept:
        text += ("Making the C library's memory allocator keep and reuse freed memory from one training step to the "
                 f"next, a CPU speed-up, follows {ALLOCATOR}. ")
    text = text.rstrip() + "\n\n"
    if cfg.get("optimizer", "sgd") == "sgd":
        return text + "Our own are the code, written anew rather than copied, and every measurement in this report."
    changed = [row for row in airbench_rows(cfg) if row[2] not in ("same", "same per image", "-")]
    return text + ("Our own are the code, written anew rather than copied (the same code runs each recipe on a CPU "
                   "or a GPU), " + ("the changes to airbench94_muon's settings that the table of hyper-parameters "
                                 "shows, " if changed else "") + "and every measurement in this report.")
