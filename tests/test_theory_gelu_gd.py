"""Problem 1: the analytic GELU derivatives against finite differences and autograd, and the GD / momentum iterates
against torch.optim.SGD."""
import numpy as np
import pytest

from theory import gelu_gd
from torch_support import NEEDS_TORCH, torch


def torch_gelu(x):
    return x * torch.sigmoid(1.702 * x)


def test_derivatives_match_finite_differences():
    xs = np.linspace(-6, 6, 201)
    h = 1e-6
    central = (gelu_gd.gelu(xs + h) - gelu_gd.gelu(xs - h)) / (2 * h)
    np.testing.assert_allclose(gelu_gd.gelu_grad(xs), central, atol=1e-8)
    h = 1e-5
    central = (gelu_gd.gelu_grad(xs + h) - gelu_gd.gelu_grad(xs - h)) / (2 * h)
    np.testing.assert_allclose(gelu_gd.gelu_second_derivative(xs), central, atol=1e-8)


@NEEDS_TORCH
def test_derivatives_match_autograd():
    xs = np.linspace(-6, 6, 201)
    xt = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    (first,) = torch.autograd.grad(torch_gelu(xt).sum(), xt, create_graph=True)
    (second,) = torch.autograd.grad(first.sum(), xt)
    np.testing.assert_allclose(gelu_gd.gelu_grad(xs), first.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gelu_gd.gelu_second_derivative(xs), second.numpy(), rtol=1e-12, atol=1e-14)


def test_sigmoid_is_stable_at_extremes():
    assert np.all(np.isfinite(gelu_gd.sigmoid(np.array([-1e4, 1e4]))))
    assert gelu_gd.gelu(-1e4) == 0.0 and gelu_gd.gelu(1e4) == 1e4


