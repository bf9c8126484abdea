"""The CIFAR-10 network: a patch-whitening stem and three conv groups, built from a `Config`.

Credit: the layout and several of its details are taken from Keller Jordan, "94% on CIFAR-10 in 3.29 Seconds on a
Single GPU", arXiv:2404.00498 (2024), and his airbench code (github.com/KellerJordan/cifar10-airbench): the frozen
patch-whitening stem (Whiten), the class scores scaled down by a constant (Net.logit_scale), batch norm with a
fixed scale of 1 (batch_norm's scale=False) and identity (Dirac) initialisation of the convolutions (conv3x3's
dirac=True; the initialisation is Zagoruyko & Komodakis's, "DiracNets", arXiv:1706.00388, 2017); for the `best`
preset, three convolutions per group with a shortcut across each group (airbench96; the shortcut is He et al.'s,
"Deep Residual Learning for Image Recognition", CVPR 2016). airbench descends from tysam-code's hlb-CIFAR10
(github.com/tysam-code/hlb-CIFAR10) and David Page's "How to Train Your ResNet" posts (Myrtle.ai, 2018-2019). Batch
norm is Ioffe & Szegedy's (ICML 2015), GELU Hendrycks & Gimpel's (arXiv:1606.08415).
This file is our own implementation of those ideas; the CPU recipe's changes to them (fewer epochs, small images
first, smaller batches) were chosen from our own runs.
"""
import torch
import torch.nn.functional as F
from torch import nn


class Whiten(nn.Conv2d):
    """A k x k conv whose filters are the whitening transform of the training set's k x k patches.

    Each eigenvector of the patch covariance, divided by the square root of its eigenvalue, becomes a filter, kept
    with both signs so that the GELU after it loses no information. The first layer then starts where gradient
    descent would take many steps to arrive; its weights stay frozen, its bias learns.
    """

    def __init__(self, patch):
        super().__init__(3, 2 * 3 * patch * patch, kernel_size=patch, padding=0, bias=True)
        self.weight.requires_grad_(False)

    @torch.no_grad()
    def fit(self, images, eps=5e-4):
        """Set the filters from `images` (N, 3, H, W), already normalised, float."""
        k = self.kernel_size[0]
        patches = images.float().unfold(2, k, 1).unfold(3, k, 1)               # N, C, H', W', k, k
        patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, 3 * k * k)   # rows in (C, kh, kw) order
        patches = patches - patches.mean(dim=0)
        cov = patches.T @ patches / len(patches)
        cov = cov.cpu() if cov.device.type == "mps" else cov   # a Mac's GPU has no float64
        eigenvalues, eigenvectors = torch.linalg.eigh(cov.double())
        filters = (eigenvectors.T / torch.sqrt(eigenvalues + eps)[:, None]).float().reshape(-1, 3, k, k)
        self.weight.copy_(torch.cat([filters, -filters]))   # to the layer's device
        self.bias.zero_()


def batch_norm(channels, momentum, scale):
    """BatchNorm2d; with scale=False its weight stays 1 (frozen) and only the bias learns."""
    norm = nn.BatchNorm2d(channels, momentum=momentum)
    norm.weight.requires_grad_(scale)
    return norm


def conv3x3(c_in, c_out, dirac):
    """A 3x3 conv; with dirac=True its first min(c_in, c_out) filters start as the identity (centre tap 1)."""
    conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
    if dirac:
        n = min(c_in, c_out)
        nn.init.dirac_(conv.weight.data[:n, :n])
    return conv


class ConvGroup(nn.Module):
    """One resolution stage: conv -> 2x2 max-pool -> BN -> GELU, then (n - 1) x (conv -> BN -> GELU).

    With residual=True the output of the first block is added back after the last, so a deep group starts out
    close to its first block alone.
    """
    FIRST_BLOCK = 4   # conv, pool, BN, GELU

    def __init__(self, c_in, c_out, n_convs, bn_momentum, bn_scale=True, dirac=False, residual=False):
        super().__init__()
        self.residual = residual and n_convs > 1
        layers = []
        for i in range(n_convs):
            layers.append(conv3x3(c_in if i == 0 else c_out, c_out, dirac))
            if i == 0:
                layers.append(nn.MaxPool2d(2))
            layers += [batch_norm(c_out, bn_momentum, bn_scale), nn.GELU()]
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        if not self.residual:
            return self.layers(x)
        skip = None
        for i, layer in enumerate(self.layers):
            if i == self.FIRST_BLOCK:
                skip = x
            x = layer(x)
        return x + skip


class GlobalMaxPool(nn.Module):
    """The largest value of each channel: (N, C, H, W) -> (N, C).

    On a GPU, run eagerly, a plain reduction: there nn.AdaptiveMaxPool2d(1)'s kernels on a 3x3 map took 0.7 ms of a
    fast-recipe step on an H100, far more than its few megabytes need (the step's kernels: 9.25 ms with it, 8.52 ms
    with the reduction). Compiled, and on a CPU, the adaptive pool stays:
    - compiled with the reduction, every training loss was NaN (H100, torch 2.11). Its backward sends the gradient
      to the positions equal to the maximum; in fused kernels that keep values in different precisions it may
      find none and divide by zero. The adaptive pool keeps the index of the maximum instead;
    - on a CPU the adaptive pool is the faster of the two (0.9 against 2.6 ms a step, SGD recipe), and every
      recorded CPU run was trained with it.
    Both give the same maximum; their gradients differ only where two positions tie for it (the reduction gives
    each an equal share, the pool gives one all of it), which changes a run as a new seed does.
    """

    def forward(self, x):
        if x.is_cuda and not torch.compiler.is_compiling():
            return x.amax(dim=(2, 3))
        return F.adaptive_max_pool2d(x, 1).flatten(1)


class Net(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.logit_scale = cfg.logit_scale
        self.whiten = Whiten(cfg.whiten_patch)
        groups, c_in = [], self.whiten.out_channels
        for width in cfg.widths:
            groups.append(ConvGroup(c_in, width, cfg.convs_per_group, cfg.bn_momentum, cfg.bn_scale,
                                    cfg.dirac_init, cfg.residual))
            c_in = width
        self.body = nn.Sequential(nn.GELU(), *groups)
        self.pool = GlobalMaxPool()
        self.head = nn.Linear(c_in, 10, bias=False)

    def forward(self, x):
        x = self.pool(self.body(self.whiten(x)))
        return self.head(x) * self.logit_scale


def build_model(cfg):
    """A fresh network for `cfg`; call `model.whiten.fit(train_images)` before training."""
    return Net(cfg)

