"""The p2 training loop on a small generated set: it learns, it is reproducible, the schedule is a triangle."""
import re

import pytest
import torch

from config import PRESETS, TTAS, Config
from model import build_model
from precision import Precision
from predict import evaluate, least_sure, normalize, predict_logits, predict_logits_per_tta
from progress import TimeEstimate
from train import TrainingDiverged, lr_factor, stop_if_diverged, train
from torch_support import CPU_SCALER

FP32 = Precision("fp32", "the tests' choice")

TINY = Config(widths=(16, 32, 32), epochs=4.0, batch_size=32, lr=0.2, warmup_frac=0.25, tta="flip_translate",
              eval_batch_size=50)


def tiny_data(n=128, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=g)
    colour = (labels[:, None] * 25 + torch.tensor([0, 80, 160])) % 256
    images = colour[:, :, None, None] + 20 * torch.randn(n, 3, 32, 32, generator=g)
    images = images.clamp(0, 255).to(torch.uint8)
    return dict(train_images=images, train_labels=labels, val_images=images[:64], val_labels=labels[:64],
                test_images=images[:64], test_labels=labels[:64])


def fresh_model(cfg, data, seed=0):
    torch.manual_seed(seed)
    model = build_model(cfg)
    model.whiten.fit(normalize(data["train_images"]))
    return model


def test_lr_schedule_warms_up_then_decays_to_zero():
    factors = [lr_factor(s, 100, 0.2) for s in range(100)]
    assert factors[0] == pytest.approx(1 / 20) and max(factors) == 1.0 == factors[19]
    assert all(a <= b for a, b in zip(factors[:20], factors[1:20]))
    assert all(a >= b for a, b in zip(factors[19:], factors[20:]))
    assert lr_factor(100, 100, 0.2) == 0.0 and lr_factor(0, 1, 0.2) == 1.0


def test_a_few_epochs_lower_the_loss():
    data = tiny_data()
    history, seconds = train(fresh_model(TINY, data), TINY, data, torch.device("cpu"), seed=0, log=lambda *a: None,
                             precision=FP32)
    assert len(history) == 4 and seconds > 0
    assert history[-1]["train_loss"] < history[0]["train_loss"] - 0.2
    assert history[-1]["val_acc"] > 0.3
    assert set(history[0]) >= {"epoch", "train_loss", "train_acc", "val_acc", "lr", "seconds", "images_per_s"}


def test_without_validation_images_no_accuracy_is_measured_during_training():
    data = {k: v for k, v in tiny_data().items() if not k.startswith("val_")}
    history, _ = train(fresh_model(TINY, data), TINY.override(epochs=1.0), data, "cpu", seed=0, log=None)
    assert history[0]["val_acc"] is None   # and the device may be named by a string, the precision left to train


@pytest.mark.parametrize("name", ["fp32", "bf16", pytest.param("fp16", marks=CPU_SCALER)])
def test_every_precision_trains_a_few_steps(name):
    # fp16 goes through the GradScaler (loss scaling), as on a GPU without bf16; the CPU runs all three (16-bit
    # ones emulated on most CPUs, so two steps only)
    data = tiny_data(n=64)
    cfg = TINY.override(epochs=1.0)
    model = fresh_model(cfg, data)
    history, _ = train(model, cfg, data, torch.device("cpu"), seed=0, log=None, precision=Precision(name, "test"))
    assert torch.isfinite(torch.tensor(history[0]["train_loss"]))
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in model.parameters())


