"""muon.py and the recipe's optimiser set-up: orthogonalised updates, Muon's step, the lookahead average."""
import inspect

import pytest
import torch

from config import PRESETS
from model import build_model
from muon import NS_COEFFICIENTS, Muon, orthogonalize, orthogonalize_by_shape
from precision import DTYPES, Precision
from train import Lookahead, lr_schedules, make_optimizers, newton_schulz_dtype, start_momentum_at_zero
from torch_support import CPU_SCALER


@pytest.mark.parametrize("shape", [(32, 144), (144, 32)])
def test_newton_schulz_gives_a_near_orthogonal_matrix_close_to_the_polar_factor(shape):
    torch.manual_seed(0)
    g = torch.randn(*shape)
    out = orthogonalize(g)
    assert out.shape == g.shape and out.dtype == g.dtype
    singular = torch.linalg.svdvals(out)
    assert singular.min() > 0.6 and singular.max() < 1.3      # every direction moves at about the same rate
    u, _, vh = torch.linalg.svd(g, full_matrices=False)
    polar = u @ vh
    cosine = (out * polar).sum() / (out.norm() * polar.norm())
    assert cosine > 0.97


def test_muon_step_renormalises_the_filters_then_steps_along_the_orthogonalised_gradient():
    torch.manual_seed(0)
    w = torch.nn.Parameter(3 * torch.randn(8, 4, 3, 3))
    w.grad = torch.randn_like(w)
    before, grad = w.detach().clone(), w.grad.clone()
    Muon([w], lr=0.1, momentum=0.0).step()
    expected = before * (8 ** 0.5 / before.norm()) - 0.1 * orthogonalize(grad.flatten(1)).view_as(w)
    assert torch.allclose(w.detach(), expected, atol=1e-6)


@pytest.mark.parametrize("shape", [(12, 30), (30, 12)])
def test_newton_schulz_is_the_quintic_iteration_on_the_normalised_matrix(shape):
    torch.manual_seed(0)
    g = torch.randn(*shape, dtype=torch.float64)
    a, b, c = NS_COEFFICIENTS
    x = g / g.norm()
    for _ in range(3):   # the odd polynomial a x + b x^3 + c x^5 of the singular values, written out
        x = a * x + b * x @ x.T @ x + c * x @ x.T @ x @ x.T @ x
    assert torch.allclose(orthogonalize(g), x, atol=1e-6)


def test_a_batch_of_matrices_is_orthogonalised_one_by_one():
    torch.manual_seed(0)
    g = torch.randn(3, 16, 40, dtype=torch.float64)
    batched = orthogonalize(g)
    assert batched.dtype == torch.float64
    for k in range(3):
        assert torch.allclose(batched[k], orthogonalize(g[k]), atol=1e-12)


def _reference_muon_step(params, buffers, lr, momentum):
    """Muon one filter bank at a time, as its docstring describes it: the batched step must match this."""
    for p, buf in zip(params, buffers):
        buf.mul_(momentum).add_(p.grad)
        update = p.grad + momentum * buf
        p.mul_(len(p) ** 0.5 / p.norm())
        p.sub_(lr * orthogonalize(update.flatten(1)).view_as(p))


def muon_and_reference_steps(muon_class=Muon):
    """Three steps of `muon_class` on filter banks of several shapes (one channels-last, as the model stores them),
    and the same steps one bank at a time (_reference_muon_step): (Muon's weights, the reference's)."""
    torch.manual_seed(0)
    shapes = [(8, 4, 3, 3), (16, 8, 3, 3), (8, 4, 3, 3), (4, 16, 3, 3), (16, 8, 3, 3)]
    weights = [torch.nn.Parameter(torch.randn(*s, dtype=torch.float64)) for s in shapes]
    weights[1].data = weights[1].data.to(memory_format=torch.channels_last)
    reference = [w.detach().clone() for w in weights]
    buffers = [torch.zeros_like(w) for w in reference]
    muon = muon_class(weights, lr=0.1, momentum=0.6)
    for _ in range(3):
        grads = [torch.randn_like(w) for w in reference]
        for w, r, g in zip(weights, reference, grads):
            w.grad, r.grad = g.clone(), g.clone()
        muon.step()
        _reference_muon_step(reference, buffers, lr=0.1, momentum=0.6)
    return [w.detach() for w in weights], reference


def test_batched_muon_steps_match_the_one_bank_at_a_time_reference():
    for w, r in zip(*muon_and_reference_steps()):
        assert torch.allclose(w, r, atol=1e-10)


def _scaled_muon_pair(muon_class=Muon):
    """Two copies of the same weights, each with its own `muon_class`: (plain, scaled, plain's, scaled's)."""
    torch.manual_seed(0)
    shapes = [(8, 4, 3, 3), (16, 8, 3, 3), (8, 4, 3, 3)]
    plain = [torch.nn.Parameter(torch.randn(*s, dtype=torch.float64)) for s in shapes]
    scaled = [torch.nn.Parameter(w.detach().clone()) for w in plain]
    return plain, scaled, muon_class(plain, lr=0.1), muon_class(scaled, lr=0.1)


