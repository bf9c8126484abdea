"""Problem 3: backpropagation through a sigmoid hidden layer, a softmax output and cross-entropy.

    f1 = x W1 + b1,  a = sigmoid(f1),  f2 = a W2 + b2,  o = softmax(f2),  E = -sum_k y_k log o_k

Rows of x are samples (a single sample may be a 1-D vector); E is summed over the rows, so each row's gradient
is exactly the single-sample formula.
"""
import numpy as np

from theory.gelu_gd import sigmoid


class ShapeError(ValueError):
    """The arrays handed to forward() or grads() do not fit together, or a row of y does not sum to 1."""


def log_softmax(f):
    """log softmax along the last axis, shifted by the row maximum so exp never overflows."""
    shifted = f - f.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _as_arrays(x, W1, b1, W2, b2, y):
    """x, y, W1 and W2 as float64 2-D arrays, b1 and b2 as 1-D (the caller's own where they already are), with a
    clear message naming the first mismatch."""
    x, y = np.atleast_2d(np.asarray(x, np.float64)), np.atleast_2d(np.asarray(y, np.float64))
    W1, W2 = np.asarray(W1, np.float64), np.asarray(W2, np.float64)
    b1, b2 = np.asarray(b1, np.float64).reshape(-1), np.asarray(b2, np.float64).reshape(-1)
    checks = [
        (W1.ndim == 2 and W1.shape[0] == x.shape[1], f"W1 must be (d, h) with d = {x.shape[1]}, got {W1.shape}"),
        (b1.shape == (W1.shape[-1],), f"b1 must have {W1.shape[-1]} entries, got {b1.shape}"),
        (W2.ndim == 2 and W2.shape[0] == W1.shape[-1], f"W2 must be (h, K) with h = {W1.shape[-1]}, got {W2.shape}"),
        (b2.shape == (W2.shape[-1],), f"b2 must have {W2.shape[-1]} entries, got {b2.shape}"),
        (y.shape == (x.shape[0], W2.shape[-1]), f"y must be (n, K) = {(x.shape[0], W2.shape[-1])}, got {y.shape}"),
        (np.allclose(y.sum(axis=1), 1.0), "each row of y must sum to 1 (one-hot or a probability vector)"),
    ]
    for ok, message in checks:
        if not ok:
            raise ShapeError(message)
    return x, W1, b1, W2, b2, y


def forward(x, W1, b1, W2, b2, y):
    """The intermediate values f1, a, f2, o and the loss E."""
    x, W1, b1, W2, b2, y = _as_arrays(x, W1, b1, W2, b2, y)
    f1 = x @ W1 + b1
    a = sigmoid(f1)
    f2 = a @ W2 + b2
    log_o = log_softmax(f2)
    return {"f1": f1, "a": a, "f2": f2, "o": np.exp(log_o), "E": float(-(y * log_o).sum())}


def grads(x, W1, b1, W2, b2, y):
    """dE/d(every term) from the closed forms derived in the write-up (no autograd).

    dE/df2 = o - y (softmax Jacobian times -y/o, using sum_k y_k = 1), then
    dE/da = dE/df2 W2^T, dE/df1 = dE/da * a * (1 - a), dE/dx = dE/df1 W1^T.
    Shapes follow the inputs: a 1-D x gives 1-D dE/dx.
    """
    single = np.ndim(x) == 1
    values = forward(x, W1, b1, W2, b2, y)
    x, W1, b1, W2, b2, y = _as_arrays(x, W1, b1, W2, b2, y)
    a, o = values["a"], values["o"]
    d_f2 = o - y
    d_a = d_f2 @ W2.T
    d_f1 = d_a * a * (1.0 - a)
    d_x = d_f1 @ W1.T
    result = {"f2": d_f2, "W2": a.T @ d_f2, "b2": d_f2.sum(axis=0), "a": d_a, "f1": d_f1,
              "W1": x.T @ d_f1, "b1": d_f1.sum(axis=0), "x": d_x}
    if single:
        for key in ("f2", "a", "f1", "x"):
            result[key] = result[key][0]
    return result


