"""Problem 3: the closed-form gradients against torch autograd and central finite differences."""
import numpy as np
import pytest

from gradcheck import numeric_gradient
from theory import backprop
from torch_support import NEEDS_TORCH, torch


def random_problem(seed, n, d, h, k):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    W1, b1 = rng.normal(size=(d, h)), rng.normal(size=h)
    W2, b2 = rng.normal(size=(h, k)), rng.normal(size=k)
    y = np.eye(k)[rng.integers(0, k, size=n)]
    return x, W1, b1, W2, b2, y


def torch_grads(x, W1, b1, W2, b2, y):
    t = {name: torch.tensor(v, dtype=torch.float64, requires_grad=True)
         for name, v in dict(x=x, W1=W1, b1=b1, W2=W2, b2=b2).items()}
    f1 = t["x"] @ t["W1"] + t["b1"]
    a = torch.sigmoid(f1)
    f2 = a @ t["W2"] + t["b2"]
    inner = dict(f1=f1, a=a, f2=f2)
    for v in inner.values():
        v.retain_grad()
    E = -(torch.tensor(y) * torch.log_softmax(f2, dim=1)).sum()
    E.backward()
    return {name: v.grad.numpy() for name, v in {**t, **inner}.items()}, E.item()


@NEEDS_TORCH
@pytest.mark.parametrize("seed,shape", [(0, (1, 3, 2, 2)), (1, (4, 5, 3, 4)), (2, (7, 2, 6, 3)), (3, (2, 8, 1, 5))])
def test_grads_match_autograd(seed, shape):
    args = random_problem(seed, *shape)
    ours = backprop.grads(*args)
    theirs, E = torch_grads(*args)
    assert backprop.forward(*args)["E"] == pytest.approx(E, rel=1e-12)
    assert ours.keys() == theirs.keys()   # every term the write-up prints
    for key in ours:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-10, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("seed", [5, 6])
def test_grads_match_finite_differences(seed):
    x, W1, b1, W2, b2, y = random_problem(seed, 3, 4, 3, 3)
    ours = backprop.grads(x, W1, b1, W2, b2, y)

    def energy():
        return backprop.forward(x, W1, b1, W2, b2, y)["E"]

    for name, value in dict(x=x, W1=W1, b1=b1, W2=W2, b2=b2).items():
        np.testing.assert_allclose(ours[name], numeric_gradient(value, energy), atol=1e-7, err_msg=name)
    # dE/df1, dE/da and dE/df2: the loss from that term on, nudged in a copy of the forward pass's value
    inner = backprop.forward(x, W1, b1, W2, b2, y)
    f1, a, f2 = (inner[key].copy() for key in ("f1", "a", "f2"))
    from_f2 = lambda f2: -(y * backprop.log_softmax(f2)).sum()  # noqa: E731
    for name, value, loss in (("f1", f1, lambda: from_f2(backprop.sigmoid(f1) @ W2 + b2)),
                              ("a", a, lambda: from_f2(a @ W2 + b2)), ("f2", f2, lambda: from_f2(f2))):
        np.testing.assert_allclose(ours[name], numeric_gradient(value, loss), atol=1e-7, err_msg=name)


def test_single_sample_vector_input():
    x, W1, b1, W2, b2, y = random_problem(7, 1, 3, 4, 2)
    ours = backprop.grads(x[0], W1, b1, W2, b2, y[0])
    assert ours["x"].shape == (3,) and ours["f2"].shape == (2,)
    np.testing.assert_allclose(ours["x"], backprop.grads(x, W1, b1, W2, b2, y)["x"][0], rtol=1e-12)


def test_large_logits_stay_finite():
    x, W1, b1, W2, b2, y = random_problem(8, 2, 3, 3, 3)
    grads = backprop.grads(x, W1, b1, W2 * 1e4, b2, y)
    assert all(np.all(np.isfinite(g)) for g in grads.values())


@pytest.mark.parametrize("change, message", [
    (dict(W1=np.zeros((4, 4))), r"W1 must be \(d, h\) with d = 3, got \(4, 4\)"),
    (dict(b1=np.zeros(3)), r"b1 must have 4 entries, got \(3,\)"),
    (dict(W2=np.zeros((2, 4))), r"W2 must be \(h, K\) with h = 4, got \(2, 4\)"),
    (dict(b2=np.zeros(3)), r"b2 must have 2 entries, got \(3,\)"),
    (dict(y=np.eye(2)[[0, 1, 0]]), r"y must be \(n, K\) = \(2, 2\), got \(3, 2\)"),
    ("twice y", r"each row of y must sum to 1 \(one-hot or a probability vector\)"),
])
def test_shape_errors_are_clear(change, message):
    args = dict(zip(("x", "W1", "b1", "W2", "b2", "y"), random_problem(9, 2, 3, 4, 2)))
    args.update(y=2 * args["y"]) if change == "twice y" else args.update(change)
    with pytest.raises(backprop.ShapeError, match=f"^{message}$"):
        backprop.grads(**args)


