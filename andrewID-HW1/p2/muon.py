"""Muon: SGD momentum whose every update is replaced by the nearest semi-orthogonal matrix, for conv filters.

A conv filter bank (out, in, k, k) is treated as a matrix (out, in*k*k). Its momentum-averaged gradient
G = U S V^T is dominated by a few directions; Muon steps along U V^T instead, so every direction moves at the
same rate. U V^T is approximated by a few Newton-Schulz iterations (matrix products only, fast on tensor cores).

Credit: the optimizer is Muon by Keller Jordan et al., "Muon: An optimizer for hidden layers in neural networks"
(2024, kellerjordan.github.io/posts/muon/), including its quintic Newton-Schulz iteration and coefficients. Using
it for the conv filters of a fast CIFAR-10 run, with the filters' norm held fixed, follows airbench94_muon.py in the
airbench code (github.com/KellerJordan/cifar10-airbench; Keller Jordan, arXiv:2404.00498, 2024). The code here is
our own.
"""
import torch

# Coefficients of the quintic x -> a x + b x^3 + c x^5 (the values published with Muon), chosen to push the
# singular values in (0, 1] quickly towards 1 rather than to converge exactly: after 3 iterations those of a random
# matrix lie within about +-30 % of 1, while the smallest of an ill-conditioned update stay well below it, which
# the public recipes found does not hurt training.
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def working_dtype(g, dtype=None):
    """`dtype` if given (one the GPU computes natively: train.newton_schulz_dtype), else bf16 on a GPU (tensor
    cores; the result is approximate anyway), else at least float32 (float64 for checks)."""
    if dtype is not None:
        return dtype
    return torch.bfloat16 if g.is_cuda else torch.promote_types(g.dtype, torch.float32)


def orthogonalize(g, steps=3, eps=1e-7, dtype=None):
    """Approximately U V^T for the matrix g = U S V^T, or for each matrix of a batch (n, rows, cols); in g's dtype,
    computed in working_dtype(g, dtype)."""
    a, b, c = NS_COEFFICIENTS
    x = g.to(working_dtype(g, dtype))
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


def orthogonalize_by_shape(tensors, steps=3, dtype=None):
    """orthogonalize() of tensors of any shapes (as matrices: first dim the rows), a batch per shape; in each
    tensor's own shape and dtype."""
    by_shape = {}
    for k, t in enumerate(tensors):
        by_shape.setdefault(t.shape, []).append(k)
    results = [None] * len(tensors)
    for same in by_shape.values():
        batch = orthogonalize(torch.stack([tensors[k].flatten(1) for k in same]), steps, dtype=dtype)
        for k, matrix in zip(same, batch.unbind()):
            results[k] = matrix.view(tensors[k].shape)
    return results


class Muon(torch.optim.Optimizer):
    """Momentum (Nesterov by default), then an orthogonalised step of size lr for each parameter of ndim >= 2.

    Each filter bank is rescaled to Frobenius norm sqrt(out channels) before its step: a BatchNorm follows every
    conv, so the scale carries no information, and fixing it keeps lr the angle moved per step (no weight decay).
    List ops (torch._foreach_*) and a batch per filter shape keep the launches per step few: a short GPU run waits on
    launches as much as on maths.

    Under float16 loss scaling it takes the scaler's device-side protocol (as torch's fused optimizers do): the
    GradScaler sets `grad_scale` (the gradients are still multiplied by it) and `found_inf` (1 where a gradient
    overflowed: the step must leave no trace) as tensors. The scaler's general path reads found_inf on the host
    instead, which makes the CPU wait for the GPU at every step (the fast recipe's float16 step on an H200: 9.3 ms
    that way, 7.2 ms this way, as fast as bf16).
    """

    _step_supports_amp_scaling = True   # read by torch.amp.GradScaler.step

    def __init__(self, params, lr, momentum=0.6, nesterov=True, ns_steps=3, ns_dtype=None):
        super().__init__(params, dict(lr=lr, momentum=momentum, nesterov=nesterov, ns_steps=ns_steps,
                                      ns_dtype=ns_dtype))
        for p in (p for group in self.param_groups for p in group["params"]):
            self.state[p]["momentum_buffer"] = torch.zeros_like(p)

    def orthogonalized(self, updates, group):
        """Each update orthogonalised (a batch per shape): the steps that lr then scales."""
        return orthogonalize_by_shape(updates, group["ns_steps"], dtype=group["ns_dtype"])

    @torch.no_grad()
    def step(self):
        grad_scale, found_inf = getattr(self, "grad_scale", None), getattr(self, "found_inf", None)
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            if grad_scale is not None:
                grads = torch._foreach_div(grads, grad_scale)
            bufs = [self.state[p]["momentum_buffer"] for p in params]
            before = None if found_inf is None else [t.clone() for t in params + bufs]
            torch._foreach_mul_(bufs, group["momentum"])
            torch._foreach_add_(bufs, grads)
            updates = torch._foreach_add(grads, bufs, alpha=group["momentum"]) if group["nesterov"] else bufs
            # each bank to norm sqrt(out channels), as the class docstring says why; one pass over the weights
            scales = torch._foreach_reciprocal(torch._foreach_norm(params))
            torch._foreach_mul_(scales, [len(p) ** 0.5 for p in params])
            torch._foreach_mul_(params, scales)
            torch._foreach_add_(params, self.orthogonalized(updates, group), alpha=-group["lr"])
            if before is not None:   # an overflowed step undone on the device, with no wait for the host
                skip = found_inf.bool()
                for t, old in zip(params + bufs, before):
                    t.copy_(torch.where(skip, old, t))
