"""Read CIFAR-10's python batches without running code from them.

A pickle can name any importable function and have it called while loading (for example os.system). A CIFAR-10
batch needs only numpy's own array reconstruction (from a raw buffer at protocol 5) and, in files written by
Python 3 at protocol 2, the latin-1 conversion of bytes. Every other name is refused before anything is built, so
nothing from the file runs (the "Restricting Globals" recipe of Python's pickle documentation).

Both kinds of batch files in circulation are covered: the official ones (Python 2, NumPy 1: keys are Python 2
strings, arrays name numpy.core.multiarray) and ones written by Python 3 with NumPy 2 (numpy._core.multiarray; at
protocol 2 their bytes go through _codecs.encode; at protocol 5, Python 3.14's default, arrays come from
numpy._core.numeric._frombuffer).
"""
import codecs
import pickle

import numpy as np

try:
    from numpy._core.multiarray import _reconstruct  # NumPy 2
    from numpy._core.numeric import _frombuffer
except ImportError:  # pragma: no cover - NumPy 1
    from numpy.core.multiarray import _reconstruct
    from numpy.core.numeric import _frombuffer


class RefusedPickle(pickle.UnpicklingError):
    """The file names something a CIFAR-10 batch never holds; it was not loaded."""


def _latin1_encode(text, encoding="utf-8", errors="strict"):
    """codecs.encode as protocol-2 pickles use it for bytes (always latin-1); any other codec is refused."""
    if str(encoding).lower().replace("_", "-") not in ("latin1", "latin-1") or errors != "strict":
        raise RefusedPickle(f"it asks for the {encoding!r} codec, which a CIFAR-10 batch never uses")
    return codecs.encode(text, "latin-1")


ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,   # NumPy 1 spelling (the official files)
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,  # NumPy 2 spelling
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,        # protocol 5: an array from its bytes (NumPy 1)
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,       # (NumPy 2); an object array is refused by NumPy
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
    ("codecs", "encode"): _latin1_encode,
}


class BatchUnpickler(pickle.Unpickler):
    """An Unpickler whose only reachable callables are those in ALLOWED (plain data types need none)."""

    def find_class(self, module, name):
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise RefusedPickle(f"it asks to run {module}.{name}, which a CIFAR-10 batch never needs") from None

    def persistent_load(self, pid):
        raise RefusedPickle("it refers to outside objects (persistent ids), which a CIFAR-10 batch never holds")


def load(file):
    """Unpickle an open binary file with BatchUnpickler. Python 2 strings come back as bytes (encoding="bytes"),
    as the official CIFAR-10 instructions read them. Raises RefusedPickle for a disallowed name, and the usual
    pickle/EOF/value errors for a damaged file."""
    return BatchUnpickler(file, encoding="bytes").load()
