"""Tiny data files in the real on-disk formats, shared by the tests (no network, no real data)."""
import os
import pickle
import struct
import sys

import numpy as np

BIN_NAMES = tuple(f"data_batch_{i}.bin" for i in range(1, 6)) + ("test_batch.bin",)
PY_NAMES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)


def cifar_images(labels, rng):
    """Learnable images: each class a different mean colour plus noise, so a few training steps lower the loss,
    and random enough that a mixed-up record, plane or file order shows up."""
    colour = (np.asarray(labels)[:, None] * 25 + np.array([0, 80, 160])) % 256
    images = colour[:, :, None, None] + rng.normal(0, 20, (len(labels), 3, 32, 32))
    return np.clip(images, 0, 255).astype(np.uint8)


def write_cifar_batches(folder, layout="bin", records_per_file=8, seed=0, test_labels=None):
    """Write the six CIFAR-10 batch files into `folder` (created) in one of the real layouts:
    "bin"  the binary version: records of a label byte, then the R, G, B planes;
    "py"   the python version as Python 3 writes it (protocol 2: numpy._core names, bytes via _codecs.encode);
    "py2"  the python version as the official files hold it (Python 2 strings, numpy.core names).
    `test_labels` fixes the test batch's labels (and then every file has that many records).
    Returns {file name: (images uint8 (n, 3, 32, 32), labels int64 (n,))}."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    n = records_per_file if test_labels is None else len(test_labels)
    written = {}
    for name in (BIN_NAMES if layout == "bin" else PY_NAMES):
        labels = rng.integers(0, 10, n) if test_labels is None or "test" not in name else np.asarray(test_labels)
        labels = labels.astype(np.int64)
        images = cifar_images(labels, rng)
        path = os.path.join(folder, name)
        if layout == "bin":
            np.column_stack([labels.astype(np.uint8), images.reshape(n, -1)]).tofile(path)
        elif layout == "py":
            with open(path, "wb") as f:
                pickle.dump({b"batch_label": name.encode(), b"labels": labels.tolist(),
                             b"data": images.reshape(n, -1)}, f, protocol=2)
        elif layout == "py2":
            with open(path, "wb") as f:
                f.write(python2_batch_pickle(images.reshape(n, -1), labels.tolist(), name))
        else:
            raise ValueError(layout)
        written[name] = (images, labels)
    return written


# The official python batches were pickled by Python 2 with NumPy 1, which this Python cannot produce; these
# opcodes write the same structure: a dict of Python 2 strings, a list of ints, and an array rebuilt through
# numpy.core.multiarray._reconstruct, numpy.ndarray and numpy.dtype (protocol 2, no memo).
def _py2_str(raw):
    return b"U" + bytes([len(raw)]) + raw if len(raw) < 256 else b"T" + struct.pack("<I", len(raw)) + raw


def _py2_int(value):
    return b"K" + bytes([value]) if 0 <= value < 256 else b"J" + struct.pack("<i", value)


def _py2_array(data):
    dtype = (b"cnumpy\ndtype\n(" + _py2_str(b"u1") + _py2_int(0) + _py2_int(1) + b"tR"
             + b"(" + _py2_int(3) + _py2_str(b"|") + b"NNN" + _py2_int(-1) + _py2_int(-1) + _py2_int(0) + b"tb")
    return (b"cnumpy.core.multiarray\n_reconstruct\n(cnumpy\nndarray\n(" + _py2_int(0) + b"t" + _py2_str(b"b")
            + b"tR(" + _py2_int(1) + b"(" + b"".join(_py2_int(d) for d in data.shape) + b"t" + dtype
            + b"\x89" + _py2_str(data.tobytes()) + b"tb")


def python2_batch_pickle(data, labels, name):
    items = (_py2_str(b"data") + _py2_array(data)
             + _py2_str(b"labels") + b"](" + b"".join(_py2_int(y) for y in labels) + b"e"
             + _py2_str(b"batch_label") + _py2_str(name.encode()))
    return b"\x80\x02}(" + items + b"u."


def p2_command(p2_path, records_per_file):
    """The command that runs p2.py as a student would, except that its data reader expects batch files of
    `records_per_file` records instead of the official 10,000, so tiny generated files pass its count check."""
    code = (f"import runpy, sys; sys.path.insert(0, {os.path.dirname(p2_path)!r}); import data; "
            f"data.RECORDS_PER_FILE = {int(records_per_file)}; sys.argv[0] = {p2_path!r}; "
            f"runpy.run_path({p2_path!r}, run_name='__main__')")
    return [sys.executable, "-c", code]