def _scaled_backward(scaler, weights, grads):
    """Gradients `grads` for `weights`, as a loss scaled by `scaler` leaves them (multiplied by its scale)."""
    for w in weights:
        w.grad = None
    scaler.scale(sum((w * g).sum() for w, g in zip(weights, grads))).backward()


def steps_with_and_without_a_grad_scaler(muon_class=Muon):
    """Three steps of `muon_class` on the same gradients, plain and as a float16 run hands them (still multiplied by
    the loss scale, and the scale as a tensor): (the plain weights, the scaled run's, the scaled run's optimizer)."""
    plain, scaled, muon, scaled_muon = _scaled_muon_pair(muon_class)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 10)
    for _ in range(3):
        for a in plain:
            a.grad = torch.randn_like(a)
        _scaled_backward(scaler, scaled, [a.grad for a in plain])
        assert torch.equal(scaled[0].grad, plain[0].grad * 2.0 ** 10)
        muon.step()
        scaler.step(scaled_muon)
        scaler.update()
    return plain, scaled, scaled_muon


@CPU_SCALER
def test_muon_under_a_grad_scaler_steps_as_on_the_unscaled_gradients():
    plain, scaled, scaled_muon = steps_with_and_without_a_grad_scaler()
    for a, b in zip(plain, scaled):
        assert torch.allclose(a, b, atol=1e-12)
    assert not hasattr(scaled_muon, "grad_scale") and not hasattr(scaled_muon, "found_inf")   # the scaler's, per step


@CPU_SCALER
@pytest.mark.parametrize("bad", [float("inf"), float("nan")])
def test_a_step_whose_gradients_overflowed_leaves_no_trace(bad):
    _, weights, _, muon = _scaled_muon_pair()
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 10)
    _scaled_backward(scaler, weights, [torch.randn_like(w) for w in weights])
    scaler.step(muon)        # one good step: the momentum buffers are no longer zero
    scaler.update()
    before = [t.detach().clone() for w in weights for t in (w, muon.state[w]["momentum_buffer"])]
    grads = [torch.randn_like(w) for w in weights]
    grads[1][0, 0, 0, 0] = bad
    _scaled_backward(scaler, weights, grads)
    scaler.step(muon)
    scaler.update()
    after = [t for w in weights for t in (w.detach(), muon.state[w]["momentum_buffer"])]
    assert all(torch.equal(a, b) for a, b in zip(before, after))
    assert scaler.get_scale() == 2.0 ** 9          # and the scaler backed off


@CPU_SCALER
def test_the_scaler_hands_muon_its_overflow_check_on_the_device(monkeypatch):
    # The scaler's general path reads each optimizer's overflow flag with .item(): a wait for the GPU every step.
    def reads_on_the_host(*args, **kwargs):
        raise AssertionError("GradScaler read Muon's overflow check on the host")

    monkeypatch.setattr(torch.amp.GradScaler, "_maybe_opt_step", reads_on_the_host)
    _, weights, _, muon = _scaled_muon_pair()
    scaler = torch.amp.GradScaler("cpu")
    _scaled_backward(scaler, weights, [torch.randn_like(w) for w in weights])
    scaler.step(muon)
    scaler.update()


def test_recipe_optimisers_cover_each_trainable_parameter_once():
    cfg = PRESETS["fast"].override(widths=(8, 16, 16))
    model = build_model(cfg)
    sgd, muon = make_optimizers(model, cfg)
    muon_params = [p for g in muon.param_groups for p in g["params"]]
    sgd_params = [p for g in sgd.param_groups for p in g["params"]]
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert len(muon_params) + len(sgd_params) == len(trainable)
    assert {id(p) for p in muon_params + sgd_params} == {id(p) for p in trainable}
    assert all(p.ndim == 4 for p in muon_params) and all(p.ndim < 4 for p in sgd_params)
    whiten_group = next(g for g in sgd.param_groups if g["schedule"] == "whiten")
    assert whiten_group["params"] == [model.whiten.bias]
    assert [g["ns_dtype"] for g in muon.param_groups] == [None]   # on a CPU: float32, whatever the precision
    assert all(torch.equal(sgd.state[p]["momentum_buffer"], torch.zeros_like(p)) for p in sgd_params)


def _sgd_steps(fused, monkeypatch):
    """Three steps of a Nesterov SGD under float16 loss scaling, the first skipped (an overflowed gradient); the
    momentum started at zero as make_optimizers starts it. Memory torch.empty_like hands out is made to hold NaN,
    as reused GPU memory may."""
    monkeypatch.setattr(torch, "empty_like", lambda t, **kw: torch.full_like(t, float("nan"), **kw))
    weight = torch.nn.Parameter(torch.linspace(-1, 1, 64))
    sgd = torch.optim.SGD([weight], lr=0.1, momentum=0.85, nesterov=True, **({"fused": True} if fused else {}))
    start_momentum_at_zero(sgd)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 10)
    for step in range(3):
        weight.grad = None
        scaler.scale((weight * (float("inf") if step == 0 else step)).sum()).backward()
        scaler.step(sgd)
        scaler.update()
    return weight.detach()


