"""Muon: SGD momentum whose every update is replaced by the nearest semi-orthogonal matrix, for conv filters.

A conv filter bank (out, in, k, k) is treated as a matrix (out, in*k*k). Its momentum-averaged gradient
G = U S V^T is dominated by a few directions; Muon steps along U V^T instead, so every direction moves at the
same rate. U V^T is approximated by a few Newton-Schulz iterations (matrix products only, fast on tensor cores).
"""
import torch

# Coefficients of the quintic x -> a x + b x^3 + c x^5, chosen to push every singular value in (0, 1] quickly
# towards 1 (to within about +-30 %, which is all Muon needs) rather than to converge exactly.
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def orthogonalize(g, steps=3, eps=1e-7):
    """Approximately U V^T for the matrix g = U S V^T (rows >= or <= columns), in g's dtype.

    Runs in bf16 on a GPU (tensor cores; the result is approximate anyway) and in float32 on the CPU.
    """
    a, b, c = NS_COEFFICIENTS
    x = g.to(torch.bfloat16 if g.is_cuda else torch.float32)
    x = x / (x.norm() + eps)                      # every singular value now <= 1, where the iteration works
    tall = x.shape[0] > x.shape[1]
    if tall:                                      # iterate on the small Gram matrix X X^T
        x = x.T
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return (x.T if tall else x).to(g.dtype)


class Muon(torch.optim.Optimizer):
    """Momentum (Nesterov by default), then an orthogonalised step of size lr for each parameter of ndim >= 2.

    Each filter bank is rescaled to Frobenius norm sqrt(out channels) before its step: a BatchNorm follows
    every conv, so the scale carries no information, and fixing it keeps lr the angle moved per step (this
    replaces weight decay).
    """

    def __init__(self, params, lr, momentum=0.6, nesterov=True, ns_steps=3):
        super().__init__(params, dict(lr=lr, momentum=momentum, nesterov=nesterov, ns_steps=ns_steps))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            momentum = group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p.grad)
                buf = state["momentum_buffer"].mul_(momentum).add_(p.grad)
                g = p.grad.add(buf, alpha=momentum) if group["nesterov"] else buf
                p.mul_(len(p) ** 0.5 / p.norm())
                update = orthogonalize(g.flatten(1), group["ns_steps"]).view_as(p)
                p.add_(update, alpha=-group["lr"])
