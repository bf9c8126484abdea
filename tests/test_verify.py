"""make verify: tiny models whose predictions are known, on tiny MNIST and CIFAR-10 files in the real formats."""
import glob
import os
import shutil

import numpy as np
import pytest

from tools import verify

SOURCE = os.path.join(verify.ROOT, "andrewID-HW1")


def write_constant_p1_model(path, test_error, predicted=3):
    """An MLP that predicts `predicted` for every image: zero last-layer weights, a one-hot bias."""
    import p1
    np.random.seed(0)
    mlp = p1.MLP(784, 10, [8], [p1.ReLU(), p1.Identity()], p1.random_normal_weight_init, p1.zeros_bias_init,
                 p1.SoftmaxCrossEntropy(), lr=0.1)
    mlp.W[-1][:] = 0
    mlp.b[-1][:] = 0
    mlp.b[-1][predicted] = 1
    mlp.metadata = {"test_error": test_error}
    mlp.save_model(path)


def write_constant_p2_model(path, test_accuracy, **extra):
    """A network whose logits are all zero, so it predicts class 0 (argmax takes the first maximum)."""
    import torch
    from checkpoint import save_checkpoint
    from config import Config
    from data import CLASSES
    from model import build_model
    cfg = Config(widths=(8, 16, 16))
    model = build_model(cfg)
    with torch.no_grad():
        model.head.weight.zero_()
    save_checkpoint(path, model, cfg, class_names=CLASSES, mean=(0, 0, 0), std=(1, 1, 1), preset="test", seed=0,
                    test_accuracy=test_accuracy, **extra)


def write_mnist_test_csv(folder, labels):
    rng = np.random.default_rng(0)
    rows = [[label] + list(rng.integers(0, 256, 784)) for label in labels]
    (folder / "mnist_test.csv").write_text("".join(",".join(map(str, row)) + "\n" for row in rows))


def write_cifar_bins(folder, test_labels):
    """The six binary batch files: records of a label byte and 3072 pixel bytes; a few records each."""
    rng = np.random.default_rng(0)
    batches = folder / "cifar-10-batches-bin"
    batches.mkdir(parents=True)
    for name, labels in [(f"data_batch_{i}.bin", [1, 2]) for i in range(1, 6)] + [("test_batch.bin", test_labels)]:
        records = np.concatenate([np.array(labels, np.uint8)[:, None],
                                  rng.integers(0, 256, (len(labels), 3072), dtype=np.uint8)], axis=1)
        records.tofile(batches / name)


@pytest.fixture
def setup(tmp_path, monkeypatch):
    """A bundle folder with the repository's code and constant models, plus tiny data sets: p1's error is 15/20
    (it predicts 3, five labels are 3), p2's accuracy 3/4 (it predicts 0, three labels are 0)."""
    monkeypatch.setenv("P1_CACHE_DIR", str(tmp_path / "cache"))
    bundle = tmp_path / "bundle"
    (bundle / "p1").mkdir(parents=True)
    (bundle / "p2").mkdir()
    shutil.copy(os.path.join(SOURCE, "p1", "p1.py"), bundle / "p1")
    for module in glob.glob(os.path.join(SOURCE, "p2", "*.py")):
        shutil.copy(module, bundle / "p2")
    write_constant_p1_model(str(bundle / "p1" / "p1_model.npz"), test_error=0.75)
    mnist, cifar = tmp_path / "mnist", tmp_path / "cifar10"
    mnist.mkdir()
    write_mnist_test_csv(mnist, [3] * 5 + [0, 1, 2, 4, 5] * 3)
    write_cifar_bins(cifar, [0, 0, 0, 5])
    return dict(bundle=bundle, args=["--bundle", str(bundle), "--mnist-dir", str(mnist), "--cifar10-dir", str(cifar)])


def test_both_models_reproduce_their_stored_numbers(setup, capsys):
    write_constant_p2_model(str(setup["bundle"] / "p2" / "p2_model.pkl"), test_accuracy=0.75)
    assert verify.main(setup["args"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["model", "stored", "re-measured", "tolerance", "match"]
    assert "75.00%  75.00% (15/20)" in lines[2] and lines[2].endswith("yes")
    assert "75.00%  75.00%" in lines[3] and lines[3].endswith("yes")
    assert "trained on an unrecorded device" in out and "tolerance 0.1 pp" in out
    assert "all stored numbers reproduced" in out


def test_p1_within_one_image_matches_beyond_it_fails(setup, capsys):
    model = str(setup["bundle"] / "p1" / "p1_model.npz")
    write_constant_p1_model(model, test_error=0.70)  # 14/20: one image off
    assert verify.main(setup["args"] + ["--only", "p1"]) == 0
    write_constant_p1_model(model, test_error=0.65)
    assert verify.main(setup["args"] + ["--only", "p1"]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines()[-1].endswith("NO")
    assert "differs from the stored one" in captured.err


def test_missing_data_says_how_to_get_it(setup, tmp_path, capsys):
    empty = str(tmp_path / "nothing")
    args = ["--bundle", str(setup["bundle"]), "--mnist-dir", empty, "--cifar10-dir", empty]
    write_constant_p2_model(str(setup["bundle"] / "p2" / "p2_model.pkl"), test_accuracy=0.75)
    assert verify.main(args) == 1
    captured = capsys.readouterr()
    assert "make data-mnist" in captured.err and "MNIST_DIR=" in captured.err
    assert "make data-cifar10" in captured.err and "CIFAR10_DIR=" in captured.err
    assert captured.out.count("n/a") == 2


def test_missing_model_says_how_to_make_it(setup, capsys):
    assert verify.main(setup["args"] + ["--only", "p2"]) == 1
    assert "p2_model.pkl: missing; train it with `make p2`" in capsys.readouterr().err


@pytest.mark.parametrize("measured, stored_device, current_device, match", [
    (93.45, "gpu", "gpu", True),
    (93.46, "gpu", "gpu", True),    # one image in 10,000
    (93.47, "gpu", "gpu", False),
    (93.55, "gpu", "cpu", True),    # another device: 0.1 pp
    (93.57, "gpu", "cpu", False),
    (93.55, None, "cpu", True),     # an unrecorded device counts as another one
])
def test_p2_tolerance_depends_on_the_device(measured, stored_device, current_device, match):
    result = verify.compare_p2(0.9345, measured, stored_device, current_device)
    assert result.match is match
    assert ("bf16" in result.note) is (stored_device != current_device)

