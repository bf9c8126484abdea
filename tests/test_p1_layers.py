"""p1 activations and softmax cross-entropy: values, stability, and derivatives against finite differences and
PyTorch autograd (float64)."""
import numpy as np
import pytest

import p1
from gradcheck import numeric_gradient
from torch_support import NEEDS_TORCH, torch


@pytest.fixture
def rng():
    """Each test's own random inputs, the same whichever tests ran before it."""
    return np.random.default_rng(0)


def numeric_derivative(f, x, h=1e-6):
    """Central difference of an elementwise function."""
    return (f(x + h) - f(x - h)) / (2 * h)


@pytest.mark.parametrize("cls", [p1.Identity, p1.Sigmoid, p1.Tanh, p1.ReLU])
def test_activation_derivative_matches_finite_differences(cls, rng):
    x = rng.normal(size=(7, 5)) * 3
    x[np.abs(x) < 1e-3] = 0.5  # ReLU has no derivative at 0
    act = cls()
    out = act(x)
    assert out.shape == x.shape and act.state is out
    np.testing.assert_allclose(act.derivative(), numeric_derivative(lambda z: cls().forward(z), x),
                               rtol=1e-6, atol=1e-8)


def test_activation_values():
    x = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_allclose(p1.Sigmoid()(x), 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(p1.Tanh()(x), np.tanh(x))
    np.testing.assert_array_equal(p1.ReLU()(x), [[0.0, 0.0, 3.0]])
    np.testing.assert_array_equal(p1.Identity()(x), x)


def test_sigmoid_does_not_overflow():
    x = np.array([-1e4, -800.0, -30.0, 0.0, 30.0, 800.0, 1e4])
    sigmoid = p1.Sigmoid()
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        s = sigmoid(x)
        d = sigmoid.derivative()
    assert np.all(np.isfinite(s)) and s[0] == 0.0 and s[-1] == 1.0 and s[3] == 0.5
    assert np.all(np.isfinite(d)) and d[3] == 0.25


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activations_keep_dtype(dtype, rng):
    x = rng.normal(size=(3, 4)).astype(dtype)
    for cls in (p1.Identity, p1.Sigmoid, p1.Tanh, p1.ReLU):
        act = cls()
        assert act(x).dtype == dtype
        assert (act.derivative() * x).dtype == dtype   # as backward() uses it


def test_identity_is_the_templates(rng):
    """Identity is given in the template ("do not change"): its derivative is the number 1.0."""
    act = p1.Identity()
    x = rng.normal(size=(2, 3))
    assert act(x) is x and act.state is x and act.derivative() == 1.0


def test_softmax_cross_entropy_matches_definition_and_is_stable(rng):
    x = rng.normal(size=(6, 10)) * 5
    y = p1.get_one_hot(rng.integers(0, 10, 6), 10)
    ce = p1.SoftmaxCrossEntropy()
    loss = ce(x, y)
    sm = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(loss, -np.log((sm * y).sum(axis=1)), rtol=1e-12, atol=1e-14)   # atol: a loss near 0
    np.testing.assert_allclose(ce.sm, sm, rtol=1e-12)
    assert loss.shape == (6,) and ce.logits is x and ce.labels is y and ce.loss is loss
    huge = np.array([[1e4, 0.0, -1e4] + [0.0] * 7])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert np.isfinite(ce(huge, p1.get_one_hot([1], 10))).all()


def test_softmax_cross_entropy_derivative_matches_finite_differences(rng):
    x = rng.normal(size=(4, 10))
    y = p1.get_one_hot(rng.integers(0, 10, 4), 10)
    ce = p1.SoftmaxCrossEntropy()
    ce(x, y)
    analytic = ce.derivative()
    # loss_i depends only on row i, so the gradient of the summed per-sample losses is d loss_i / d x_ij
    numeric = numeric_gradient(x, lambda: p1.SoftmaxCrossEntropy()(x, y).sum())
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


@NEEDS_TORCH
@pytest.mark.parametrize("cls", [p1.Identity, p1.Sigmoid, p1.Tanh, p1.ReLU])
def test_activation_derivative_matches_autograd(cls, rng):
    x = rng.normal(size=(7, 5)) * 3
    x[np.abs(x) < 1e-3] = 0.5  # ReLU has no derivative at 0
    act = cls()
    act(x)
    z = torch.tensor(x, requires_grad=True)
    torch_activation = {p1.Identity: lambda t: t, p1.Sigmoid: torch.sigmoid, p1.Tanh: torch.tanh, p1.ReLU: torch.relu}
    torch_activation[cls](z).sum().backward()   # elementwise: the gradient of the sum is each element's derivative
    np.testing.assert_allclose(np.broadcast_to(act.derivative(), x.shape), z.grad.numpy(), rtol=1e-12, atol=1e-15)


@NEEDS_TORCH
def test_softmax_cross_entropy_loss_and_derivative_match_autograd(rng):
    x = rng.normal(size=(5, 10)) * 4
    labels = rng.integers(0, 10, 5)
    ce = p1.SoftmaxCrossEntropy()
    loss = ce(x, p1.get_one_hot(labels, 10))
    logits = torch.tensor(x, requires_grad=True)
    reference = torch.nn.functional.cross_entropy(logits, torch.as_tensor(labels), reduction="none")
    reference.sum().backward()   # loss_i depends on row i only: the sum's gradient is each row's own
    np.testing.assert_allclose(loss, reference.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ce.derivative(), logits.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_softmax_cross_entropy_shifts_each_row_by_its_own_max():
    x = np.array([[0.0, 0.0], [1000.0, 0.0]])   # rows far apart: one shift for the whole batch would underflow row 0
    loss = p1.SoftmaxCrossEntropy()(x, np.array([[1.0, 0.0], [1.0, 0.0]]))
    np.testing.assert_allclose(loss, [np.log(2), 0.0], atol=1e-12)
