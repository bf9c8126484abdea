"""p1 end to end on a tiny generated MNIST: the command line, its outputs and its error messages."""
import os

import numpy as np
import pytest

import p1

TINY = dict(hiddens=(32,), activation="ReLU", epochs=3, batch_size=32, lr=0.05, momentum=0.9, warmup=0.1,
            max_shift=1, validation=100, seed=0)


@pytest.fixture
def mnist_dir(tmp_path, monkeypatch):
    """mnist_train.csv / mnist_test.csv with 400 / 100 rows: a bright 4x4 square whose place is the label."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name, n in (("mnist_train.csv", 400), ("mnist_test.csv", 100)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 60, (n, 28, 28))
        for image, label in zip(images, labels):
            image[4 + 2 * label:8 + 2 * label, 12:16] = 255
        rows = np.column_stack([labels, images.reshape(n, 784)])
        np.savetxt(folder / name, rows, fmt="%d", delimiter=",")
    monkeypatch.setenv("MNIST_DIR", str(folder))
    monkeypatch.setenv("P1_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("P1_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setitem(p1.PRESETS, "default", TINY)
    return folder


def test_main_trains_and_writes_model_curves_and_report(mnist_dir, tmp_path, capsys):
    assert p1.main() == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("test error: ") and lines[-1].endswith("%")
    out = tmp_path / "out"
    assert sorted(os.listdir(out)) == ["p1_model.npz", "p1_report.pdf", "p1_training.png"]
    assert (out / "p1_report.pdf").read_bytes()[:5] == b"%PDF-"
    assert (out / "p1_training.png").read_bytes()[:4] == b"\x89PNG"
    model = p1.load_model(str(out / "p1_model.npz"))
    assert model.metadata["preset"] == "default" and model.metadata["seed"] == 0
    pixels, labels = p1.load_mnist_csv(str(mnist_dir / "mnist_test.csv"))
    _, error = p1.evaluate(model, p1.preprocess(pixels), labels)
    assert error == model.metadata["test_error"] < 0.3
    assert f"test error: {100 * error:.2f}%" == lines[-1]
    for key in ("train_error", "val_error"):
        assert 0 <= model.metadata[key] <= 1


def test_same_seed_twice_gives_an_identical_model_file(mnist_dir, tmp_path, monkeypatch, capsys):
    models = []
    for run in ("a", "b"):
        monkeypatch.setenv("P1_OUT", str(tmp_path / run))
        assert p1.main() == 0
        models.append((tmp_path / run / "p1_model.npz").read_bytes())
    assert models[0] == models[1]


def test_missing_data_gives_one_message_and_exit_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setenv("P1_OUT", str(tmp_path / "out"))
    assert p1.main() == 1
    out = capsys.readouterr().out
    assert "error:" in out and "mnist_train.csv: file not found" in out and "make data-mnist" in out
    assert "Traceback" not in out and not (tmp_path / "out").exists()


def test_divergence_writes_no_model(mnist_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(p1.PRESETS, "default", dict(TINY, lr=1e30))
    assert p1.main() == 1
    out = capsys.readouterr().out
    assert "learning rate" in out and "lower the learning rate" in out
    assert not (tmp_path / "out" / "p1_model.npz").exists()


def test_unknown_preset(monkeypatch, capsys):
    monkeypatch.setenv("P1_PRESET", "fastest")
    assert p1.main() == 2
    assert "unknown P1_PRESET" in capsys.readouterr().out


def test_default_data_folder_is_the_repository_data_folder():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(p1.__file__))))
    assert p1.DEFAULT_MNIST_DIR == os.path.join(root, "data", "mnist")
