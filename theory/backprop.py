"""Problem 3: backpropagation through a sigmoid hidden layer, a softmax output and cross-entropy.

    f1 = x W1 + b1,  a = sigmoid(f1),  f2 = a W2 + b2,  o = softmax(f2),  E = -sum_k y_k log o_k

Rows of x are samples (a single sample may be a 1-D vector); E is summed over the rows, so each row's gradient
is exactly the single-sample formula.
"""
import numpy as np

from theory.gelu_gd import sigmoid


class ShapeError(ValueError):
    """The arrays handed to grads() do not fit together."""


def log_softmax(f):
    """log softmax along the last axis, shifted by the row maximum so exp never overflows."""
    shifted = f - f.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _as_arrays(x, W1, b1, W2, b2, y):
    """float64 2-D copies, with a clear message naming the first mismatch."""
    x, y = np.atleast_2d(np.asarray(x, np.float64)), np.atleast_2d(np.asarray(y, np.float64))
    W1, W2 = np.asarray(W1, np.float64), np.asarray(W2, np.float64)
    b1, b2 = np.asarray(b1, np.float64).reshape(-1), np.asarray(b2, np.float64).reshape(-1)
    checks = [
        (W1.ndim == 2 and W1.shape[0] == x.shape[1], f"W1 must be (d, h) with d = {x.shape[1]}, got {W1.shape}"),
        (b1.shape == (W1.shape[-1],), f"b1 must have {W1.shape[-1]} entries, got {b1.shape}"),
        (W2.ndim == 2 and W2.shape[0] == W1.shape[-1], f"W2 must be (h, k) with h = {W1.shape[-1]}, got {W2.shape}"),
        (b2.shape == (W2.shape[-1],), f"b2 must have {W2.shape[-1]} entries, got {b2.shape}"),
        (y.shape == (x.shape[0], W2.shape[-1]), f"y must be (n, k) = {(x.shape[0], W2.shape[-1])}, got {y.shape}"),
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
    dE/da = dE/df2 W2^T, dE/df1 = dE/da * a (1 - a), dE/dx = dE/df1 W1^T.
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


# Each term of the chain with its shape for one sample: x is 1 x d, h hidden units, k classes.
SHAPES = [
    ("x", "1 x d"), ("W1", "d x h"), ("b1", "1 x h"), ("f1 = x W1 + b1", "1 x h"), ("a = sigmoid(f1)", "1 x h"),
    ("W2", "h x k"), ("b2", "1 x k"), ("f2 = a W2 + b2", "1 x k"), ("o = softmax(f2)", "1 x k"), ("y", "1 x k"),
    ("E", "1 x 1"), ("do/df2 (softmax Jacobian)", "k x k"), ("dE/do", "1 x k"), ("dE/df2 = o - y", "1 x k"),
    ("dE/dW2 = a^T (o - y)", "h x k"), ("dE/db2 = o - y", "1 x k"), ("dE/da = (o - y) W2^T", "1 x h"),
    ("da/df1 = diag(a (1 - a))", "h x h"), ("dE/df1 = dE/da * a (1 - a)", "1 x h"),
    ("dE/dW1 = x^T dE/df1", "d x h"), ("dE/db1 = dE/df1", "1 x h"), ("dE/dx = dE/df1 W1^T", "1 x d"),
]


def worked_example():
    """A small fixed example (d = 3, h = 2, k = 2) with every intermediate value, for the write-up and T3."""
    x = np.array([[1.0, -2.0, 0.5]])
    W1 = np.array([[0.2, -0.4], [0.1, 0.3], [-0.5, 0.6]])
    b1 = np.array([0.1, -0.1])
    W2 = np.array([[0.7, -0.3], [-0.2, 0.5]])
    b2 = np.array([0.0, 0.1])
    y = np.array([[0.0, 1.0]])
    values = forward(x, W1, b1, W2, b2, y)
    return {"inputs": {"x": x, "W1": W1, "b1": b1, "W2": W2, "b2": b2, "y": y},
            "forward": values, "grads": grads(x, W1, b1, W2, b2, y)}


def solve():
    """The shape table and the worked example."""
    return {"shapes": SHAPES, "example": worked_example()}


def _listify(value):
    return value.tolist() if isinstance(value, np.ndarray) else value


def to_json(result):
    """T3: the shape of each term and the worked example's numbers."""
    example = result["example"]
    return {
        "model": "f1 = x W1 + b1, a = sigmoid(f1), f2 = a W2 + b2, o = softmax(f2), E = -sum(y log o)",
        "shapes": {term: shape for term, shape in result["shapes"]},
        "example": {part: {key: _listify(value) for key, value in example[part].items()}
                    for part in ("inputs", "forward", "grads")},
    }