DEVICES = [pytest.param("cpu", marks=CPU_SCALER)] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_float16_trains_the_muon_recipe_with_loss_scaling(device, monkeypatch):
    # the path of a GPU without bf16: the loss scaled, and Muon and SGD (fused on a GPU) skip an overflowed step on
    # the device. A scale too large for float16 at the start makes some of the first steps overflow: skipped, and
    # the steps between them learn.
    scalers = []

    def too_large_at_first(self, device):
        scalers.append(torch.amp.GradScaler(device.type, init_scale=2.0 ** 20))
        return scalers[-1]

    monkeypatch.setattr(Precision, "grad_scaler", too_large_at_first)
    data = tiny_data(n=32)   # small: float16 is emulated, slowly, on most CPUs
    cfg = TINY.override(widths=(8, 16, 16), batch_size=16, epochs=4.0, optimizer="muon", lr=5.0, alternate_flips=True)
    model = fresh_model(cfg, data).to(device)
    history, _ = train(model, cfg, data, torch.device(device), seed=0, log=None, precision=Precision("fp16", "test"))
    assert scalers[0].get_scale() <= 2.0 ** 18          # backed off at two or more overflowed steps
    assert history[-1]["train_loss"] < 2.2              # below chance's ln 10 = 2.30: the other steps learnt
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in model.parameters())


def test_a_cpu_run_makes_each_epoch_view_in_pieces(monkeypatch):
    # memory: the whole set is never cropped, mirrored and normalised in one piece on a CPU
    import train as train_module
    chunks, real = [], train_module.epoch_view

    def recording(*args, chunk, **kwargs):
        chunks.append(chunk)
        return real(*args, chunk=chunk, **kwargs)

    monkeypatch.setattr(train_module, "epoch_view", recording)
    monkeypatch.setattr(train_module, "CPU_VIEW_CHUNK", 10)
    data = tiny_data(n=64)
    cfg = TINY.override(epochs=2.0, optimizer="muon", lr=5.0, alternate_flips=True)
    train(fresh_model(cfg, data), cfg, data, torch.device("cpu"), seed=0, log=None, precision=FP32)
    assert chunks == [10, 10]


def test_the_time_estimate_is_said_once_after_the_first_steps():
    clock = iter([0.0, 4.0, 12.0])   # the end of step 0, then of steps 1 and 2
    estimate = TimeEstimate(total_steps=100, device=torch.device("cpu"))
    estimate.AFTER_S = 10.0
    import progress
    real = progress.time.perf_counter
    progress.time.perf_counter = lambda: next(clock)
    try:
        said = [estimate.after_step(step) for step in range(4)]
    finally:
        progress.time.perf_counter = real
    assert said[:2] == [None, None] and said[3] is None
    # steps 1-2 took 12 s, 6 s a step: 100 steps about 10 min
    assert said[2] == "expected training time: about 10 min for 100 steps (6.00 s a step so far)"


def test_a_long_estimate_on_a_cpu_names_the_faster_way(monkeypatch):
    import progress
    clock = iter([0.0, 30.0, 60.0])
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    estimate = TimeEstimate(total_steps=200, device=torch.device("cpu"))
    said = [estimate.after_step(step) for step in range(3)]
    assert said[2].startswith("expected training time: about 1.7 h for 200 steps (30.00 s a step so far); a GPU trains")


def test_the_estimate_weighs_the_later_larger_images(monkeypatch):
    # 50 steps of 16x16 images, then 50 of 32x32 (4 times the area): 6 s a small step, 24 s a large one
    import progress
    clock = iter([0.0, 6.0, 12.0])
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    estimate = TimeEstimate(total_steps=100, device=torch.device("cpu"), step_costs=[16 ** 2] * 50 + [32 ** 2] * 50)
    said = [estimate.after_step(step) for step in range(3)]
    assert said[2].startswith("expected training time: about 25 min for 100 steps (6.00 s a step so far)")


def estimates_said(monkeypatch, step_seconds, costs):
    """What a TimeEstimate says over a run whose step k ends step_seconds[k] after the one before."""
    import progress
    now = [0.0]
    monkeypatch.setattr(progress.time, "perf_counter", lambda: now[0])
    estimate = TimeEstimate(total_steps=len(costs), device=torch.device("cpu"), step_costs=costs)
    said = []
    for step, seconds in enumerate(step_seconds):
        now[0] += seconds
        line = estimate.after_step(step)
        if line:
            said.append((step, line))
    return said


