"""bench/muon_variants.py: Muon with every filter bank orthogonalised in one zero-padded batch must take p2's Muon
step (up to rounding), under loss scaling too, and be applied to p2's training only from the bench."""
import pytest
import torch

import train
from bench.muon_variants import OneBatchMuon, one_batch_muon, orthogonalize_padded
from config import get_preset
from model import build_model
from muon import Muon, orthogonalize
from test_p2_optim import muon_and_reference_steps, steps_with_and_without_a_grad_scaler
from torch_support import CPU_SCALER


def test_one_padded_batch_orthogonalises_each_matrix_as_alone():
    torch.manual_seed(0)
    shapes = [(8, 4, 3, 3), (16, 8, 3, 3), (40, 2, 2, 2), (4, 16, 3, 3), (5, 7)]   # (40, 8) is tall
    tensors = [torch.randn(*s, dtype=torch.float64) for s in shapes]
    tensors[1] = tensors[1].contiguous(memory_format=torch.channels_last)
    for t, out in zip(tensors, orthogonalize_padded(tensors)):
        assert out.shape == t.shape and out.dtype == torch.float64
        assert torch.allclose(out, orthogonalize(t.flatten(1)).view_as(t), atol=1e-12)


def test_one_batch_muon_steps_match_the_one_bank_at_a_time_reference():
    for w, r in zip(*muon_and_reference_steps(OneBatchMuon)):
        assert torch.allclose(w, r, atol=1e-10)


@CPU_SCALER
def test_one_batch_muon_under_a_grad_scaler_steps_as_on_the_unscaled_gradients():
    plain, scaled, _ = steps_with_and_without_a_grad_scaler(OneBatchMuon)
    for a, b in zip(plain, scaled):
        assert torch.allclose(a, b, atol=1e-12)


def test_one_batch_muon_patches_p2s_training_only_while_inside():
    cfg = get_preset("fast").override(widths=(8, 16, 16))
    model = build_model(cfg)
    with one_batch_muon():
        _, muon = train.make_optimizers(model, cfg)
        assert type(muon) is OneBatchMuon
    assert train.Muon is Muon and type(train.make_optimizers(model, cfg)[1]) is Muon
    with pytest.raises(RuntimeError), one_batch_muon():
        raise RuntimeError("a failed run")
    assert train.Muon is Muon   # put back after an error too


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_one_padded_batch_on_a_gpu_gives_the_per_shape_step_up_to_bf16_rounding():
    torch.manual_seed(0)
    grads = [torch.randn(*s, device="cuda") for s in [(64, 24, 3, 3), (256, 64, 3, 3), (256, 256, 3, 3)]]
    for g, out in zip(grads, orthogonalize_padded(grads)):
        reference = orthogonalize(g.flatten(1)).view_as(g)
        assert out.dtype == torch.bfloat16
        assert (out.float() - reference).norm() <= 0.05 * reference.norm()   # bf16: a few roundings apart
