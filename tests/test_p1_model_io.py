"""p1 save_model / load_model: same predictions, no pickles, identical bytes for an identical model."""
import os
import time
import zipfile

import numpy as np

import p1


def small_mlp(num_bn_layers=0):
    np.random.seed(1)
    mlp = p1.MLP(784, 10, [16, 8], [p1.ReLU(), p1.Tanh(), p1.Identity()], p1.he_weight_init, p1.zeros_bias_init,
                 p1.SoftmaxCrossEntropy(), 0.1, 0.9, num_bn_layers)
    rng = np.random.default_rng(2)
    mlp.b = [rng.normal(size=b.shape).astype(b.dtype) for b in mlp.b]
    if num_bn_layers:  # move the batch-norm parameters and running statistics away from their defaults
        mlp.forward(rng.random((32, 784)))
        mlp.bn_layers[0].gamma = mlp.bn_layers[0].gamma + 0.5
    return mlp


def test_round_trip_gives_identical_predictions(tmp_path):
    for bn in (0, 1):
        mlp = small_mlp(bn)
        path = tmp_path / f"model{bn}.npz"
        p1.save_model(mlp, str(path), test_error=0.0123, preset="default", seed=7)
        loaded = p1.load_model(str(path))
        assert not loaded.train_mode
        assert [type(a) for a in loaded.activations] == [type(a) for a in mlp.activations]
        assert loaded.metadata == {"test_error": 0.0123, "preset": "default", "seed": 7}
        x = p1.preprocess(np.random.default_rng(3).integers(0, 256, (20, 784)))
        mlp.eval()
        np.testing.assert_array_equal(loaded.forward(x), mlp.forward(x))
        assert loaded.W[0].dtype == np.float32


def test_file_is_a_plain_npz_without_pickles(tmp_path):
    path = tmp_path / "model.npz"
    p1.save_model(small_mlp(), str(path), preset="best")
    with np.load(path, allow_pickle=False) as z:
        assert {"sizes", "activations", "W0", "b2", "meta_preset"} <= set(z.files)
        assert list(z["sizes"]) == [784, 16, 8, 10]
        assert list(z["activations"]) == ["ReLU", "Tanh", "Identity"]
    assert os.listdir(tmp_path) == ["model.npz"]  # no temporary file left behind


def test_same_model_gives_same_bytes(tmp_path, monkeypatch):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    monkeypatch.setattr(time, "time", lambda: 1e9)  # zipfile stamps members with time.time()
    p1.save_model(small_mlp(), str(a), seed=0)
    monkeypatch.setattr(time, "time", lambda: 2e9)
    p1.save_model(small_mlp(), str(b), seed=0)
    assert a.read_bytes() == b.read_bytes()
    with zipfile.ZipFile(a) as z:
        assert z.testzip() is None
        assert {info.date_time for info in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