def test_the_estimate_is_measured_again_on_the_full_size_images(monkeypatch):
    # 100 steps of 24x24 images at 2 s, then 250 of 32x32 at 4.6 s (the area says 3.6 s), the first of them 10 s
    costs = [24 ** 2] * 100 + [32 ** 2] * 250
    said = estimates_said(monkeypatch, [5.0] + [2.0] * 99 + [10.0] + [4.6] * 249, costs)
    # the first: 5 steps in 10 s, 2 s a small step, so 3.56 s a large one: about 18 min
    assert said[0] == (5, "expected training time: about 18 min for 350 steps (2.00 s a step so far)")
    # the second, 3 full-size steps after the first: 2 (step 0) + 99 x 2 + 10 + 249 x 4.6 s, about 23 min
    assert said[1] == (103, "expected training time, measured again on full-size images: about 23 min in all "
                            "(4.60 s a step); a GPU trains far faster, in seconds to minutes (for example "
                            "Colab's free GPU, where python p2.py picks it up)")
    assert len(said) == 2


def test_the_estimate_is_said_once_when_the_full_size_steps_cost_what_their_area_says(monkeypatch):
    costs = [24 ** 2] * 100 + [32 ** 2] * 250
    said = estimates_said(monkeypatch, [5.0] + [2.0] * 99 + [10.0] + [2.0 * 1024 / 576] * 249, costs)
    assert [step for step, _ in said] == [5]


def test_a_run_of_under_a_minute_gets_no_estimate(monkeypatch):
    import progress
    clock = iter([0.0, 5.0, 10.0])
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    estimate = TimeEstimate(total_steps=10, device=torch.device("cpu"))
    assert [estimate.after_step(step) for step in range(4)] == [None] * 4


def test_small_early_epochs_train_on_down_scaled_images(monkeypatch):
    import train as train_module
    seen = []
    real = train_module.downscale
    monkeypatch.setattr(train_module, "downscale", lambda x, size: seen.append(size) or real(x, size))
    data = tiny_data()
    cfg = PRESETS["fast"].override(widths=(16, 32, 32), batch_size=32, epochs=3.0, eval_batch_size=50,
                                   epoch_sizes=(16, 24))
    history, _ = train(fresh_model(cfg, data), cfg, data, torch.device("cpu"), seed=0, log=None, precision=FP32)
    assert seen == [16, 24, 24] and len(history) == 3 and all(torch.isfinite(torch.tensor(h["train_loss"]))
                                                               for h in history)
    sgd = TINY.override(epochs=2.0, epoch_sizes=(16, 32))   # the per-batch path: every batch of epoch 1 is small
    seen.clear()
    train(fresh_model(sgd, data), sgd, data, torch.device("cpu"), seed=0, log=None, precision=FP32)
    assert seen == [16] * 4 + [32] * 4


