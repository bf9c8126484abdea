"""augment.py: batched flip / reflect-crop / cutout keep shape, dtype and order, and do what they claim."""
import pytest
import torch
import torch.nn.functional as F

import augment


def random_images(n=64, seed=0, dtype=torch.uint8):
    """Random images with no zero pixel (so cutout's zeros are unambiguous) and no left-right symmetry."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(1, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8).to(dtype)


def identity_images(n=200):
    """Image i is the constant i + 1 in every pixel of channel 0, so any mix-up of image order shows."""
    images = random_images(n)
    images[:, 0] = torch.arange(1, n + 1, dtype=torch.uint8).view(n, 1, 1)
    return images


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("op", [
    lambda x, g: augment.random_flip(x, g),
    lambda x, g: augment.random_crop(x, 4, g),
    lambda x, g: augment.cutout(x, 8, g),
    lambda x, g: augment.augment(x, 4, True, g),
])
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.bfloat16])
def test_shape_dtype_and_order_kept(op, dtype):
    images = identity_images().to(dtype)
    out = op(images, seeded())
    assert out.shape == images.shape and out.dtype == dtype
    # channel 0 of image i holds only its own value (or cutout's zeros)
    ids = torch.arange(1, len(images) + 1, dtype=dtype).view(-1, 1, 1)
    assert torch.all((out[:, 0] == ids) | (out[:, 0] == 0))


@pytest.mark.parametrize("op", [
    lambda x, g: augment.random_flip(x, g),
    lambda x, g: augment.random_crop(x, 4, g),
    lambda x, g: augment.random_crop(x, 0, g),
    lambda x, g: augment.cutout(x, 8, g),
    lambda x, g: augment.augment(x, 4, True, g),
    lambda x, g: augment.augment(x, 0, True, g),
])
def test_input_is_never_modified_and_output_is_new_and_contiguous(op):
    images = random_images()
    before = images.clone()
    out = op(images, seeded())
    assert torch.equal(images, before)
    assert out.data_ptr() != images.data_ptr() and out.is_contiguous()


def test_empty_batch():
    empty = torch.zeros(0, 3, 32, 32, dtype=torch.uint8)
    assert augment.augment(empty, 4, True, seeded()).shape == (0, 3, 32, 32)


def test_flip_really_flips_about_half():
    images = random_images(400)
    out = augment.random_flip(images, seeded(1))
    flipped = torch.tensor([torch.equal(o, torch.flip(x, dims=[2])) for o, x in zip(out, images)])
    unchanged = torch.tensor([torch.equal(o, x) for o, x in zip(out, images)])
    assert torch.all(flipped ^ unchanged)  # each image is exactly one of the two
    assert torch.equal(out[flipped], torch.flip(images[flipped], dims=[3]))
    assert 150 < int(flipped.sum()) < 250


def test_crop_with_pad_zero_is_identity():
    images = random_images()
    out = augment.random_crop(images, 0, seeded())
    assert torch.equal(out, images) and out.data_ptr() != images.data_ptr()


def test_every_crop_is_a_window_of_the_reflect_padded_original():
    pad = 4
    images = random_images(40)
    out = augment.random_crop(images, pad, seeded(2))
    padded = F.pad(images.float(), (pad, pad, pad, pad), mode="reflect").to(torch.uint8)
    offsets = set()
    for i in range(len(images)):
        matches = [(dy, dx) for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)
                   if torch.equal(out[i], padded[i, :, dy:dy + 32, dx:dx + 32])]
        assert len(matches) == 1, f"image {i}: {matches}"
        offsets.add(matches[0])
    assert len(offsets) > 20  # offsets really vary per image


def test_reflect_padding_mirrors_without_repeating_the_edge():
    row = list(range(1, 33))
    mirrored = [3, 2] + row + [31, 30]  # reflect padding by 2, written out by hand
    windows = [mirrored[dx:dx + 32] for dx in range(5)]
    images = torch.tensor(row, dtype=torch.uint8).view(1, 1, 1, 32).expand(50, 3, 32, 32).contiguous()
    out = augment.random_crop(images, 2, seeded(3))
    seen = {tuple(out[i, 0, 0].tolist()) for i in range(len(out))}
    assert seen <= {tuple(w) for w in windows} and len(seen) > 1


def test_crop_rejects_pad_too_large():
    with pytest.raises(ValueError, match="pad"):
        augment.random_crop(random_images(2), 32)


def test_reproducible_with_seeded_generator():
    images = random_images()
    a = augment.augment(images, 4, True, seeded(5))
    b = augment.augment(images, 4, True, seeded(5))
    c = augment.augment(images, 4, True, seeded(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_augment_is_crop_then_flip():
    images = random_images()
    g = seeded(7)
    expected = augment.random_flip(augment.random_crop(images, 3, g), g)
    assert torch.equal(augment.augment(images, 3, True, seeded(7)), expected)
    assert torch.equal(augment.augment(images, 0, False, seeded(7)), images)


@pytest.mark.parametrize("size", [1, 8, 12])
def test_cutout_zeroes_exactly_a_clipped_square(size):
    images = random_images(300)
    out = augment.cutout(images, size, seeded(size))
    zero = out == 0
    assert torch.equal(out[~zero], images[~zero])  # nothing else changed
    clipped = 0
    for mask in zero:
        assert torch.equal(mask[0], mask[1]) and torch.equal(mask[0], mask[2])  # same square in every channel
        rows = mask[0].any(1).nonzero().squeeze(1)
        cols = mask[0].any(0).nonzero().squeeze(1)
        top, bottom, left, right = int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])
        assert mask[0, top:bottom + 1, left:right + 1].all() and int(mask[0].sum()) == len(rows) * len(cols)
        height, width = bottom - top + 1, right - left + 1
        assert height == size or (top == 0 or bottom == 31) and height < size
        assert width == size or (left == 0 or right == 31) and width < size
        clipped += (height, width) != (size, size)
    if size > 1:
        assert clipped > 0  # the square may stick out of the image


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu_for_the_same_seed():
    images = random_images(256)
    cpu = augment.augment(images, 4, True, seeded(9))
    gpu = augment.augment(images.cuda(), 4, True, seeded(9))
    assert gpu.device.type == "cuda" and torch.equal(gpu.cpu(), cpu)


def test_epoch_view_mirrors_each_image_on_every_other_epoch():
    images = random_images(n=16)
    phase = torch.rand(16, generator=seeded(1)) < 0.5
    views = [augment.epoch_view(images, 0, phase, epoch, seeded(epoch)) for epoch in (1, 2, 3)]
    assert torch.equal(views[0], views[2])                       # the pattern repeats with the parity
    assert torch.equal(views[0], views[1].flip(3))               # consecutive epochs: the two mirror views
    mirrored_first = torch.tensor([torch.equal(v, im.flip(2)) for v, im in zip(views[0], images)])
    assert torch.equal(mirrored_first, ~phase)                   # odd epochs mirror where the phase is not set
    assert torch.equal(augment.epoch_view(images, 0, None, 1, seeded()), images)


def test_epoch_view_shifts_like_random_crop():
    images = random_images(n=8)
    assert torch.equal(augment.epoch_view(images, 2, None, 1, seeded(4)), augment.random_crop(images, 2, seeded(4)))


def test_epoch_view_in_pieces_gives_the_view_made_whole_then_finished():
    # p2 normalises and shrinks each piece as it is made (finish), so the whole set is never held twice
    images = identity_images(n=23)
    phase = torch.rand(23, generator=seeded(1)) < 0.5

    def finish(part):
        return augment.downscale(part.float() / 255, 24)

    whole = finish(augment.epoch_view(images, 3, phase, 1, seeded(5), chunk=23))
    for chunk in (1, 5, 22):
        pieces = augment.epoch_view(images, 3, phase, 1, seeded(5), finish=finish, chunk=chunk)
        assert pieces.shape == (23, 3, 24, 24) and torch.equal(pieces, whole)


def test_epoch_view_rejects_a_pad_as_random_crop_does():
    with pytest.raises(ValueError, match="crop pad must be in"):
        augment.epoch_view(random_images(n=2), 32, None, 1)


def test_downscale_averages_the_pixels_each_output_pixel_covers():
    images = random_images(n=4, dtype=torch.float32)
    half = augment.downscale(images, 16)
    assert half.shape == (4, 3, 16, 16) and half.dtype == torch.float32
    # each output pixel is a weighted average of the input pixels around it: a flat image stays flat, the mean stays
    flat = torch.full((1, 3, 32, 32), 100.0)
    assert torch.allclose(augment.downscale(flat, 20), torch.full((1, 3, 20, 20), 100.0))
    assert torch.allclose(half.mean((2, 3)), images.mean((2, 3)), rtol=0.02)
    assert half.min() >= images.min() and half.max() <= images.max()
    assert augment.downscale(images, 32) is images                   # full size: untouched
    assert augment.downscale(images.bfloat16(), 24).dtype == torch.bfloat16
    # chunked and in one piece alike
    assert torch.equal(augment.downscale(images, 24, chunk=1), augment.downscale(images, 24))


def test_random_crop_reaches_every_offset():
    images = torch.zeros(300, 1, 8, 8)
    images[:, 0, 3, 3] = 1   # one dot: where it lands is the image's shift
    where = augment.random_crop(images, 1, torch.Generator().manual_seed(0)).nonzero()[:, 2:] - 3
    assert set(where[:, 0].tolist()) == set(where[:, 1].tolist()) == {-1, 0, 1}