def torch_descent(x0, eta, steps, momentum=0.0, dampening=0.0):
    """Iterates from torch.optim.SGD on the same function, an independent implementation of the updates."""
    x = torch.tensor([x0], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([x], lr=eta, momentum=momentum, dampening=dampening)
    xs = [x0]
    for _ in range(steps):
        opt.zero_grad()
        torch_gelu(x).sum().backward()
        opt.step()
        xs.append(float(x.detach()))
    return np.array(xs)


@NEEDS_TORCH
@pytest.mark.parametrize("x0,eta", [(0.0, 0.1), (0.0, 1.0), (-3.0, 0.1)])
def test_gradient_descent_matches_torch_sgd(x0, eta):
    np.testing.assert_allclose(gelu_gd.gradient_descent(x0, eta, 50), torch_descent(x0, eta, 50), rtol=0, atol=1e-13)


@NEEDS_TORCH
def test_momentum_matches_torch_sgd_with_dampening():
    # torch's SGD starts its buffer at the first gradient and then uses buf = m buf + (1 - dampening) g, which with
    # dampening = m is exactly v_0 = g(x_0), v_{t+1} = beta v_t + (1 - beta) g(x_t), x_{t+1} = x_t - eta v_{t+1}.
    xs, _ = gelu_gd.momentum(-3.0, 0.1, 0.9, 300)
    np.testing.assert_allclose(xs, torch_descent(-3.0, 0.1, 300, momentum=0.9, dampening=0.9), rtol=0, atol=1e-12)


def test_lagged_momentum_uses_the_old_velocity():
    xs, vs = gelu_gd.momentum(-3.0, 0.1, 0.9, 5, lagged=True)
    for t in range(5):
        assert xs[t + 1] == pytest.approx(xs[t] - 0.1 * vs[t], abs=1e-15)
        assert vs[t + 1] == pytest.approx(0.9 * vs[t] + 0.1 * gelu_gd.gelu_grad(xs[t]), abs=1e-15)


def test_first_steps_by_hand():
    # GELU'(0) = sigmoid(0) = 1/2, so the first step from 0 is -eta/2.
    assert gelu_gd.gradient_descent(0.0, 0.1, 1)[1] == pytest.approx(-0.05, abs=1e-15)
    assert gelu_gd.gradient_descent(0.0, 1.0, 1)[1] == pytest.approx(-0.5, abs=1e-15)
    # Momentum's first step equals GD's: v_1 = beta g_0 + (1 - beta) g_0.
    assert gelu_gd.momentum(-3.0, 0.1, 0.9, 1)[0][1] == gelu_gd.gradient_descent(-3.0, 0.1, 1)[1]


def test_minimum_is_the_global_minimum():
    x_star, f_star = gelu_gd.gelu_minimum()
    assert abs(gelu_gd.gelu_grad(x_star)) < 1e-12   # the derivative is checked against autograd above
    grid = np.linspace(-20, 20, 400001)
    assert f_star <= gelu_gd.gelu(grid).min() + 1e-15
    assert x_star == pytest.approx(-0.7511542554, abs=1e-9)


def test_json_has_the_issue_keys_and_three_iterates():
    result = gelu_gd.solve(long_steps=50)
    t1 = gelu_gd.to_json(result)
    for key in ("a", "b", "c_gd", "c_momentum"):
        assert set(t1[key]) == {"x", "gelu"}
        assert len(t1[key]["x"]) == 3 and len(t1[key]["gelu"]) == 3
        np.testing.assert_allclose(t1[key]["gelu"], gelu_gd.gelu(np.array(t1[key]["x"])), rtol=1e-15)
    np.testing.assert_allclose(t1["c_gd"]["x"], gelu_gd.gradient_descent(-3.0, 0.1, 3)[1:], atol=1e-13)


def test_long_run_settle_steps_are_consistent():
    long = gelu_gd.solve()["long"]
    x_star = gelu_gd.gelu_minimum()[0]
    for key in ("gd", "momentum", "momentum_lagged"):
        settle = long[f"settle_{key}"]
        assert settle is not None
        assert np.all(np.abs(long[key][settle:] - x_star) < long["tol"])
        assert abs(long[key][settle - 1] - x_star) >= long["tol"]


def test_solve_runs_use_the_handouts_eta_beta_and_both_momentum_readings():
    r = gelu_gd.solve(long_steps=10)
    np.testing.assert_allclose(r["a"], gelu_gd.gradient_descent(0.0, 0.1, 3), rtol=0, atol=0)
    np.testing.assert_allclose(r["b"], gelu_gd.gradient_descent(0.0, 1.0, 3), rtol=0, atol=0)
    assert r["a"][1] == pytest.approx(-0.05) and r["b"][1] == pytest.approx(-0.5)   # x1 = -eta/2
    np.testing.assert_array_equal(r["c_momentum_lagged"], gelu_gd.momentum(-3.0, 0.1, 0.9, 3, lagged=True)[0])
    assert not np.array_equal(r["c_momentum_lagged"], r["c_momentum"])


def test_solve_reports_the_slope_at_minus_3_the_curvature_and_the_overshoot():
    r = gelu_gd.solve()
    assert r["grad_x0"] == {"0": 0.5, "-3": pytest.approx(float(gelu_gd.gelu_grad(-3.0)), abs=0)}
    assert r["grad_x0"]["-3"] == pytest.approx(-0.0245483239, abs=1e-9)
    assert r["minimum"]["curvature"] == pytest.approx(0.3707155231, abs=1e-9)   # G''(x*), not G'(x*) ~ 0
    assert r["long"]["overshoot_momentum"] == pytest.approx(r["long"]["momentum"].max() - r["minimum"]["x"])
    assert r["long"]["overshoot_momentum"] > 0


def test_a_run_that_never_settles_has_no_settle_step():
    assert gelu_gd.first_step_within([0.0, 1.0, 2.0], target=0.0, tol=0.5) is None
    assert gelu_gd.first_step_within([2.0, 0.1, 0.0], target=0.0, tol=0.5) == 1
