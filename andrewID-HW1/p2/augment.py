"""Batched data augmentation for image tensors (N, C, H, W) of any dtype, on whatever device they live.

No per-image Python loops: each function draws its random numbers for the whole batch at once where its
optional torch.Generator lives (the CPU without one; a CPU generator makes runs reproducible whatever the
device, a device generator saves a host round trip), moves only the small per-image parameters to the images'
device, and applies a handful of tensor ops. Labels are never touched:
every function keeps image i at position i.

Credit: shifting by reflect-padded random crops and mirroring each image on alternate epochs (epoch_view) follow
Keller Jordan, "94% on CIFAR-10 in 3.29 Seconds on a Single GPU", arXiv:2404.00498 (2024), and its airbench code
(github.com/KellerJordan/cifar10-airbench); random crops and mirror images themselves are the usual CIFAR-10
augmentation, much older than that work. Cutout (the `best` preset's, as airbench96's) is DeVries & Taylor's
("Improved Regularization of Convolutional Neural Networks with Cutout", arXiv:1708.04552, 2017). The code is our own.
"""
import torch
import torch.nn.functional as F


def _check_images(images):
    if images.dim() != 4:
        raise ValueError(f"expected images of shape (N, C, H, W), got {tuple(images.shape)}")


def _on(generator):
    """Where random numbers come from: the generator's device, the CPU without one."""
    return dict(generator=generator, device=generator.device if generator is not None else "cpu")


def _flip_(images, generator):
    """Mirror a random half of `images` left-right, in place (only the chosen images are touched)."""
    chosen = (torch.rand(images.shape[0], **_on(generator)) < 0.5).nonzero().squeeze(1).to(images.device)
    images.index_copy_(0, chosen, images.index_select(0, chosen).flip(3))
    return images


def random_flip(images, generator=None):
    """Mirror each image left-right with probability 1/2 (independently per image)."""
    _check_images(images)
    # clone + in-place flip of the chosen half moves about half the bytes of torch.where(mask, flipped, images)
    return _flip_(images.clone(), generator)


def _check_pad(images, pad):
    height, width = images.shape[-2:]
    if not 0 <= pad < min(height, width):
        raise ValueError(f"crop pad must be in [0, {min(height, width) - 1}] for {height}x{width} images, got {pad}")


def _crop_offsets(images, pad, generator):
    """(top, left) of each image's window in its padded copy, uniform in [0, 2 pad]."""
    return torch.randint(0, 2 * pad + 1, (2, len(images)), **_on(generator)).to(images.device)


def _crop(images, pad, top, left):
    """Image i's window at (top[i], left[i]) of its reflect-padded copy, for every i."""
    n, _, height, width = images.shape
    padded = F.pad(images, (pad, pad, pad, pad), mode="reflect")
    # a view (N, C, 2p+1, 2p+1, H, W) of every window; one gather then picks each image's own window, which
    # is several times faster than looping over the (2p+1)^2 offsets
    windows = padded.unfold(2, height, 1).unfold(3, width, 1)
    return windows[torch.arange(n, device=images.device), :, top, left]


def random_crop(images, pad, generator=None):
    """Translate each image by its own random (dy, dx) in [-pad, pad]^2, filling the border by reflection.

    Equivalent to reflect-padding every image by `pad` and cutting a random window of the original size (the
    window always lies inside the padded image). Reflection rather than zeros keeps edge statistics natural,
    as fast CIFAR-10 training scripts do. Requires pad < H and pad < W.
    """
    _check_images(images)
    _check_pad(images, pad)
    if pad == 0:
        return images.clone()
    return _crop(images, pad, *_crop_offsets(images, pad, generator))


def _cutout_(images, size, generator):
    """Zero one size x size square per image, in place."""
    n, _, height, width = images.shape
    centres = torch.stack([torch.randint(0, height, (n,), **_on(generator)),
                           torch.randint(0, width, (n,), **_on(generator))])
    top, left = (centres - size // 2).to(images.device).unsqueeze(-1)
    rows = torch.arange(height, device=images.device)
    cols = torch.arange(width, device=images.device)
    outside_rows = (rows < top) | (rows >= top + size)    # (n, H)
    outside_cols = (cols < left) | (cols >= left + size)  # (n, W)
    keep = outside_rows.unsqueeze(2) | outside_cols.unsqueeze(1)
    # multiplying by the keep mask is faster on the CPU than masked_fill with the square
    return images.mul_(keep.unsqueeze(1))


def cutout(images, size, generator=None):
    """Zero a size x size square in each image, centred on a uniformly random pixel (clipped at the borders).

    "Zero" is the value 0 of the tensor: black for uint8 images, the mean colour for normalized ones.
    """
    _check_images(images)
    if size < 0:
        raise ValueError(f"cutout size must be >= 0, got {size}")
    return _cutout_(images.clone(), size, generator) if size else images.clone()


def augment(images, pad, flip, generator=None):
    """The training augmentation: random reflect-crop (pad), then random flip (if flip). (Cutout, where a recipe
    has it, comes after normalisation, so that it zeroes to the mean colour: see train.py.)

    Gives exactly random_flip applied to random_crop's output with the same generator, but flips in place on the
    fresh cropped tensor, saving one copy of its input (a batch, in train.py).
    """
    out = random_crop(images, pad, generator)  # always a new tensor, also for pad == 0
    if flip:
        _flip_(out, generator)
    return out


def epoch_view(images, pad, flip_phase, epoch, generator=None, finish=None, chunk=5000):
    """One epoch's augmented copy of the whole set: each image shifted by its own random offset (as
    random_crop), then mirrored where flip_phase[i] differs from the epoch's parity.

    With a fixed random flip_phase every image is seen mirrored on every other epoch: any two consecutive epochs
    show both views of each image, which random flips per epoch only do half the time. flip_phase None: no flips.
    `finish`, if given, turns each piece of `chunk` images into its final form (normalised, shrunk): the work is
    done a piece at a time, so only the finished copy is ever held whole (on a CPU, gigabytes less at the peak).
    """
    _check_images(images)
    _check_pad(images, pad)
    offsets = _crop_offsets(images, pad, generator) if pad else None   # all drawn first: the same for any chunk
    if flip_phase is not None:
        mirror = (flip_phase != bool(epoch % 2)).to(images.device).view(-1, 1, 1, 1)
    out = None
    for start in range(0, len(images), chunk):
        part = slice(start, start + chunk)
        x = _crop(images[part], pad, *offsets[:, part]) if pad else images[part]
        if flip_phase is not None:
            x = torch.where(mirror[part], x.flip(3), x)
        x = finish(x) if finish else x
        if out is None:
            out = x.new_empty((len(images), *x.shape[1:]))
        out[part] = x
    return out


def downscale(images, size, chunk=5000):
    """Images (N, C, H, W) shrunk to size x size (antialiased bilinear: each output pixel a weighted average of the
    input pixels around it); the same tensor when they are that size already. Chunks bound the float32 copy's
    memory."""
    _check_images(images)
    if images.shape[-2:] == (size, size):
        return images
    return torch.cat([F.interpolate(part.float(), size=(size, size), mode="bilinear", antialias=True,
                                    align_corners=False).to(images.dtype) for part in images.split(chunk)])
