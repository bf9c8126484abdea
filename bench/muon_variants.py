"""Muon with every filter bank orthogonalised in one zero-padded batch, for the bench only (a GPU-speed candidate that
no preset adopted; p2's Muon takes a batch per filter shape).

The fast recipe's six filter banks come in four shapes, so p2's Muon runs four batched Newton-Schulz iterations a
step. Padded to one batch they are one: fewer, larger kernels, cheaper where a step waits on kernel launches (a GPU),
dearer where it waits on arithmetic (the small banks are padded to the largest).

    with one_batch_muon():   # every Muon that p2's train.make_muon_optimizers makes is a OneBatchMuon
        train(...)

Credit: orthogonalising every filter bank in one zero-padded batch is done as well by Hiverge's CIFAR10-Speedrun
(github.com/hiverge/cifar10-speedrun, 2025). The code here is our own.
"""
import contextlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "andrewID-HW1", "p2"))
import train as p2_train  # noqa: E402
from muon import Muon, orthogonalize, working_dtype  # noqa: E402


def orthogonalize_padded(tensors, steps=3, dtype=None):
    """muon.orthogonalize_by_shape() in one batch, as views in working_dtype: each matrix, turned wide, zero-padded
    to the largest (zero rows and columns stay zero through the iteration)."""
    sizes = [(len(t), t[0].numel()) for t in tensors]
    rows = max(min(size) for size in sizes)
    cols = max(max(size) for size in sizes)

    def block(batch, k):   # matrix k: the top-left corner of its slice, transposed if it is tall
        r, c = sizes[k]
        return (batch[k, :r, :c] if r <= c else batch[k, :c, :r].mT).view(tensors[k].shape)

    batch = tensors[0].new_zeros(len(tensors), rows, cols, dtype=working_dtype(tensors[0], dtype))
    for k, t in enumerate(tensors):
        block(batch, k).copy_(t)
    result = orthogonalize(batch, steps, dtype=dtype)   # already in working_dtype, where it stays
    return [block(result, k) for k in range(len(tensors))]


class OneBatchMuon(Muon):
    """p2's Muon, its updates orthogonalised in one orthogonalize_padded call instead of a batch per shape: the same
    step up to rounding, in fewer kernels."""

    def orthogonalized(self, updates, group):
        return orthogonalize_padded(updates, group["ns_steps"], dtype=group["ns_dtype"])


@contextlib.contextmanager
def one_batch_muon(train_module=p2_train):
    """While inside, p2's training (train.make_muon_optimizers, through train.make_optimizers) makes its Muon a
    OneBatchMuon; p2's own code and config are untouched."""
    real = train_module.Muon
    train_module.Muon = OneBatchMuon
    try:
        yield
    finally:
        train_module.Muon = real
