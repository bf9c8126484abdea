"""bench/p2_ops.py's network variants, which bench/gpu_p2.sh times against the network as it is: each must change
only the speed, never the function (forward and the gradients the optimizers read)."""
import pytest
import torch

from bench import p2_ops
from config import get_preset
from model import build_model


def _net(variant):
    torch.manual_seed(0)
    cfg = get_preset("fast").override(widths=(8, 16, 16))
    model = build_model(cfg).double()
    model.whiten.fit(torch.randn(16, 3, 32, 32, dtype=torch.float64))
    with torch.no_grad():
        model.whiten.bias.normal_()   # a trained bias, not the zeros of a fresh fit
    return p2_ops.VARIANTS[variant](model)


@pytest.mark.parametrize("variant", sorted(set(p2_ops.VARIANTS) - {"as-is"}))
def test_a_variant_computes_the_same_function(variant):
    x = torch.randn(4, 3, 32, 32, dtype=torch.float64)
    nets = [_net("as-is"), _net(variant)]
    outputs = [net(x) for net in nets]
    assert torch.allclose(outputs[0], outputs[1], atol=1e-12)
    for out in outputs:
        out.square().sum().backward()
    grads = [{name.replace("whiten.whiten.", "whiten."): p.grad for name, p in net.named_parameters()
              if p.grad is not None} for net in nets]
    assert grads[0].keys() == grads[1].keys() and "whiten.bias" in grads[0]
    for name, grad in grads[0].items():
        assert torch.allclose(grad, grads[1][name], atol=1e-10), name
