"""Problem 1: gradient descent and momentum on GELU(x) ~ x * sigmoid(1.702 x)."""
import numpy as np

# The constant of the sigmoid approximation of GELU used by the handout (Hendrycks & Gimpel, 2016).
SCALE = 1.702
# The handout's runs: a) and b) start at X0_AB with step sizes ETA_A and ETA_B; c) starts at X0_C with step size ETA_C,
# without momentum and with momentum BETA (its Eq. 5).
X0_AB, ETA_A, ETA_B = 0.0, 0.1, 1.0
X0_C, ETA_C, BETA = -3.0, 0.1, 0.9


def sigmoid(z):
    """Logistic function that never overflows: exp is only taken of non-positive numbers."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def gelu(x):
    """GELU(x) ~ x * sigmoid(1.702 x)."""
    x = np.asarray(x, dtype=np.float64)
    return x * sigmoid(SCALE * x)


def gelu_grad(x):
    """d/dx [x s(cx)] = s(cx) + c x s(cx) (1 - s(cx)), by the product rule and s' = s (1 - s)."""
    x = np.asarray(x, dtype=np.float64)
    s = sigmoid(SCALE * x)
    return s + SCALE * x * s * (1.0 - s)


def gelu_second_derivative(x):
    """d^2/dx^2 [x s(cx)] = c s (1 - s) (2 + c x (1 - 2 s)); used to explain step-size behaviour."""
    x = np.asarray(x, dtype=np.float64)
    s = sigmoid(SCALE * x)
    return SCALE * s * (1.0 - s) * (2.0 + SCALE * x * (1.0 - 2.0 * s))


def gradient_descent(x0, eta, steps):
    """Iterates x_0 .. x_steps of x_{t+1} = x_t - eta * GELU'(x_t)."""
    xs = [float(x0)]
    for _ in range(steps):
        xs.append(xs[-1] - eta * float(gelu_grad(xs[-1])))
    return np.array(xs)


def momentum(x0, eta, beta, steps, lagged=False):
    """Iterates x_0 .. x_steps of Eq. 5 with v_0 = GELU'(x_0) and v_{t+1} = beta v_t + (1 - beta) GELU'(x_t).

    lagged=False moves by the new velocity, x_{t+1} = x_t - eta v_{t+1} (the first reading of the handout's Eq. 5);
    lagged=True moves by the old one, x_{t+1} = x_t - eta v_t (the other way Eq. 5 can be read).
    Returns (xs, vs) with vs = v_0 .. v_steps.
    """
    xs = [float(x0)]
    vs = [float(gelu_grad(x0))]
    for _ in range(steps):
        x, v = xs[-1], vs[-1]
        v_new = beta * v + (1.0 - beta) * float(gelu_grad(x))
        xs.append(x - eta * (v if lagged else v_new))
        vs.append(v_new)
    return np.array(xs), np.array(vs)


def gelu_minimum():
    """The one stationary point of GELU, found by bisection of GELU' on [-3, 0] (GELU' < 0 left of it, > 0 right)."""
    lo, hi = -3.0, 0.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if gelu_grad(mid) < 0:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-15:
            break
    x_star = 0.5 * (lo + hi)
    return x_star, float(gelu(x_star))


def first_step_within(xs, target, tol):
    """First index t with |x_t - target| < tol and every later iterate also inside, or None."""
    inside = np.abs(np.asarray(xs) - target) < tol
    if not inside[-1]:
        return None
    outside = np.flatnonzero(~inside)
    return int(outside[-1] + 1) if outside.size else 0


def _run(xs):
    """The JSON form of a run: x_1..x_3 and GELU of each (x_0 is given, so it is left out)."""
    return {"x": [float(v) for v in xs[1:]], "gelu": [float(v) for v in gelu(xs[1:])]}


def solve(steps=3, long_steps=800, tol=1e-3):
    """Every Problem 1 number: the three-step runs of a), b), c) and a long-run comparison for c)."""
    x_star, f_star = gelu_minimum()
    a = gradient_descent(X0_AB, ETA_A, steps)
    b = gradient_descent(X0_AB, ETA_B, steps)
    c_gd = gradient_descent(X0_C, ETA_C, steps)
    c_mom, c_mom_v = momentum(X0_C, ETA_C, BETA, steps)
    c_lag, c_lag_v = momentum(X0_C, ETA_C, BETA, steps, lagged=True)

    long_gd = gradient_descent(X0_C, ETA_C, long_steps)
    long_mom, _ = momentum(X0_C, ETA_C, BETA, long_steps)
    long_lag, _ = momentum(X0_C, ETA_C, BETA, long_steps, lagged=True)
    return {
        "a": a, "b": b, "c_gd": c_gd, "c_momentum": c_mom, "c_momentum_v": c_mom_v,
        "c_momentum_lagged": c_lag, "c_momentum_lagged_v": c_lag_v,
        "grad_x0": {"0": float(gelu_grad(X0_AB)), "-3": float(gelu_grad(X0_C))},
        "minimum": {"x": x_star, "gelu": f_star, "curvature": float(gelu_second_derivative(x_star))},
        "long": {"gd": long_gd, "momentum": long_mom, "momentum_lagged": long_lag, "tol": tol,
                 "settle_gd": first_step_within(long_gd, x_star, tol),
                 "settle_momentum": first_step_within(long_mom, x_star, tol),
                 "settle_momentum_lagged": first_step_within(long_lag, x_star, tol),
                 "overshoot_momentum": float(max(0.0, long_mom.max() - x_star))},
    }


def to_json(result):
    """T1 with the key names of the JSON answers, plus the other reading of Eq. 5 and the minimum."""
    return {
        "a": _run(result["a"]), "b": _run(result["b"]),
        "c_gd": _run(result["c_gd"]), "c_momentum": _run(result["c_momentum"]),
        "c_momentum_lagged": _run(result["c_momentum_lagged"]),
        "minimum": {"x": result["minimum"]["x"], "gelu": result["minimum"]["gelu"]},
    }
