"""p1 training: the template's loop against one written from its description; shuffling, augmentation and the
learning-rate schedule reaching it through the objects it is handed; divergence stops with one message."""
import hashlib

import numpy as np
import pytest

import p1

# sha256 of the course template's get_training_stats, from its "# Don't change this function" line to its return
# line, as p1_template.py has it (spacing included): p1.py keeps it character for character
TEMPLATE_GET_TRAINING_STATS_SHA256 = "6cddfd9ec037e0e23a46626dd7a8ad9fa1a5b2bf1360d40285112b53ba01ffab"


def blobs(n, seed, dim=784, classes=10):
    """Ten well-separated Gaussian clusters: a problem any working MLP learns in a few epochs."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(0).normal(size=(classes, dim))
    labels = rng.integers(0, classes, n)
    return (centres[labels] + rng.normal(size=(n, dim)) * 1.5).astype(np.float32) / 4, labels


def one_hot_dset(*parts):
    return [[x, p1.get_one_hot(y.reshape(-1, 1).astype(float), 10)] for x, y in parts]


def template_loop(mlp, dset, nepochs, batch_size):
    """The course template's get_training_stats, written from its description: batches in file order; train():
    forward, backward, step, then get_loss and get_error added to totals; eval() and mlp(x) for validation and
    test; totals divided by the number of samples; never zero_grads."""
    (trainx, trainy), (valx, valy), (testx, testy) = dset

    def measure(x, y):   # the template's validation and test passes are the same loop
        loss = error = 0
        for b in range(0, len(x), batch_size):
            mlp.eval()
            mlp(x[b:b + batch_size])
            loss += mlp.get_loss(y[b:b + batch_size])
            error += mlp.get_error(y[b:b + batch_size])
        return loss / len(x), error / len(x)

    training_losses, training_errors, validation_losses, validation_errors = [], [], [], []
    for _ in range(nepochs):
        loss = error = 0
        for b in range(0, len(trainx), batch_size):
            mlp.train()
            mlp.forward(trainx[b:b + batch_size])
            mlp.backward(trainy[b:b + batch_size])
            mlp.step()
            loss += mlp.get_loss(trainy[b:b + batch_size])
            error += mlp.get_error(trainy[b:b + batch_size])
        training_losses.append(loss / len(trainx))
        training_errors.append(error / len(trainx))
        val_loss, val_error = measure(valx, valy)
        validation_losses.append(val_loss)
        validation_errors.append(val_error)
    test_loss, test_error = measure(testx, testy)
    return (training_losses, training_errors, validation_losses, validation_errors), test_loss, test_error


def template_example_mlp(hidden=16):
    """The template's main(): one Sigmoid hidden layer, standard-normal weights, zero biases, lr 0.05."""
    np.random.seed(0)
    return p1.MLP(784, 10, [hidden], [p1.Sigmoid()], p1.random_normal_weight_init, p1.zeros_bias_init,
                  p1.SoftmaxCrossEntropy(), 0.05)


def test_template_loop_runs_our_mlp_with_per_sample_curves():
    dset = one_hot_dset(blobs(400, 1), blobs(100, 2), blobs(100, 3))
    (losses, errors, val_losses, val_errors), test_loss, test_error = template_loop(template_example_mlp(), dset,
                                                                                    3, 8)
    # per sample: a 10-class loss starts near ln(10) and falls (a batch-mean loss would come out 8x too small)
    assert 1 < losses[0] < 10 and losses[-1] < losses[0] and val_losses[-1] < val_losses[0]
    assert all(0 <= e <= 1 for e in errors + val_errors) and val_errors[-1] < val_errors[0] < 0.9
    assert 0 <= test_error < 0.9 and 0 < test_loss < val_losses[0]  # the std-1 init learns slowly, but learns


def test_get_training_stats_is_the_templates_text_unchanged():
    with open(p1.__file__, encoding="utf-8") as f:
        source = f.read()
    start = source.index("# Don't change this function\ndef get_training_stats(")
    end = source.index("    return (training_losses, training_errors, validation_losses, validation_errors)\n", start)
    text = source[start:end] + "    return (training_losses, training_errors, validation_losses, validation_errors)\n"
    assert hashlib.sha256(text.encode()).hexdigest() == TEMPLATE_GET_TRAINING_STATS_SHA256, \
        "get_training_stats must stay exactly as the template has it"


@pytest.mark.parametrize("block", [
    "        # Don't change this -->\n        self.train_mode = True\n        self.nlayers = len(hiddens) + 1\n",
    "    # This class is a gimme as it is already implemented for you as an example (do not change)\n\n"
    "    def __init__(self):\n        super(Identity, self).__init__()\n",
])
def test_the_templates_other_do_not_change_parts_are_as_it_has_them(block):
    with open(p1.__file__, encoding="utf-8") as f:
        assert block in f.read()


