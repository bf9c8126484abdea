"""p1 MLP.save_model / load_model: the template's method, same predictions, no pickles, identical bytes for an
identical model; anything else is refused as data, never unpickled."""
import io
import os
import time
import zipfile

import numpy as np
import pytest

import p1


def small_mlp():
    np.random.seed(1)
    mlp = p1.MLP(784, 10, [16, 8], [p1.ReLU(), p1.Tanh(), p1.Identity()], p1.he_weight_init, p1.zeros_bias_init,
                 p1.SoftmaxCrossEntropy(), 0.1, 0.9)
    rng = np.random.default_rng(2)
    mlp.b = [rng.normal(size=b.shape).astype(b.dtype) for b in mlp.b]
    return mlp


def test_round_trip_gives_identical_predictions(tmp_path):
    mlp = small_mlp()
    mlp.metadata = {"test_error": 0.0123, "note": "default", "seed": 7}
    path = tmp_path / "model.npz"
    mlp.save_model(str(path))
    loaded = p1.load_model(str(path))
    assert not loaded.train_mode
    assert [type(a) for a in loaded.activations] == [type(a) for a in mlp.activations]
    assert loaded.metadata == {"test_error": 0.0123, "note": "default", "seed": 7}
    x = p1.preprocess(np.random.default_rng(3).integers(0, 256, (20, 784)))
    mlp.eval()
    np.testing.assert_array_equal(loaded.forward(x), mlp.forward(x))
    assert loaded.W[0].dtype == np.float32 and loaded.nn_dim == [784, 16, 8, 10]


def test_template_save_model_writes_p1_model_npz_in_the_working_folder(tmp_path, monkeypatch):
    # the template's example network: one activation per hidden layer, float64 weights from the standard normal
    np.random.seed(0)
    mlp = p1.MLP(784, 10, [32], [p1.Sigmoid()], p1.random_normal_weight_init, p1.zeros_bias_init,
                 p1.SoftmaxCrossEntropy(), 0.05)
    monkeypatch.chdir(tmp_path)
    mlp.save_model()
    assert os.listdir(tmp_path) == ["p1_model.npz"]  # no temporary file left behind
    with np.load(tmp_path / "p1_model.npz", allow_pickle=False) as z:  # every W and b, no pickle needed
        for i in range(2):
            np.testing.assert_array_equal(z[f"W{i}"], mlp.W[i])
            np.testing.assert_array_equal(z[f"b{i}"], mlp.b[i])
        assert list(z["activations"]) == ["Sigmoid", "Identity"]
    loaded = p1.load_model("p1_model.npz")
    x = np.random.default_rng(0).random((3, 784))
    np.testing.assert_array_equal(loaded(x), mlp(x))


def test_save_model_interrupted_keeps_the_old_file_and_leaves_no_other(tmp_path, monkeypatch):
    path = tmp_path / "p1_model.npz"
    path.write_bytes(b"the old model")
    real_savez = np.savez

    def savez_cut_short(file, **arrays):   # as a Ctrl-C or a full disk would stop it, half-way through
        real_savez(file, **arrays)
        file.truncate(100)
        raise KeyboardInterrupt
    monkeypatch.setattr(p1.np, "savez", savez_cut_short)
    with pytest.raises(KeyboardInterrupt):
        small_mlp().save_model(str(path))
    assert os.listdir(tmp_path) == ["p1_model.npz"] and path.read_bytes() == b"the old model"


def test_save_model_writes_to_an_open_file_as_np_savez_does():
    buffer = io.BytesIO()
    small_mlp().save_model(buffer)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as z:
        np.testing.assert_array_equal(z["W0"], small_mlp().W[0])


def test_a_path_without_npz_gets_it_as_np_savez_does(tmp_path):
    np.random.seed(0)
    mlp = p1.MLP(784, 10, [8], [p1.ReLU()], p1.random_normal_weight_init, p1.zeros_bias_init,
                 p1.SoftmaxCrossEntropy(), 0.05)
    mlp.save_model(str(tmp_path / "model"))
    mlp.save_model(tmp_path / "other.npz")   # a path object, as np.savez takes
    assert sorted(os.listdir(tmp_path)) == ["model.npz", "other.npz"]
    np.testing.assert_array_equal(p1.load_model(str(tmp_path / "model.npz")).W[0], mlp.W[0])