# Each term of the chain with its shape for one sample: x is 1 x d, h hidden units, K classes. The first column is
# plain text (the JSON answers' keys and the text output), the second the same term in mathtext for the PDF.
_TERMS = [
    ("x", "$x$", "1 x d"), ("W1", "$W_1$", "d x h"), ("b1", "$b_1$", "1 x h"),
    ("f1 = x W1 + b1", "$f_1 = xW_1 + b_1$", "1 x h"), ("a = sigmoid(f1)", r"$a = \sigma(f_1)$", "1 x h"),
    ("W2", "$W_2$", "h x K"), ("b2", "$b_2$", "1 x K"), ("f2 = a W2 + b2", "$f_2 = aW_2 + b_2$", "1 x K"),
    ("o = softmax(f2)", r"$o = \mathrm{softmax}(f_2)$", "1 x K"), ("y", "$y$", "1 x K"), ("E", "$E$", "1 x 1"),
    ("do/df2 (softmax Jacobian)", r"$\partial o/\partial f_2$ (softmax Jacobian)", "K x K"),
    ("dE/do", r"$\partial E/\partial o$", "1 x K"), ("dE/df2 = o - y", r"$\partial E/\partial f_2 = o - y$", "1 x K"),
    ("dE/dW2 = a^T (o - y)", r"$\partial E/\partial W_2 = a^T (o - y)$", "h x K"),
    ("dE/db2 = o - y", r"$\partial E/\partial b_2 = o - y$", "1 x K"),
    ("dE/da = (o - y) W2^T", r"$\partial E/\partial a = (o - y)\,W_2^T$", "1 x h"),
    ("da/df1 = diag(a * (1 - a))", r"$\partial a/\partial f_1 = \mathrm{diag}(a \odot (1 - a))$", "h x h"),
    ("dE/df1 = dE/da * a * (1 - a)", r"$\partial E/\partial f_1 = \partial E/\partial a \odot a \odot (1 - a)$",
     "1 x h"),
    ("dE/dW1 = x^T dE/df1", r"$\partial E/\partial W_1 = x^T\, \partial E/\partial f_1$", "d x h"),
    ("dE/db1 = dE/df1", r"$\partial E/\partial b_1 = \partial E/\partial f_1$", "1 x h"),
    ("dE/dx = dE/df1 W1^T", r"$\partial E/\partial x = \partial E/\partial f_1\, W_1^T$", "1 x d"),
]
SHAPES = [(term, shape) for term, _, shape in _TERMS]
SHAPES_MATHTEXT = [(math, shape.replace(" x ", " \u00d7 ")) for _, math, shape in _TERMS]   # typeset: a times sign

# The step of the central finite differences that check the worked example's gradients.
FD_STEP = 1e-6


def finite_difference_gap(x, W1, b1, W2, b2, y, step=FD_STEP):
    """The largest absolute difference between the closed-form dE/dx, dE/dW1, dE/dW2 and central finite
    differences (E(v + step) - E(v - step)) / (2 step) of E, entry by entry (numpy, float64)."""
    # copies: each entry is nudged in place below, and the caller's arrays stay as they were even on an error
    arrays = {name: a.copy() for name, a in zip(("x", "W1", "b1", "W2", "b2", "y"), _as_arrays(x, W1, b1, W2, b2, y))}
    closed = grads(**arrays)
    gap = 0.0
    for name in ("x", "W1", "W2"):
        array = arrays[name]
        numeric = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            old = array[index]
            array[index] = old + step
            up = forward(**arrays)["E"]
            array[index] = old - step
            down = forward(**arrays)["E"]
            array[index] = old
            numeric[index] = (up - down) / (2 * step)
        gap = max(gap, float(np.abs(np.reshape(closed[name], array.shape) - numeric).max()))
    return gap


def worked_example():
    """A small fixed example (d = 3, h = 2, K = 2) with every intermediate value, for the write-up and T3, and
    the largest gap between its dE/dx, dE/dW1, dE/dW2 and central finite differences of E."""
    x = np.array([[1.0, -2.0, 0.5]])
    W1 = np.array([[0.2, -0.4], [0.1, 0.3], [-0.5, 0.6]])
    b1 = np.array([0.1, -0.1])
    W2 = np.array([[0.7, -0.3], [-0.2, 0.5]])
    b2 = np.array([0.0, 0.1])
    y = np.array([[0.0, 1.0]])
    values = forward(x, W1, b1, W2, b2, y)
    return {"inputs": {"x": x, "W1": W1, "b1": b1, "W2": W2, "b2": b2, "y": y},
            "forward": values, "grads": grads(x, W1, b1, W2, b2, y),
            "finite_difference_gap": finite_difference_gap(x, W1, b1, W2, b2, y)}


def solve():
    """The shape table (plain and mathtext) and the worked example."""
    return {"shapes": SHAPES, "shapes_mathtext": SHAPES_MATHTEXT, "example": worked_example()}


def _listify(value):
    return value.tolist() if isinstance(value, np.ndarray) else value


def to_json(result):
    """T3: the shape of each term and the worked example's numbers (with its finite-difference gap)."""
    example = result["example"]
    return {
        "model": "f1 = x W1 + b1, a = sigmoid(f1), f2 = a W2 + b2, o = softmax(f2), E = -sum(y log o)",
        "shapes": {term: shape for term, shape in result["shapes"]},
        "example": {**{part: {key: _listify(value) for key, value in example[part].items()}
                       for part in ("inputs", "forward", "grads")},
                    "finite_difference_gap": example["finite_difference_gap"]},
    }
