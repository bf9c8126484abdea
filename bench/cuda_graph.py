"""An optimizer's step replayed from a CUDA graph, for the bench only (p2 itself never graphs its optimizer).
Muon's step is about a hundred small kernels; on a GPU the host launches them one by one, slower than the GPU runs
them, so the step waits on the host. Replayed from a graph, the whole step is one launch (plus a copy of the
gradients and the learning rates). The capture follows PyTorch's CUDA graph notes (warm-up on a side stream,
static input buffers copied into before each replay): https://pytorch.org/docs/stable/notes/cuda.html#cuda-graphs

    with graphed_muon():      # every Muon that p2's train.make_muon_optimizers makes on a GPU is a GraphedStep
        train(...)
"""
import contextlib
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "andrewID-HW1", "p2"))
import train as p2_train  # noqa: E402
from muon import Muon  # noqa: E402


@contextlib.contextmanager
def lr_from_tensors(muon, lrs):
    """While inside, `muon`'s step reads each group's learning rate from its one-element tensor in `lrs`, so that a
    CUDA graph captured inside reads it at each replay. Muon steps by -group["lr"] times its orthogonalized() steps,
    a number a graph would bake in: inside, group["lr"] is held at 1 and orthogonalized() multiplies the steps by
    the tensor. The override is set on this one optimizer, whichever Muon class it is (p2's, or bench/
    muon_variants.py's OneBatchMuon), and only while inside."""
    numbers = [group["lr"] for group in muon.param_groups]
    tensor_of = {id(group): lr for group, lr in zip(muon.param_groups, lrs)}
    orthogonalized, own = muon.orthogonalized, vars(muon).get("orthogonalized")   # own: an instance's override

    def scaled_by_lr_tensor(updates, group):
        return torch._foreach_mul(orthogonalized(updates, group), tensor_of[id(group)])

    muon.orthogonalized = scaled_by_lr_tensor
    for group in muon.param_groups:
        group["lr"] = 1.0
    try:
        yield
    finally:
        if own is None:
            del muon.orthogonalized   # the class's own again
        else:
            muon.orthogonalized = own
        for group, lr in zip(muon.param_groups, numbers):
            group["lr"] = lr


class GraphedStep:
    """`optimizer` (a p2 Muon) with its first `warmup` steps run as they are, the next one captured once as a CUDA
    graph, and every step from then on replayed from it.

    A graph replays the same kernels on the same memory with the same constants. So each step first copies the
    gradients into the buffers the graph reads, and each group's learning rate into a one-element tensor, which the
    captured step reads (lr_from_tensors). Every parameter must have a gradient at every step.
    """

    def __init__(self, optimizer, warmup=3):
        self.optimizer, self.warmup, self.steps_done = optimizer, warmup, 0
        self.param_groups = optimizer.param_groups   # set_lrs writes the lr of each step here, as for any optimizer
        self.graph = None

    def zero_grad(self, set_to_none=True):
        self.optimizer.zero_grad(set_to_none=set_to_none)

    @torch.no_grad()
    def step(self):
        if self.graph is None and self.steps_done < self.warmup:
            # cuBLAS workspaces and the optimizer's state are created here, outside the capture; on a side stream,
            # as torch's CUDA graph notes ask of the warm-up before a capture
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                self.optimizer.step()
            torch.cuda.current_stream().wait_stream(side)
        else:
            if self.graph is None:
                self._capture()
            torch._foreach_copy_(self.grads, [p.grad for p in self.params])
            for lr, group in zip(self.lrs, self.param_groups):
                lr.fill_(group["lr"])
            self.graph.replay()
        self.steps_done += 1

    def _capture(self):
        """Record one step (capture runs nothing) that reads the gradients and learning rates from fixed tensors."""
        self.params = [p for group in self.param_groups for p in group["params"]]
        if any(p.grad is None for p in self.params):
            raise RuntimeError("a CUDA-graphed optimizer step needs a gradient for every parameter at every step")
        self.grads = [torch.empty_like(p.grad) for p in self.params]
        self.lrs = [torch.tensor(float(group["lr"]), device=self.params[0].device) for group in self.param_groups]
        grads = [p.grad for p in self.params]
        for p, buffer in zip(self.params, self.grads):
            p.grad = buffer
        graph = torch.cuda.CUDAGraph()
        try:
            with lr_from_tensors(self.optimizer, self.lrs), torch.cuda.graph(graph):
                self.optimizer.step()
            self.graph = graph
        finally:   # the gradients as the training loop left them; the graph keeps its own references
            for p, grad in zip(self.params, grads):
                p.grad = grad


def graph_muons(optimizers):
    """The optimizers with each Muon whose parameters are on a GPU wrapped in a GraphedStep (no CUDA graphs on a
    CPU: there it stays Muon's ordinary step, the same arithmetic)."""
    return [GraphedStep(o) if isinstance(o, Muon) and o.param_groups[0]["params"][0].is_cuda else o
            for o in optimizers]


@contextlib.contextmanager
def graphed_muon(train_module=p2_train):
    """While inside, p2's training (train.train, through train.make_optimizers) gets its Muon as a GraphedStep on a
    GPU; p2's own code and config are untouched."""
    real = train_module.make_muon_optimizers
    train_module.make_muon_optimizers = lambda *args, **kwargs: graph_muons(real(*args, **kwargs))
    try:
        yield
    finally:
        train_module.make_muon_optimizers = real
