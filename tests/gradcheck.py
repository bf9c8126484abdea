"""Central finite differences, shared by the tests that check gradients against them."""
import numpy as np


def numeric_gradient(array, loss, step=1e-6):
    """d loss() / d array, entry by entry: `array` is changed in place by +-step (and restored), and `loss` (no
    arguments) reads it."""
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        old = array[index]
        array[index] = old + step
        up = loss()
        array[index] = old - step
        down = loss()
        array[index] = old
        grad[index] = (up - down) / (2 * step)
    return grad