@NEEDS_TORCH
def test_worked_example_and_json():
    t3 = backprop.to_json(backprop.solve())
    assert t3["shapes"]["dE/dx = dE/df1 W1^T"] == "1 x d"
    example = t3["example"]
    inputs = {k: np.array(v) for k, v in example["inputs"].items()}
    theirs, E = torch_grads(**inputs)
    np.testing.assert_allclose(example["grads"]["x"], theirs["x"], rtol=1e-10)
    assert example["forward"]["E"] == pytest.approx(E)


def test_worked_example_agrees_with_central_finite_differences():
    result = backprop.solve()
    gap = result["example"]["finite_difference_gap"]
    assert 0 <= gap < 1e-8
    assert backprop.to_json(result)["example"]["finite_difference_gap"] == gap


def test_the_finite_difference_gap_sees_a_wrong_gradient(monkeypatch):
    inputs = backprop.worked_example()["inputs"]
    right = backprop.grads
    monkeypatch.setattr(backprop, "grads", lambda *args, **kwargs: {**right(*args, **kwargs),
                                                                    "W1": 1.01 * right(*args, **kwargs)["W1"]})
    assert backprop.finite_difference_gap(**inputs) > 1e-4


def test_the_mathtext_shape_table_has_the_plain_tables_rows():
    assert [shape for _, shape in backprop.SHAPES_MATHTEXT] == [shape.replace(" x ", " \u00d7 ")
                                                                for _, shape in backprop.SHAPES]
    assert all(term.startswith("$") for term, _ in backprop.SHAPES_MATHTEXT)


def test_log_softmax_shifts_by_the_row_maximum():
    np.testing.assert_allclose(backprop.log_softmax(np.array([[1000.0, 0.0]])), [[0.0, -1000.0]], atol=1e-12)
    args = (np.ones((1, 2)), np.eye(2), np.zeros(2), 1e3 * np.array([[1.0, -1.0], [1.0, -1.0]]), np.zeros(2),
            np.array([[0.0, 1.0]]))
    assert np.isfinite(backprop.forward(*args)["E"])


def test_the_finite_difference_gap_sees_a_wrong_dE_dW2(monkeypatch):
    inputs = backprop.worked_example()["inputs"]
    right = backprop.grads
    monkeypatch.setattr(backprop, "grads", lambda *a, **k: {**right(*a, **k), "W2": 1.01 * right(*a, **k)["W2"]})
    assert backprop.finite_difference_gap(**inputs) > 1e-4


def test_every_shape_in_the_table_is_the_shape_of_its_array():
    d, h, K = 3, 4, 5
    rng = np.random.default_rng(0)
    x, W1, b1, W2, b2 = (rng.normal(size=s) for s in ((1, d), (d, h), (h,), (h, K), (K,)))
    y = np.eye(K)[[2]]
    fwd, g = backprop.forward(x, W1, b1, W2, b2, y), backprop.grads(x, W1, b1, W2, b2, y)
    arrays = {"x": x, "W1": W1, "b1": b1[None], "f1 = x W1 + b1": fwd["f1"], "a = sigmoid(f1)": fwd["a"], "W2": W2,
              "b2": b2[None], "f2 = a W2 + b2": fwd["f2"], "o = softmax(f2)": fwd["o"], "y": y,
              "dE/df2 = o - y": g["f2"], "dE/dW2 = a^T (o - y)": g["W2"], "dE/db2 = o - y": g["b2"][None],
              "dE/da = (o - y) W2^T": g["a"], "dE/df1 = dE/da * a * (1 - a)": g["f1"],
              "dE/dW1 = x^T dE/df1": g["W1"], "dE/db1 = dE/df1": g["b1"][None], "dE/dx = dE/df1 W1^T": g["x"]}
    table = dict(backprop.SHAPES)
    sizes = {"1": 1, "d": d, "h": h, "K": K}
    for term, array in arrays.items():
        assert tuple(sizes[s] for s in table[term].split(" x ")) == array.shape, term
    assert table["da/df1 = diag(a * (1 - a))"] == "h x h" and table["do/df2 (softmax Jacobian)"] == "K x K"
