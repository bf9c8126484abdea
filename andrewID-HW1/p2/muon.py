"""Muon: SGD momentum whose every update is replaced by the nearest semi-orthogonal matrix, for conv filters.

A conv filter bank (out, in, k, k) is treated as a matrix (out, in*k*k). Its momentum-averaged gradient
G = U S V^T is dominated by a few directions; Muon steps along U V^T instead, so every direction moves at the
same rate. U V^T is approximated by a few Newton-Schulz iterations (matrix products only, fast on tensor cores).
"""
import torch

# Coefficients of the quintic x -> a x + b x^3 + c x^5, chosen to push every singular value in (0, 1] quickly
# towards 1 (to within about +-30 %, which is all Muon needs) rather than to converge exactly.
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def working_dtype(g):
    """bf16 on a GPU (tensor cores; the result is approximate anyway), at least float32 on the CPU (float64 stays
    float64, for checks)."""
    return torch.bfloat16 if g.is_cuda else torch.promote_types(g.dtype, torch.float32)


def orthogonalize(g, steps=3, eps=1e-7):
    """Approximately U V^T for the matrix g = U S V^T, or for each matrix of a batch (n, rows, cols); in g's dtype,
    computed in working_dtype(g)."""
    a, b, c = NS_COEFFICIENTS
    x = g.to(working_dtype(g))
    x = x if g.ndim == 3 else x.unsqueeze(0)
    x = x / (x.norm(dim=(1, 2), keepdim=True) + eps)   # every singular value now <= 1, where the iteration works
    tall = x.size(1) > x.size(2)
    if tall:                                           # iterate on the small Gram matrix X X^T
        x = x.mT
    for _ in range(steps):                             # x <- a x + (b G + c G^2) x, with G = x x^T: 3 calls
        gram = x @ x.mT
        x = torch.baddbmm(x, torch.baddbmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    x = x.mT if tall else x
    return (x if g.ndim == 3 else x[0]).to(g.dtype)


def orthogonalize_padded(tensors, steps=3):
    """orthogonalize() of tensors of any shapes (as matrices: first dim the rows) in one batch, as views shaped as
    the tensors, in working_dtype. Each matrix, turned wide, is zero-padded to the largest; zero rows and columns
    stay zero through the iteration, so each result is its own matrix's up to rounding. A few large kernels instead
    of a batch per shape: cheaper where a step waits on launches (a GPU), dearer where it waits on arithmetic."""
    sizes = [(len(t), t[0].numel()) for t in tensors]
    rows = max(min(size) for size in sizes)
    cols = max(max(size) for size in sizes)

    def block(batch, k):   # matrix k: the top-left corner of its slice, transposed if it is tall
        r, c = sizes[k]
        return (batch[k, :r, :c] if r <= c else batch[k, :c, :r].mT).view(tensors[k].shape)

    batch = tensors[0].new_zeros(len(tensors), rows, cols, dtype=working_dtype(tensors[0]))
    for k, t in enumerate(tensors):
        block(batch, k).copy_(t)
    result = orthogonalize(batch, steps)   # already in working_dtype, where it stays
    return [block(result, k) for k in range(len(tensors))]


class Muon(torch.optim.Optimizer):
    """Momentum (Nesterov by default), then an orthogonalised step of size lr for each parameter of ndim >= 2.

    Each filter bank is rescaled to Frobenius norm sqrt(out channels) before its step: a BatchNorm follows
    every conv, so the scale carries no information, and fixing it keeps lr the angle moved per step (this
    replaces weight decay).
    """

    def __init__(self, params, lr, momentum=0.6, nesterov=True, ns_steps=3, one_batch=False):
        # one_batch: all banks of a group in one orthogonalize_padded call, not one batch per shape
        super().__init__(params, dict(lr=lr, momentum=momentum, nesterov=nesterov, ns_steps=ns_steps,
                                      one_batch=one_batch))

    @torch.no_grad()
    def step(self):
        # The list ops (torch._foreach_*, as torch.optim's own optimizers use) and batched orthogonalisations
        # (one per filter shape, or one in all) keep the launches per step few: a short GPU run waits on launches
        # as much as on maths.
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            bufs = [self._momentum_buffer(p) for p in params]
            torch._foreach_mul_(bufs, group["momentum"])
            torch._foreach_add_(bufs, grads)
            updates = torch._foreach_add(grads, bufs, alpha=group["momentum"]) if group["nesterov"] else bufs
            # each bank to norm sqrt(out channels), as the class docstring says why; one pass over the weights
            scales = torch._foreach_reciprocal(torch._foreach_norm(params))
            torch._foreach_mul_(scales, [len(p) ** 0.5 for p in params])
            torch._foreach_mul_(params, scales)
            if group["one_batch"]:
                torch._foreach_add_(params, orthogonalize_padded(updates, group["ns_steps"]), alpha=-group["lr"])
                continue
            for same_shape in _indices_by_shape(params):
                batch = torch.stack([updates[i].flatten(1) for i in same_shape])
                steps = orthogonalize(batch, group["ns_steps"]).view(len(same_shape), *params[same_shape[0]].shape)
                torch._foreach_add_([params[i] for i in same_shape], steps.unbind(), alpha=-group["lr"])

    def _momentum_buffer(self, p):
        state = self.state[p]
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = torch.zeros_like(p)
        return state["momentum_buffer"]


def _indices_by_shape(tensors):
    """The tensors' positions grouped by shape, in order of first appearance."""
    groups = {}
    for i, t in enumerate(tensors):
        groups.setdefault(tuple(t.shape), []).append(i)
    return list(groups.values())