def test_file_is_a_plain_npz_without_pickles(tmp_path):
    path = tmp_path / "model.npz"
    mlp = small_mlp()
    mlp.metadata = {"test_error": 0.5}
    mlp.save_model(str(path))
    with np.load(path, allow_pickle=False) as z:
        assert {"sizes", "activations", "W0", "b2", "meta_test_error"} <= set(z.files)
        assert list(z["sizes"]) == [784, 16, 8, 10]
        assert list(z["activations"]) == ["ReLU", "Tanh", "Identity"]


def test_same_model_gives_same_bytes(tmp_path, monkeypatch):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    monkeypatch.setattr(time, "time", lambda: 1e9)  # zipfile stamps members with time.time()
    small_mlp().save_model(str(a))
    monkeypatch.setattr(time, "time", lambda: 2e9)
    small_mlp().save_model(str(b))
    assert a.read_bytes() == b.read_bytes()
    with zipfile.ZipFile(a) as z:
        assert z.testzip() is None
        assert {info.date_time for info in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def saved_arrays(tmp_path):
    path = tmp_path / "good.npz"
    small_mlp().save_model(str(path))
    with np.load(path) as z:
        return {key: z[key] for key in z.files}


def bad_file(tmp_path, kind):
    path = tmp_path / "p1_model.npz"
    if kind == "random bytes":
        path.write_bytes(np.random.default_rng(0).bytes(4000))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "cut short":
        small_mlp().save_model(str(path))
        path.write_bytes(path.read_bytes()[:3000])
    elif kind == "pickled lists":  # what the template's np.savez(path, self.W, self.b) stores
        np.savez(path, np.array([np.zeros((2, 3)), np.zeros(3)], dtype=object), np.array([1, 2], dtype=object))
    elif kind == "zip without arrays":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("readme.txt", "hello")
    elif kind == "no W1":
        np.savez(path, **{k: v for k, v in saved_arrays(tmp_path).items() if k != "W1"})
    elif kind == "shape contradicts sizes":
        arrays = saved_arrays(tmp_path)
        arrays["W1"] = arrays["W1"][:, :5]
        np.savez(path, **arrays)
    elif kind == "bias contradicts sizes":
        arrays = saved_arrays(tmp_path)
        arrays["b1"] = arrays["b1"][:5]
        np.savez(path, **arrays)
    elif kind == "unknown activation":
        arrays = saved_arrays(tmp_path)
        arrays["activations"] = np.array(["ReLU", "Softplus", "Identity"])
        np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("kind", ["random bytes", "empty", "cut short",
                                  "pickled lists",   # the template's own np.savez of the lists: never unpickled
                                  "zip without arrays", "no W1", "shape contradicts sizes", "bias contradicts sizes",
                                  "unknown activation"])
def test_a_file_that_is_no_p1_model_is_refused_in_one_line_without_running_anything(tmp_path, kind):
    path = bad_file(tmp_path, kind)
    with pytest.raises(ValueError) as refused:
        p1.load_model(str(path))
    assert str(refused.value) == (f"{path} is not a model file load_model can read: MLP.save_model's arrays, each "
                                  "layer's activation Identity, Sigmoid, Tanh or ReLU (read as plain arrays only)")
    assert refused.value.__cause__ is None and refused.value.__suppress_context__   # none of NumPy's words on unpickling


def test_a_missing_model_file_is_named_by_the_systems_own_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        p1.load_model(str(tmp_path / "nothing.npz"))


class Trap:
    """Unpickling it calls pytest.fail: a model file holding one must be refused without being read."""
    def __reduce__(self):
        return (pytest.fail, ("the pickle was run",))


def test_a_pickle_is_never_run(tmp_path):
    path = tmp_path / "p1_model.npz"
    arrays = {"sizes": np.array([Trap()], dtype=object), "activations": np.array(["Identity"])}
    np.savez(path, W0=np.zeros((2, 2)), b0=np.zeros(2), **arrays)   # a real pickle, in a real .npy header
    with pytest.raises(ValueError, match="is not a model file"):
        p1.load_model(str(path))


def test_load_model_keeps_the_metadata_numbers_and_strings_only(tmp_path):
    mlp = p1.MLP(3, 2, [], [], p1.he_weight_init, p1.zeros_bias_init, p1.SoftmaxCrossEntropy(), 0.1)
    mlp.metadata = {"seed": 0, "note": "a", "errors": [0.1, 0.2]}
    mlp.save_model(str(tmp_path / "m.npz"))
    assert p1.load_model(str(tmp_path / "m.npz")).metadata == {"seed": 0, "note": "a"}