def test_our_get_training_stats_matches_the_template_loop_exactly(capsys):
    dset = one_hot_dset(blobs(200, 1), blobs(60, 2), blobs(60, 3))
    expected, test_loss, test_error = template_loop(template_example_mlp(), dset, 2, 8)
    stats = p1.get_training_stats(template_example_mlp(), dset, 2, 8)
    for ours, theirs in zip(stats, expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    lines = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("validation loss:") for line in lines) == 2
    assert float(lines[-1].split(":")[1]) == pytest.approx(test_error, rel=1e-12)
    assert float(lines[-2].split(":")[1]) == pytest.approx(test_loss, rel=1e-12)


def training_run(x, labels, dset, epochs=4, batch_size=32, lr=0.05, seed=0, augment=None):
    """Our additions through the template's loop: shuffled, augmented images and an MLP on a schedule."""
    np.random.seed(seed)
    steps = epochs * -(-len(x) // batch_size)
    mlp = p1.MLP(784, 10, [32], [p1.ReLU()], p1.he_weight_init, p1.zeros_bias_init, p1.SoftmaxCrossEntropy(), lr,
                 momentum=0.9, lr_schedule=p1.warmup_cosine(lr, 0.1, steps))
    images = p1.TrainingImages(x, p1.get_one_hot(labels, 10), np.random.default_rng(seed), augment, epochs)
    stats = p1.get_training_stats(mlp, [[images, images.labels]] + dset, epochs, batch_size)
    return mlp, stats


def test_short_training_with_the_additions_learns(capsys):
    x, labels = blobs(600, 1)
    dset = one_hot_dset(blobs(200, 2), blobs(200, 3))
    mlp, stats = training_run(x, labels, dset, augment=p1.random_shift(1))
    training_losses, training_errors, validation_losses, validation_errors = stats
    assert all(len(s) == 4 for s in stats) and mlp.steps_taken == 4 * 19
    assert training_losses[-1] < training_losses[0] and validation_losses[-1] < validation_losses[0]
    assert 0 <= validation_errors[-1] <= 0.05 and 0 <= training_errors[-1] <= 0.1
    assert mlp.lr < 1e-3   # the cosine schedule ends near 0
    mlp.eval()
    mlp(dset[1][0])
    assert mlp.get_error(dset[1][1]) <= 0.05 * len(dset[1][1])
    out = capsys.readouterr().out
    assert out.count("epochs done, ") == 4   # one progress line per epoch, from the images' side


def test_each_epochs_progress_line_counts_the_epochs_and_says_the_time_to_go(capsys, monkeypatch):
    clock = iter([100.0, 100.0, 105.0, 130.0, 1300.0])   # seconds at each call of wall_clock
    monkeypatch.setattr(p1, "wall_clock", lambda: next(clock))
    images = p1.TrainingImages(np.zeros((4, 784), np.float32), p1.get_one_hot(np.arange(4), 10),
                               np.random.default_rng(0), None, epochs=10)
    for _ in range(4):
        images[0:2]   # a slice from row 0 starts an epoch
    assert capsys.readouterr().out.splitlines() == [
        "  (0 of 10 epochs done, 0.0 s since training started)",
        "  (1 of 10 epochs done, 5.0 s since training started, about 45 s to go)",
        "  (2 of 10 epochs done, 30.0 s since training started, about 2.0 min to go)",
        "  (3 of 10 epochs done, 1200.0 s since training started, about 46.7 min to go)"]


def test_training_images_shuffle_each_epoch_and_keep_labels_with_their_images():
    x = np.arange(10, dtype=np.float32)[:, None] * np.ones((1, 784), np.float32)
    images = p1.TrainingImages(x, p1.get_one_hot(np.arange(10), 10), np.random.default_rng(0), None, 3)
    orders = []
    for _ in range(3):   # as the template's loop slices: images from row 0 start an epoch, labels follow them
        rows = []
        for b in range(0, len(images), 4):
            batch, labels = images[b:b + 4], images.labels[b:b + 4]
            np.testing.assert_array_equal(batch[:, 0], labels.argmax(axis=1))
            rows += list(batch[:, 0].astype(int))
        assert sorted(rows) == list(range(10))
        orders.append(rows)
    assert len(images) == len(images.labels) == 10 and orders[0] != orders[1] != orders[2]


def test_same_seed_same_result(capsys):
    x, labels = blobs(300, 1)
    dset = one_hot_dset(blobs(100, 2), blobs(100, 3))
    first, second = (training_run(x, labels, dset, epochs=2, seed=5, augment=p1.random_shift(1))[0]
                     for _ in range(2))
    for a, b in zip(first.W + first.b, second.W + second.b):
        np.testing.assert_array_equal(a, b)


def test_divergence_stops_with_the_learning_rate_in_the_message(capsys):
    x, labels = blobs(200, 1)
    with pytest.raises(p1.TrainingDiverged, match="learning rate 1e\\+06"), np.errstate(all="ignore"):
        mlp = p1.MLP(784, 10, [32], [p1.ReLU()], p1.he_weight_init, p1.zeros_bias_init, p1.SoftmaxCrossEntropy(),
                     1e6, momentum=0.9)
        p1.get_training_stats(mlp, one_hot_dset((x, labels), blobs(50, 2), blobs(50, 3)), 3, 20)


def test_warmup_cosine_schedule():
    schedule = p1.warmup_cosine(0.1, 0.1, 100)
    lrs = [schedule(step) for step in range(100)]
    assert lrs[0] == pytest.approx(0.01) and lrs[9] == pytest.approx(0.1) and max(lrs) == pytest.approx(0.1)
    assert lrs[-1] < 1e-3 and all(a >= b for a, b in zip(lrs[9:], lrs[10:]))
    assert all(type(lr) is float for lr in lrs)


def test_warmup_never_passes_the_peak_when_it_is_not_a_whole_number_of_steps():
    schedule = p1.warmup_cosine(0.1, 0.03, 1960)   # the default preset: a warm-up of 58.8 steps
    assert max(schedule(step) for step in range(1960)) == 0.1


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


def test_random_affine_reads_zeros_off_every_edge():
    ones = np.ones((200, 784), np.float32)
    # shifted by under a pixel, whichever way: the edge row and column it moves off fade towards zero, so the
    # image's sum is (28 - |dy|) x (28 - |dx|), below 784 on every side alike (the edge is not copied outward)
    sums = p1.random_affine(0, 0, 0.9)(ones, np.random.default_rng(3)).sum(axis=1)
    assert sums.max() < 784 - 1e-3 and sums.min() > 27.1 ** 2 - 1e-3
    # shifted far off the image, bent or not: nothing of it is left, nor pulled back in by the bend
    for elastic in (0, 36):
        far = p1.random_affine(0, 0, 1000, elastic=elastic)(ones, np.random.default_rng(4))
        assert (far.max(axis=1) == 0).mean() > 0.98


def test_random_affine_bends_elastically_with_a_smooth_field():
    rng = np.random.default_rng(2)
    ramp = np.tile(np.arange(28, dtype=np.float32) / 27, (28, 1))   # each pixel's value is its column / 27
    out = p1.random_affine(0, 0, 0, elastic=36)(np.repeat(ramp.reshape(1, 784), 20, axis=0), rng)
    # bilinear sampling of a ramp is exact: the value tells the column it came from; inside, away from the edges
    moved = (out.reshape(20, 28, 28) - ramp)[:, 6:22, 6:22] * 27
    assert 0.4 < moved.std() < 2.5   # about a pixel for these settings (uniform noise, smoothed, times 36)
    assert np.abs(np.diff(moved, axis=2)).mean() < 0.25 * np.abs(moved).mean()   # neighbours move together


def test_make_augment_picks_from_the_config():
    assert p1.make_augment({"max_shift": 0}) is None
    assert p1.make_augment({"max_shift": 1}).__qualname__.startswith("random_shift")
    assert p1.make_augment({"max_shift": 2, "max_degrees": 10, "max_scale": 0.1}).__qualname__.startswith(
        "random_affine")
    assert p1.make_augment({"max_shift": 0, "max_degrees": 0, "max_scale": 0, "elastic": 36}).__qualname__.startswith(
        "random_affine")


def test_a_loss_not_finite_at_the_first_step_points_to_the_data_not_the_learning_rate():
    x, labels = blobs(40, 1)
    x[3, 1] = np.nan   # a bad pixel: the rate is not what to change
    mlp = p1.MLP(784, 10, [8], [p1.ReLU()], p1.he_weight_init, p1.zeros_bias_init, p1.SoftmaxCrossEntropy(), 0.1)
    with pytest.raises(p1.TrainingDiverged, match="after 0 steps .*; check the data for NaN, infinite or unscaled values$"):
        p1.get_training_stats(mlp, one_hot_dset((x, labels), blobs(8, 2), blobs(8, 3)), 1, 20)


def test_random_shift_reaches_every_offset_both_ways():
    images = np.zeros((200, 784), np.float32)
    images.reshape(200, 28, 28)[:, 14, 14] = 1
    where = np.argwhere(p1.random_shift(2)(images, np.random.default_rng(0)).reshape(200, 28, 28))[:, 1:] - 14
    assert set(where[:, 0]) == set(where[:, 1]) == {-2, -1, 0, 1, 2}


class LowestDraw:
    """A generator whose every uniform draw is its lower bound: no turn, scale 1, a shift of -max_shift each way."""
    def uniform(self, low, high, size):
        return np.full(size, float(low))


def test_random_affine_reads_zeros_past_the_bottom_and_right_edges():
    out = p1.random_affine(0, 0, 2)(np.ones((1, 784), np.float32), LowestDraw()).reshape(28, 28)
    assert out[:26, :26].min() == 1 and out[26:, :].max() == 0 and out[:, 26:].max() == 0
