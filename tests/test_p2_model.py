"""The p2 network: shapes for every preset, and the whitening stem really whitens."""
import pytest
import torch

from config import PRESETS, Config, parse_setting, warmup_steps
from layer_table import total_params
from model import GlobalMaxPool, build_model


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_each_preset_gives_logits_of_shape_n_by_10(preset):
    torch.manual_seed(0)
    model = build_model(PRESETS[preset]).eval()
    with torch.no_grad():
        assert model(torch.randn(3, 3, 32, 32)).shape == (3, 10)
    assert total_params(model) > 100_000


def test_whitening_decorrelates_patches():
    torch.manual_seed(0)
    # Strongly correlated inputs: neighbouring pixels and channels share most of their value; not centred on 0.
    base = torch.randn(256, 1, 33, 33)
    images = (base[..., 1:, 1:] + 0.3 * base[..., :-1, :-1]).repeat(1, 3, 1, 1) + 0.1 * torch.randn(256, 3, 32, 32)
    images = images + torch.tensor([3.0, -1.0, 0.5])[:, None, None]
    stem = build_model(Config(widths=(8, 8, 8))).whiten
    stem.fit(images, eps=0.0)
    with torch.no_grad():
        out = stem(images)[:, :stem.out_channels // 2]          # the + half; the - half is its mirror
    feats = out.permute(0, 2, 3, 1).reshape(-1, out.shape[1])
    cov = torch.cov(feats.T)
    assert torch.allclose(cov, torch.eye(len(cov)), atol=0.05)
    assert torch.equal(stem.weight[:12], -stem.weight[12:])
    assert not stem.weight.requires_grad and stem.bias.requires_grad
    assert torch.count_nonzero(stem.bias) == 0   # not nn.Conv2d's random start: it learns from 0


def test_config_round_trip_and_unknown_fields():
    cfg = PRESETS["best"]
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


def test_residual_group_adds_its_first_block_to_its_last():
    torch.manual_seed(0)
    plain = build_model(Config(widths=(8, 8, 8), convs_per_group=3)).eval()
    residual = build_model(Config(widths=(8, 8, 8), convs_per_group=3, residual=True)).eval()
    residual.load_state_dict(plain.state_dict())         # same parameters, same names: old model files still load
    x = torch.randn(2, 24, 16, 16)
    for a, b in zip(plain.body[1:], residual.body[1:]):
        with torch.no_grad():
            first = b.layers[:4](x)   # conv, pool, BN, GELU: counted here, not read from ConvGroup.FIRST_BLOCK
            assert torch.allclose(b(x), a(x) + first, atol=1e-6)
        x = a(x)
    single = build_model(Config(widths=(8, 8, 8), convs_per_group=1, residual=True))
    assert not any(g.residual for g in single.body[1:])   # nothing to skip over in a one-conv group


def test_global_max_pool_on_a_cpu_takes_each_channels_maximum_and_sends_it_the_whole_gradient():
    torch.manual_seed(0)
    x = torch.randn(4, 8, 3, 3, dtype=torch.float64, requires_grad=True)
    largest, where = x.detach().flatten(2).max(2)
    ours = GlobalMaxPool()(x)
    assert torch.equal(ours, largest)
    weights = torch.randn(4, 8, dtype=torch.float64)
    (ours * weights).sum().backward()
    expected = torch.zeros(4, 8, 9, dtype=torch.float64).scatter_(2, where[..., None], weights[..., None])
    assert torch.equal(x.grad, expected.view(4, 8, 3, 3))
    tied = torch.zeros(1, 1, 2, 2, requires_grad=True)   # a four-way tie: one position gets all of it
    GlobalMaxPool()(tied).sum().backward()
    assert sorted(tied.grad.flatten().tolist()) == [0.0, 0.0, 0.0, 1.0]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_global_max_pool_on_a_gpu_is_a_reduction_that_splits_ties():
    x = torch.randn(4, 8, 3, 3, device="cuda")
    assert torch.equal(GlobalMaxPool()(x), x.flatten(2).max(2).values)
    tied = torch.zeros(1, 1, 2, 2, device="cuda", requires_grad=True)   # four-way tie: each position a quarter
    GlobalMaxPool()(tied).sum().backward()
    assert torch.equal(tied.grad.cpu(), torch.full((1, 1, 2, 2), 0.25))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_global_max_pool_compiled_on_a_gpu_gives_finite_gradients():
    """Compiled, the reduction's backward gave NaN on an H100 (torch 2.11); the adaptive pool does not."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.BatchNorm2d(32), torch.nn.GELU(),
                              GlobalMaxPool()).cuda().to(memory_format=torch.channels_last)
    x = torch.randn(64, 16, 3, 3, device="cuda").contiguous(memory_format=torch.channels_last)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = torch.compile(net)(x)
    out.float().square().sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters())


@pytest.mark.parametrize("text, expected", [
    ("epochs=12", ("epochs", 12.0)), ("batch-size=500", ("batch_size", 500)), ("residual=false", ("residual", False)),
    ("lookahead=ON", ("lookahead", True)), ("widths=96, 256,256", ("widths", (96, 256, 256))),
    ("logit_scale=1/256", ("logit_scale", 1 / 256)), ("tta=flip", ("tta", "flip")), (" lr = 0.5 ", ("lr", 0.5)),
])
def test_a_setting_is_typed_like_its_field(text, expected):
    name, value = parse_setting(text)
    assert (name, value) == expected and type(value) is type(expected[1])
    assert getattr(PRESETS["fast"].override(**{name: value}), name) == value


@pytest.mark.parametrize("text, words", [("lr=nan", "lr takes a number"), ("lr=inf", "lr takes a number"),
                                         ("label_smoothing=1", "label_smoothing must be less than 1"),
                                         ("epochs=", "expected FIELD=VALUE")])
def test_settings_that_cannot_run_are_refused(text, words):
    with pytest.raises(ValueError, match=words):
        parse_setting(text)


@pytest.mark.parametrize("text, expected", [("translate=31", 31), ("cutout=31", 31), ("tta_fraction=1", 1.0),
                                            ("warmup_frac=1", 1.0), ("widths=4096,8,8", (4096, 8, 8))])
def test_the_limits_themselves_are_allowed(text, expected):
    assert parse_setting(text)[1] == expected


def test_no_warmup_asked_for_is_still_one_step():
    assert warmup_steps(0.0, 100) == 1
