"""The p2 network: shapes for every preset, and the whitening stem really whitens."""
import pytest
import torch

from config import PRESETS, Config
from model import build_model, count_parameters


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_each_preset_gives_logits_of_shape_n_by_10(preset):
    torch.manual_seed(0)
    model = build_model(PRESETS[preset]).eval()
    with torch.no_grad():
        assert model(torch.randn(3, 3, 32, 32)).shape == (3, 10)
    assert count_parameters(model) > 100_000


def test_whitening_decorrelates_patches():
    torch.manual_seed(0)
    # Strongly correlated inputs: neighbouring pixels and channels share most of their value.
    base = torch.randn(256, 1, 33, 33)
    images = (base[..., 1:, 1:] + 0.3 * base[..., :-1, :-1]).repeat(1, 3, 1, 1) + 0.1 * torch.randn(256, 3, 32, 32)
    stem = build_model(Config(widths=(8, 8, 8))).whiten
    stem.fit(images, eps=0.0)
    with torch.no_grad():
        out = stem(images)[:, :stem.out_channels // 2]          # the + half; the - half is its mirror
    feats = out.permute(0, 2, 3, 1).reshape(-1, out.shape[1])
    cov = torch.cov(feats.T)
    assert torch.allclose(cov, torch.eye(len(cov)), atol=0.05)
    assert torch.equal(stem.weight[:12], -stem.weight[12:])
    assert not stem.weight.requires_grad and stem.bias.requires_grad


def test_config_round_trip_and_unknown_fields():
    cfg = PRESETS["gpu-best"]
    assert Config.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown config field"):
        Config.from_dict({"widthz": [1, 2, 3]})
    assert cfg.override(epochs=3.0, batch_size=None).epochs == 3.0


def test_frozen_scale_batch_norm_trains_only_its_bias():
    model = build_model(Config(widths=(8, 8, 8), bn_scale=False))
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and all(not n.weight.requires_grad and n.bias.requires_grad for n in norms)
    assert all(torch.equal(n.weight, torch.ones_like(n.weight)) for n in norms)
    default = build_model(Config(widths=(8, 8, 8)))
    assert all(m.weight.requires_grad for m in default.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_dirac_init_passes_the_first_channels_through():
    torch.manual_seed(0)
    model = build_model(Config(widths=(32, 48, 48), dirac_init=True))
    convs = [m for m in model.body.modules() if isinstance(m, torch.nn.Conv2d)]
    x = torch.randn(2, 24, 8, 8)
    first = convs[0]                                     # 24 whitening channels in, 32 out
    with torch.no_grad():
        assert torch.allclose(first(x)[:, :24], x, atol=1e-6)
        assert not torch.allclose(first(x)[:, 24:], torch.zeros(2, 8, 8, 8))   # the rest keep their random init
    for conv in convs[1:]:
        n = conv.in_channels
        assert torch.equal(conv.weight[:n, :, 1, 1], torch.eye(n))