def test_same_seed_same_weights():
    data = tiny_data()
    cfg = TINY.override(epochs=1.0)
    models = []
    for _ in range(2):
        model = fresh_model(cfg, data)
        train(model, cfg, data, torch.device("cpu"), seed=3, eval_each_epoch=False, log=lambda *a: None,
              precision=FP32)
        models.append(model)
    for a, b in zip(models[0].state_dict().values(), models[1].state_dict().values()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("tta", ["none", "flip", "flip_translate"])
def test_predict_logits_shapes_and_flip_invariance(tta):
    data = tiny_data(n=40)
    model = fresh_model(TINY, data).eval()
    images = data["test_images"]
    logits = predict_logits(model, images, TINY, torch.device("cpu"), tta=tta)
    assert logits.shape == (40, 10) and logits.dtype == torch.float32
    if tta != "none":   # every view set is closed under flipping, so a mirrored input gives the same logits
        every = TINY.override(tta_fraction=1.0)   # extra views for all: which images are least sure can differ
        logits = predict_logits(model, images, every, torch.device("cpu"), tta=tta)
        mirrored = predict_logits(model, images.flip(-1), every, torch.device("cpu"), tta=tta)
        # an untrained net's logits are about 5e-5 (logit_scale): the tolerance follows their size
        assert torch.allclose(logits, mirrored, rtol=0, atol=1e-3 * logits.abs().max().item())


def views_averaged(model, x, tta):
    """The test-time augmentations written out view by view, for float32 normalised images x."""
    views = [x] if tta == "none" else [x, x.flip(-1)]
    logits = torch.stack([model(v) for v in views]).mean(0)
    if tta == "flip_translate":
        padded = [torch.nn.functional.pad(v, (1, 1, 1, 1), mode="reflect") for v in views]
        shifted = [p[..., :-2, :-2] for p in padded] + [p[..., 2:, 2:] for p in padded]
        logits = 0.5 * logits + 0.5 * torch.stack([model(s) for s in shifted]).mean(0)
    return logits


def test_one_pass_gives_every_tta_as_its_views_define_it():
    data = tiny_data(n=40)
    model = fresh_model(TINY, data).eval()
    cfg = TINY.override(tta_fraction=1.0)   # every image gets every view
    together = predict_logits_per_tta(model, data["test_images"], cfg, torch.device("cpu"), TTAS, precision=FP32)
    with torch.no_grad():
        expected = {tta: views_averaged(model, normalize(data["test_images"]), tta) for tta in TTAS}
    for tta in TTAS:
        assert torch.allclose(together[tta], expected[tta], atol=1e-5)
        assert torch.equal(together[tta], predict_logits(model, data["test_images"], cfg, torch.device("cpu"), tta=tta,
                                                         precision=FP32))


def test_extra_views_go_only_to_the_least_sure_images():
    data = tiny_data(n=40)
    model = fresh_model(TINY, data).eval()
    got = predict_logits_per_tta(model, data["test_images"], TINY.override(tta_fraction=0.25), torch.device("cpu"),
                                 TTAS, precision=FP32)
    with torch.no_grad():
        expected = {tta: views_averaged(model, normalize(data["test_images"]), tta) for tta in TTAS}
    top2 = expected["none"].softmax(1).topk(2, dim=1).values
    unsure = torch.zeros(40, dtype=torch.bool)
    unsure[(top2[:, 0] - top2[:, 1]).argsort()[:10]] = True   # a quarter of 40
    scale = expected["none"].abs().max()   # an untrained head gives small logits: compare relative to them
    assert torch.allclose(got["none"], expected["none"], rtol=0, atol=1e-4 * scale)
    for tta in ("flip", "flip_translate"):
        assert torch.allclose(got[tta][unsure], expected[tta][unsure], rtol=0, atol=1e-4 * scale)
        assert torch.equal(got[tta][~unsure], got["none"][~unsure])
        assert not torch.allclose(got[tta][unsure], got["none"][unsure], rtol=0, atol=1e-2 * scale)


def test_least_sure_rounds_up_and_lists_rows_in_order():
    logits = torch.tensor([[5.0, 0.0], [1.0, 0.9], [3.0, 0.0], [0.0, 0.2], [2.0, 2.0]])
    assert least_sure(logits, 0.4).tolist() == [1, 4]     # probability gaps 0.05 and 0: the smallest
    assert least_sure(logits, 0.5).tolist() == [1, 3, 4]  # 2.5 rows: rounded up
    assert least_sure(logits, 1.0).tolist() == [0, 1, 2, 3, 4]


def test_cpu_evaluation_in_small_batches_gives_the_same_logits(monkeypatch):
    data = tiny_data(n=40)
    model = fresh_model(TINY, data).eval()
    whole = predict_logits_per_tta(model, data["test_images"], TINY, torch.device("cpu"), TTAS, precision=FP32)
    monkeypatch.setattr("predict.CPU_EVAL_BATCH", 7)   # 40 images: five batches of 7 and a ragged one of 5
    split = predict_logits_per_tta(model, data["test_images"], TINY, torch.device("cpu"), TTAS, precision=FP32)
    for tta in TTAS:
        assert split[tta].shape == (40, 10)
        assert torch.allclose(split[tta], whole[tta], atol=1e-5)


def test_unknown_tta_is_refused():
    data = tiny_data(n=4)
    with pytest.raises(ValueError, match="unknown tta"):
        predict_logits(fresh_model(TINY, data), data["test_images"], TINY, torch.device("cpu"), tta="rotate")


def test_batch_larger_than_the_data_is_refused():
    data = tiny_data(n=16)
    from data import DataError
    with pytest.raises(DataError, match="larger than the 16 training images; use a smaller --batch-size"):
        train(fresh_model(TINY, data), TINY, data, torch.device("cpu"), seed=0, log=lambda *a: None)


def test_fast_preset_is_the_measured_recipe():
    # Every recorded seed of the default recipe (10 on a CPU, 5 on an H100) trained with exactly these values
    # (tta_fraction, added later, sets only how many test images get the extra views).
    expected = dict(widths=(64, 256, 256), convs_per_group=2, whiten_patch=2, logit_scale=1 / 256, bn_momentum=0.4,
                    epochs=8.0, batch_size=2000, lr=1340.0, bias_lr=106.0, weight_decay=0.0, decay_per_step=0.004,
                    momentum=0.85, warmup_frac=0.0, label_smoothing=0.2, translate=2, flip=True, cutout=0,
                    tta="flip_translate", tta_fraction=0.4, channels_last=True, eval_batch_size=2000, optimizer="muon",
                    muon_lr=0.24, muon_momentum=0.6, muon_ns_steps=3, bn_scale=False,
                    dirac_init=True, whiten_bias_epochs=3.0, alternate_flips=True, residual=False, lookahead=False,
                    epoch_sizes=(32,))
    assert PRESETS["fast"].to_dict() == expected
    # The CPU's default: 7 epochs of batch 1000 (SGD lrs and decay halved), the first two on small images.
    cpu = dict(expected, epochs=7.0, batch_size=1000, lr=670.0, bias_lr=53.0, decay_per_step=0.002,
               epoch_sizes=(24, 24, 32))
    assert PRESETS["cpu"].to_dict() == cpu
    assert Config.from_dict(dict(cpu, epoch_sizes=[24, 24, 32], widths=[64, 256, 256])) == PRESETS["cpu"]


def test_the_default_recipe_is_fast_on_an_nvidia_gpu_and_cpu_on_a_cpu_or_a_macs_gpu():
    """A Mac's GPU shares the Mac's memory: the cpu recipe's smaller batches."""
    from config import default_preset
    assert default_preset(torch.device("cpu")) == default_preset(torch.device("mps")) == "cpu"
    assert default_preset(torch.device("cuda", 0)) == default_preset(torch.device("xpu")) == "fast"


def test_the_fast_recipe_lowers_the_loss_on_the_cpu():
    batch = 32   # the preset's SGD lrs are for batch 2000 and scale with the batch; the logit scale is 1 / width
    cfg = PRESETS["fast"].override(widths=(16, 32, 32), batch_size=batch, epochs=4.0, eval_batch_size=50,
                                   logit_scale=1 / 32, lr=PRESETS["fast"].lr * batch / 2000,
                                   bias_lr=PRESETS["fast"].bias_lr * batch / 2000)
    data = tiny_data()
    history, _ = train(fresh_model(cfg, data), cfg, data, torch.device("cpu"), seed=0, log=lambda *a: None,
                       precision=FP32)
    assert history[-1]["train_loss"] < history[0]["train_loss"] - 0.2
    assert history[-1]["val_acc"] > 0.3


class LikeCompiled(torch.nn.Module):
    """A net as torch.compile wraps it (the model under `_orig_mod`): train() keeps every gradient for it."""

    def __init__(self, model):
        super().__init__()
        self._orig_mod = model

    def forward(self, x):
        return self._orig_mod(x)


def test_the_stopped_whitening_bias_skips_its_gradient_and_changes_no_weight():
    # After its last learning step the whitening bias needs no gradient (its lr is 0): the run skips it, which saves
    # the first convolution's input gradient, and ends with exactly the weights of a run that computes it.
    batch = 32
    cfg = PRESETS["cpu"].override(widths=(16, 32, 32), batch_size=batch, epochs=3.0, eval_batch_size=50,
                                  logit_scale=1 / 32, lr=PRESETS["cpu"].lr * batch / 1000,
                                  bias_lr=PRESETS["cpu"].bias_lr * batch / 1000, whiten_bias_epochs=1.0,
                                  epoch_sizes=(32,))
    data = {k: v for k, v in tiny_data().items() if not k.startswith("val_")}
    skipping, keeping = fresh_model(cfg, data), fresh_model(cfg, data)
    needs = []   # whether the bias needs its gradient at each of the skipping run's forward passes
    skipping.register_forward_pre_hook(lambda module, args: needs.append(module.whiten.bias.requires_grad))
    train(skipping, cfg, data, torch.device("cpu"), seed=0, log=None, precision=FP32)
    train(LikeCompiled(keeping), cfg, data, torch.device("cpu"), seed=0, log=None, precision=FP32)
    steps_per_epoch = len(data["train_images"]) // batch
    assert needs == [True] * steps_per_epoch + [False] * 2 * steps_per_epoch
    assert skipping.whiten.bias.requires_grad   # as built again, for whatever trains it next
    for (name, a), b in zip(skipping.state_dict().items(), keeping.state_dict().values()):
        assert torch.equal(a, b), name


def test_a_loss_that_is_not_a_number_stops_training_at_the_end_of_its_epoch():
    data = tiny_data()
    model = fresh_model(TINY, data)
    with torch.no_grad():
        model.head.weight.fill_(float("inf"))   # logits of inf and -inf: the loss is NaN from the first step
    log = []
    with pytest.raises(TrainingDiverged, match="loss became nan in epoch 1 at peak learning rate 0.2; lower it"):
        train(model, TINY, data, torch.device("cpu"), seed=0, log=log.append, precision=FP32)
    assert not any(line.startswith("epoch") for line in log)   # no epoch line with a NaN in it


def test_a_muon_run_that_diverges_names_every_learning_rate_it_has():
    data = tiny_data()
    cfg = TINY.override(optimizer="muon", muon_lr=0.3, lr=5.0, bias_lr=0.5)
    model = fresh_model(cfg, data)
    with torch.no_grad():
        model.head.weight.fill_(float("inf"))
    message = ("loss became nan in epoch 1 at peak learning rates 0.3 (Muon, the filters), 5 (SGD, the classifier) "
               "and 0.5 (SGD, the biases); lower them (--set muon_lr=... --set lr=... --set bias_lr=...), or, with --compile")
    with pytest.raises(TrainingDiverged, match=re.escape(message)):
        train(model, cfg, data, torch.device("cpu"), seed=0, log=lambda line: None, precision=FP32)


class AlwaysClass(torch.nn.Module):
    """A 'network' that puts every image in class k."""
    def __init__(self, k):
        super().__init__()
        self.k = k

    def forward(self, x):
        return torch.nn.functional.one_hot(torch.full((len(x),), self.k), 10).float()


def test_the_confusion_matrix_has_a_row_per_true_class_and_a_column_per_prediction():
    data = tiny_data()
    _, _, _, confusion, per_class = evaluate(AlwaysClass(3), TINY.override(tta="none"), data, torch.device("cpu"),
                                             FP32)
    assert confusion[:, 3].tolist() == torch.bincount(data["test_labels"], minlength=10).tolist()
    assert per_class == [1.0 if k == 3 else 0.0 for k in range(10)]


def test_the_training_accuracy_is_a_share_of_the_images():
    data, cfg = tiny_data(), TINY.override(epochs=1.0)
    history, _ = train(fresh_model(cfg, data), cfg, data, torch.device("cpu"), seed=0, log=None, precision=FP32)
    assert all(0 <= row["train_acc"] <= 1 for row in history)


@pytest.mark.parametrize("loss", [float("inf"), float("-inf"), float("nan")])
def test_an_infinite_or_nan_loss_is_divergence(loss):
    with pytest.raises(TrainingDiverged):
        stop_if_diverged(loss, 1, TINY)
    stop_if_diverged(1e30, 1, TINY)   # large but finite: training goes on