@CPU_SCALER
@pytest.mark.skipif("fused" not in inspect.signature(torch.optim.SGD).parameters, reason="fused SGD needs torch 2.3")
def test_fused_sgd_whose_first_step_is_skipped_steps_as_the_plain_one(monkeypatch):
    # On a GPU the recipe's SGD is torch's fused one; its CPU kernel takes the same steps
    plain = _sgd_steps(False, monkeypatch)
    assert torch.isfinite(plain).all() and torch.equal(_sgd_steps(True, monkeypatch), plain)


@pytest.mark.parametrize("name", ["bf16", "fp16", "fp32"])
def test_newton_schulz_runs_in_the_runs_dtype_on_a_gpu_and_in_float32_on_a_cpu(name):
    # --precision fp32 on a card without bf16 (a T4) must not put Muon's iteration in an emulated bf16
    precision = Precision(name, "asked for with --precision")
    assert newton_schulz_dtype(precision, on_gpu=True) == DTYPES[name]
    assert newton_schulz_dtype(precision, on_gpu=False) is None
    assert newton_schulz_dtype(None, on_gpu=True) is None   # no precision given: Muon's own choice


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_newton_schulz_in_a_16_bit_dtype_gives_the_float32_step_up_to_rounding(dtype):
    # a GPU without bf16 runs Muon's iteration in float16: it must stay finite and close to float32's
    torch.manual_seed(0)
    grads = [torch.randn(*s) for s in [(16, 8, 3, 3), (32, 16, 3, 3)]]
    for g, low in zip(grads, orthogonalize_by_shape(grads, dtype=dtype)):
        reference = orthogonalize(g.flatten(1)).view_as(g)
        assert low.dtype == torch.float32 and torch.isfinite(low).all()
        assert (low - reference).norm() <= 0.05 * reference.norm()


def test_whitening_bias_schedule_reaches_zero_and_stays_there():
    schedules = lr_schedules(total_steps=20, warmup_frac=0.0, whiten_steps=6)
    assert schedules["whiten"][0] == 1.0 and schedules["whiten"][6:] == [0.0] * 15
    assert schedules["main"][0] == 1.0 and schedules["main"][-1] == 0.0
    assert lr_schedules(20, 0.0, 0)["whiten"] == schedules["main"]


def test_lookahead_finishes_at_the_slow_average():
    model = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    lookahead = Lookahead(model, total_steps=10, every=5)
    with torch.no_grad():
        model.weight.fill_(1.0)
    lookahead.update(model, 5)                       # decay 0.95^5 * (1/2)^3: pulled most of the way to 1
    decay = 0.95 ** 5 / 8
    assert torch.allclose(model.weight, torch.full((1, 2), 1 - decay))
    with torch.no_grad():
        model.weight.fill_(5.0)
    lookahead.update(model, 10)                      # the last step, a pull: finish leaves the slow copy as it is
    slow = (1 - decay) + (5.0 - (1 - decay)) * (1 - 0.95 ** 5)
    lookahead.finish(model)
    assert torch.allclose(model.weight, torch.full((1, 2), slow))


@pytest.mark.parametrize("steps", [3, 7])
def test_lookahead_finish_pulls_in_the_steps_since_the_last_pull(steps):
    model = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    lookahead = Lookahead(model, total_steps=steps, every=5)
    for step in range(1, steps + 1):
        with torch.no_grad():
            model.weight.fill_(float(step))           # the fast weights after each step
        lookahead.update(model, step)
    lookahead.finish(model)
    assert model.weight.min() > 0 and torch.equal(model.weight, lookahead.slow["weight"])   # never the initial 0


def test_muon_divides_by_a_grad_scale_that_changes_between_steps():
    # the GPU's float16 path: GradScaler hands its scale to the optimizer (grad_scale), which must divide by it
    torch.manual_seed(0)
    plain_weights = [torch.nn.Parameter(torch.randn(8, 4, 3, 3, dtype=torch.float64))]
    scaled_weights = [torch.nn.Parameter(plain_weights[0].detach().clone())]
    plain, scaled = Muon(plain_weights, lr=0.1), Muon(scaled_weights, lr=0.1)
    for scale in (1024.0, 2.0):
        grad = torch.randn_like(plain_weights[0])
        plain_weights[0].grad, scaled_weights[0].grad = grad.clone(), grad * scale
        scaled.grad_scale = torch.tensor(scale, dtype=torch.float64)
        plain.step()
        scaled.step()
    assert torch.allclose(plain_weights[0], scaled_weights[0], atol=1e-9)
