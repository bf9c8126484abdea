"""bench/cuda_graph.py: Muon's step replayed from a CUDA graph, applied from the bench to p2's training without a
config field of p2's. The replay tests need CUDA (skipped elsewhere); the wrapper's patch and the learning rate read
from a tensor are checked everywhere."""
import pytest
import torch

import train
from bench import cuda_graph
from bench.cuda_graph import GraphedStep, graph_muons, graphed_muon, lr_from_tensors
from bench.muon_variants import OneBatchMuon
from config import get_preset
from model import build_model
from muon import Muon

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def _tiny_model(device="cpu"):
    torch.manual_seed(0)
    return build_model(get_preset("fast").override(widths=(8, 16, 16))).to(device)


def test_graphed_muon_patches_p2s_training_only_while_inside():
    real = train.make_muon_optimizers
    cfg = get_preset("fast").override(widths=(8, 16, 16))
    with graphed_muon():
        assert train.make_muon_optimizers is not real
        sgd, muon = train.make_optimizers(_tiny_model(), cfg)
        assert isinstance(muon, Muon)   # on a CPU: no CUDA graphs, Muon's ordinary step
        assert all("initial_lr" in g for g in muon.param_groups)
    assert train.make_muon_optimizers is real
    with pytest.raises(RuntimeError), graphed_muon():
        raise RuntimeError("a failed run")
    assert train.make_muon_optimizers is real   # put back after an error too


def test_graph_muons_leaves_other_optimizers_and_cpu_muons_alone():
    weights = [torch.nn.Parameter(torch.randn(8, 4, 3, 3))]
    sgd, muon = torch.optim.SGD(weights, lr=0.1), Muon(weights, lr=0.1)
    assert graph_muons([sgd, muon]) == [sgd, muon]


@pytest.mark.parametrize("muon_class", [Muon, OneBatchMuon])
def test_a_muon_step_reads_its_lr_from_a_tensor_as_from_a_number(muon_class):
    # A CUDA graph replays the constants it was captured with: GraphedStep captures Muon's step inside
    # lr_from_tensors, and each replay reads the step's lr from the tensor.
    torch.manual_seed(0)
    shapes = [(8, 4, 3, 3), (16, 8, 3, 3), (8, 4, 3, 3)]
    as_number = [torch.nn.Parameter(torch.randn(*s, dtype=torch.float64)) for s in shapes]
    as_tensor = [torch.nn.Parameter(w.detach().clone()) for w in as_number]
    by_number, by_tensor = muon_class(as_number, lr=0.1), muon_class(as_tensor, lr=0.1)
    lr = torch.tensor(0.1, dtype=torch.float64)
    for step in range(3):
        for a, b in zip(as_number, as_tensor):
            a.grad = torch.randn_like(a)
            b.grad = a.grad.clone()
        by_number.param_groups[0]["lr"] = 0.1 / (step + 1)
        by_number.step()
        lr.fill_(0.1 / (step + 1))   # what GraphedStep does before each replay
        with lr_from_tensors(by_tensor, [lr]):
            by_tensor.step()
        assert by_tensor.param_groups[0]["lr"] == 0.1 and "orthogonalized" not in vars(by_tensor)   # as it was
    for a, b in zip(as_number, as_tensor):
        assert torch.allclose(a, b, atol=1e-12)


def test_lr_from_tensors_puts_back_an_override_the_optimizer_already_had():
    muon = Muon([torch.nn.Parameter(torch.randn(4, 2, 3, 3))], lr=0.1)
    own = muon.orthogonalized = lambda updates, group: updates   # set on the instance before
    with lr_from_tensors(muon, [torch.tensor(0.1)]):
        assert muon.orthogonalized is not own
    assert muon.orthogonalized is own and muon.param_groups[0]["lr"] == 0.1


@CUDA
@pytest.mark.parametrize("muon_class", [Muon, OneBatchMuon])
def test_a_muon_step_replayed_from_a_cuda_graph_is_the_eager_step(muon_class):
    torch.manual_seed(0)
    shapes = [(64, 24, 3, 3), (256, 64, 3, 3), (256, 256, 3, 3), (256, 256, 3, 3)]
    eager = [torch.nn.Parameter(torch.randn(*s, device="cuda")) for s in shapes]
    graphed = [torch.nn.Parameter(w.detach().clone()) for w in eager]
    optimizers = [muon_class(eager, lr=0.1), GraphedStep(muon_class(graphed, lr=0.1))]
    for step in range(7):   # three warm-up steps, the capture (then its replay), three replays
        grads = [torch.randn(*s, device="cuda") for s in shapes]
        for weights, optimizer in zip((eager, graphed), optimizers):
            for w, g in zip(weights, grads):
                w.grad = g.clone()
            optimizer.param_groups[0]["lr"] = 0.1 / (step + 1)   # each replay must read the step's own lr
            optimizer.step()
        if step >= 3:   # captured; the capture put back what the training loop had set: the lr and the gradients
            assert isinstance(optimizers[1].param_groups[0]["lr"], float)
            assert "orthogonalized" not in vars(optimizers[1].optimizer)   # the class's own again
            assert not any(w.grad is buffer for w, buffer in zip(graphed, optimizers[1].grads))
    assert optimizers[1].graph is not None
    for a, b in zip(eager, graphed):
        assert (a - b).norm() <= 1e-3 * a.norm()   # the lr multiplies a bf16 step before, not inside, the add


@CUDA
def test_a_graphed_step_refuses_a_parameter_without_a_gradient():
    weights = [torch.nn.Parameter(torch.randn(8, 4, 3, 3, device="cuda")) for _ in range(2)]
    optimizer = GraphedStep(Muon(weights, lr=0.1), warmup=0)
    weights[0].grad = torch.randn_like(weights[0])
    with pytest.raises(RuntimeError, match="needs a gradient for every parameter"):
        optimizer.step()


@CUDA
def test_inside_graphed_muon_p2s_muon_on_a_gpu_is_graphed():
    with graphed_muon():
        _, muon = train.make_optimizers(_tiny_model("cuda"), get_preset("fast").override(widths=(8, 16, 16)))
    assert isinstance(muon, cuda_graph.GraphedStep) and isinstance(muon.optimizer, Muon)
