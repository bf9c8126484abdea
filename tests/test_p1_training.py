"""p1 training loop: learns a small generated problem, reports per epoch, stops on divergence; helpers."""
import numpy as np
import pytest

import p1


def blobs(n, seed, dim=784, classes=10):
    """Ten well-separated Gaussian clusters: a problem any working MLP learns in a few epochs."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(0).normal(size=(classes, dim))
    labels = rng.integers(0, classes, n)
    return (centres[labels] + rng.normal(size=(n, dim)) * 1.5).astype(np.float32) / 4, labels


def tiny_config(**changes):
    config = dict(hiddens=(32,), activation="ReLU", lr=0.05, momentum=0.9)
    config.update(changes)
    return config


def test_short_training_learns(capsys):
    dset = (blobs(600, 1), blobs(200, 2), blobs(200, 3))
    np.random.seed(0)
    mlp = p1.build_mlp(tiny_config())
    stats = p1.get_training_stats(mlp, dset, 4, 32, p1.warmup_cosine(0.05, 0.1), rng=np.random.default_rng(0))
    training_losses, training_errors, validation_losses, validation_errors = stats
    assert all(len(s) == 4 for s in stats)
    assert training_losses[-1] < training_losses[0] and validation_losses[-1] < validation_losses[0]
    assert 0 <= validation_errors[-1] <= 0.05 and 0 <= training_errors[-1] <= 0.05
    assert 0 <= mlp.test_error <= 0.05 and mlp.test_loss < 0.5
    out = capsys.readouterr().out
    assert out.count("val loss") == 4 and "[" in out  # one line per epoch, plus the in-epoch bar


def test_template_call_with_one_hot_labels_and_no_extras():
    (x, y), (vx, vy), (tx, ty) = blobs(200, 1), blobs(50, 2), blobs(50, 3)
    dset = ((x, p1.one_hot(y)), (vx, p1.one_hot(vy)), (tx, p1.one_hot(ty)))
    np.random.seed(0)
    mlp = p1.MLP(784, 10, [16], [p1.Sigmoid(), p1.Identity()], p1.random_normal_weight_init,
                 p1.zeros_bias_init, p1.SoftmaxCrossEntropy(), 0.01, 0.5)
    stats = p1.get_training_stats(mlp, dset, 2, 20, verbose=False)
    assert all(len(s) == 2 and all(np.isfinite(s)) for s in stats) and 0 <= mlp.test_error <= 1


def test_same_seed_same_result():
    dset = (blobs(300, 1), blobs(100, 2), blobs(100, 3))
    results = []
    for _ in range(2):
        np.random.seed(5)
        mlp = p1.build_mlp(tiny_config())
        p1.get_training_stats(mlp, dset, 2, 32, augment=p1.random_shift(1), rng=np.random.default_rng(5),
                              verbose=False)
        results.append(mlp.W)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_divergence_stops_with_the_learning_rate_in_the_message():
    dset = (blobs(200, 1), blobs(50, 2), blobs(50, 3))
    np.random.seed(0)
    mlp = p1.build_mlp(tiny_config(lr=1e6))
    with pytest.raises(p1.TrainingDiverged, match="learning rate 1e\\+06"):
        p1.get_training_stats(mlp, dset, 3, 20, verbose=False)


def test_warmup_cosine_schedule():
    schedule = p1.warmup_cosine(0.1, 0.1)
    lrs = [schedule(step, 100) for step in range(100)]
    assert lrs[0] == pytest.approx(0.01) and lrs[9] == pytest.approx(0.1) and max(lrs) == pytest.approx(0.1)
    assert lrs[-1] < 1e-3 and all(a >= b for a, b in zip(lrs[9:], lrs[10:]))
    assert all(type(lr) is float for lr in lrs)


def test_random_shift_moves_whole_images():
    rng = np.random.default_rng(0)
    images = np.zeros((50, 784), np.float32)
    images.reshape(50, 28, 28)[:, 10:18, 10:18] = rng.random((50, 8, 8)) + 0.5
    shifted = p1.random_shift(2)(images, rng)
    assert shifted.shape == images.shape and shifted.dtype == images.dtype
    np.testing.assert_allclose(shifted.sum(axis=1), images.sum(axis=1), rtol=1e-6)  # nothing cut off
    moves = set()
    for before, after in zip(images.reshape(50, 28, 28), shifted.reshape(50, 28, 28)):
        dy, dx = np.argwhere(after)[0] - np.argwhere(before)[0]
        assert abs(dy) <= 2 and abs(dx) <= 2
        np.testing.assert_array_equal(np.roll(before, (dy, dx), axis=(0, 1)), after)
        moves.add((dy, dx))
    assert len(moves) > 10  # shifts differ from image to image


def test_random_affine_without_distortion_is_the_identity():
    rng = np.random.default_rng(0)
    images = rng.random((5, 784)).astype(np.float32)
    out = p1.random_affine(0, 0, 0)(images, rng)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, images, atol=1e-6)


def test_random_affine_moves_rotates_and_keeps_digits_inside():
    rng = np.random.default_rng(1)
    images = np.zeros((40, 28, 28), np.float32)
    images[:, 9:19, 12:16] = 1.0  # an upright bar in the middle
    out = p1.random_affine(10, 0.1, 2)(images.reshape(40, 784), rng).reshape(40, 28, 28)
    assert out.min() >= 0 and out.max() <= 1 + 1e-6
    # area changes only with the scale (<= 10% per axis), and nothing falls off the edge
    np.testing.assert_allclose(out.sum(axis=(1, 2)), images.sum(axis=(1, 2)), rtol=0.25)
    assert np.abs(out - images).sum(axis=(1, 2)).min() > 0  # every image was changed
    centres = np.array([np.average(np.indices((28, 28)).reshape(2, -1), axis=1, weights=o.ravel()) for o in out])
    assert np.abs(centres - [13.5, 13.5]).max() <= 2.5 and centres.std(axis=0).min() > 0.3


def test_make_augment_picks_from_the_config():
    assert p1.make_augment({"max_shift": 0}) is None
    assert p1.make_augment({"max_shift": 1}).__qualname__.startswith("random_shift")
    assert p1.make_augment({"max_shift": 2, "max_degrees": 10, "max_scale": 0.1}).__qualname__.startswith(
        "random_affine")
