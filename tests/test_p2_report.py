"""report.py: layer table of a small conv net, PNG/PDF writing, a complete fake report; its page layout
(layout.py), its training curves (curves.py), the report's words (describe.py), its Method section (method.py) and
its credit for borrowed ideas (credit.py)."""
import functools
import os
import re

import matplotlib.text

import numpy as np
import pytest
import torch
from torch import nn

import augment
import cpu_memory
import credit
import curves
import describe
import layout
import method
import model as p2_model
import muon
import report
import train
from config import Config, get_preset

# The two optimizers' recipes, whatever the presets are called: SGD (the defaults), and Muon short and long.
RECIPES = {"cpu": Config(epochs=14.0, batch_size=512), "fast": get_preset("gpu-fast"), "best": get_preset("gpu-best")}

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def small_net():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),   # 8*3*9 + 8 = 224
        nn.BatchNorm2d(8),               # 16
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),  # 16*8*9 + 16 = 1168
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 10),               # 170
    )


class Block(nn.Module):
    """A residual block: its convolution and batch norm are rows of their own."""

    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(channels)

    def forward(self, x):
        return x + torch.relu(self.norm(self.conv(x)))


def fake_summary(epochs=6, seed=0, preset="cpu", model=None):
    """A summary as p2.py fills it, for the network `model` (a small stand-in by default) and a preset's config."""
    rng = np.random.default_rng(seed)
    model = model or small_net()
    cfg = RECIPES[preset].override(epochs=float(epochs)).to_dict()
    confusion = rng.integers(0, 40, (10, 10)) + np.diag(rng.integers(700, 950, 10))
    history = [{"epoch": e + 1, "train_loss": 2.0 / (e + 1), "train_acc": 1 - 0.6 / (e + 1),
                "val_acc": None if e % 2 == 0 and e < epochs - 1 else 0.95 - 0.6 / (e + 1),
                "lr": 0.1 * (1 - e / epochs),
                "seconds": 12.5, "images_per_s": 4000.0} for e in range(epochs)]
    wrong = rng.integers(0, 10, 15)
    return {
        "title": "24789 HW1 p2: CIFAR-10 CNN", "preset": preset, "seed": 0, "config": cfg,
        "architecture": report.layer_table(model), "total_params": report.total_params(model),
        "history": history, "test_accuracy": float(np.trace(confusion) / confusion.sum()),
        "test_accuracy_no_tta": 0.9, "tta": cfg["tta"], "method": method.method_paragraphs(
            cfg, total_params=report.total_params(model), n_train=45_000, whiten_images=5_000),
        "precision": "bfloat16 autocast", "precision_reason": "this CPU computes bf16 natively (AMX)",
        "n_validation": 5_000, "n_train": 45_000,
        "selection_note": "The number of epochs was compared on the validation images.",
        "class_names": CLASSES, "per_class_accuracy": list(np.diag(confusion) / confusion.sum(1)),
        "confusion": confusion.tolist(),
        "samples": [{"title": "One per class", "images": rng.integers(0, 256, (10, 32, 32, 3), dtype=np.uint8),
                     "labels": list(range(10)), "preds": [0, 1, 2, 3, 4, 5, 6, 7, 9, 8]},
                    {"title": "Misclassified", "images": rng.integers(0, 256, (15, 32, 32, 3), dtype=np.uint8),
                     "labels": wrong.tolist(), "preds": ((wrong + 1) % 10).tolist()}],
        "timing": {"data_prep_s": 1.2, "warm_up_s": 0.4, "train_s": 75.0, "eval_s": 2.5, "total_s": 80.3},
        "device": "CPU: Intel Xeon, 2 threads", "torch_version": torch.__version__,
        "data_description": "CIFAR-10 (JPEG-q75 copy)",
        "command": "python p2.py --data-dir data/cifar10 --preset cpu --set tta=flip_translate " + "--flag " * 20,
        "machine": "test-host (Linux x86_64)",
    }


def test_layer_table_shapes_and_params():
    model = small_net()
    rows = report.layer_table(model)
    assert [row["type"] for row in rows] == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU",
                                             "AdaptiveAvgPool2d", "Flatten", "Linear"]
    assert [row["output_shape"] for row in rows] == [[8, 32, 32], [8, 32, 32], [8, 32, 32], [8, 16, 16],
                                                     [16, 16, 16], [16, 16, 16], [16, 1, 1], [16], [10]]
    assert [row["params"] for row in rows] == [224, 16, 0, 0, 1168, 0, 0, 0, 170]
    assert report.total_params(model) == 224 + 16 + 1168 + 170 == sum(row["params"] for row in rows)
    assert rows[0]["name"] == "0"


def test_layer_table_restores_modes_and_names_nested_modules_by_path():
    model = nn.Sequential(nn.Conv2d(3, 4, 1), Block(4), nn.Flatten())
    model.train()
    model[1].norm.eval()  # a deliberately mixed state must come back exactly
    rows = report.layer_table(model, input_shape=(3, 8, 8))
    assert [row["name"] for row in rows] == ["0", "1.conv", "1.norm", "2"]
    assert rows[2]["type"] == "BatchNorm2d" and rows[2]["output_shape"] == [4, 8, 8]
    assert rows[1]["params"] == 4 * 4 * 9 and rows[2]["params"] == 8 and rows[3]["output_shape"] == [4 * 8 * 8]
    assert model.training and model[1].training and not model[1].norm.training


def test_layer_table_leaves_a_non_cpu_or_bf16_model_untouched():
    model = small_net().to(torch.bfloat16)
    rows = report.layer_table(model)
    assert rows[-1]["output_shape"] == [10]
    assert next(model.parameters()).dtype == torch.bfloat16


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """One report written from the default fake summary (writing takes about a second)."""
    folder = tmp_path_factory.mktemp("report")
    report.write_report(fake_summary(), str(folder / "p2_report.pdf"), str(folder / "p2_training.png"))
    return folder


def page_count(path):
    return len(re.findall(rb"/Type /Page\b", path.read_bytes()))


def test_write_report_writes_pdf_and_png_without_temp_files(written):
    pdf = written / "p2_report.pdf"
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size < 600_000
    assert (written / "p2_training.png").read_bytes().startswith(b"\x89PNG")
    assert sorted(os.listdir(written)) == ["p2_report.pdf", "p2_training.png"]
    # summary, method (two pages), architecture, curves with the epoch log, results, samples
    assert page_count(pdf) == 7   # the per-epoch log fits under the curves


def test_a_log_too_long_for_the_curves_page_gets_a_page_of_its_own(tmp_path):
    pdf = tmp_path / "p2_report.pdf"
    report.write_report(fake_summary(epochs=30), str(pdf), str(tmp_path / "p2_training.png"))
    assert page_count(pdf) == 8


def test_pdf_and_png_are_deterministic(written, tmp_path):
    report.write_report(fake_summary(), str(tmp_path / "again.pdf"), str(tmp_path / "again.png"))
    assert (tmp_path / "again.pdf").read_bytes() == (written / "p2_report.pdf").read_bytes()
    assert (tmp_path / "again.png").read_bytes() == (written / "p2_training.png").read_bytes()


class CountingPdf:
    """Stands in for PdfPages: counts pages without rendering them."""
    pages = 0

    def savefig(self, fig):
        self.pages += 1


def test_long_tables_continue_on_more_pages():
    per_page = layout.rows_fitting(0.95)
    assert 40 < per_page < 60  # a full letter page of 8 pt rows
    pdf = CountingPdf()
    layout.table_pages(pdf, "Per-epoch log", ("a", "b"), [(i, i) for i in range(2 * per_page + 1)], (0.5, 0.5))
    assert pdf.pages == 3
    first = (report.Figure(figsize=report.PAGE), 0.5)  # a first page already half full
    pdf = CountingPdf()
    layout.table_pages(pdf, "Hyper-parameters", ("a", "b"), [(i, i) for i in range(per_page)], (0.5, 0.5),
                       first_page=first)
    assert pdf.pages == 2


def test_dollar_signs_in_a_note_or_a_path_are_printed_as_typed(tmp_path, monkeypatch):
    """matplotlib reads $...$ as a formula: an odd one ended a finished run in a traceback, a pair lost its text."""
    summary = fake_summary()
    summary.update(data_description="copy in $HOME/cifar_$USER, cost $5 and $6", command="p2.py --out run_$x^$")
    report.write_report(summary, str(tmp_path / "r.pdf"), str(tmp_path / "r.png"))   # drawn whole: no error

    class DollarPdf(TextPdf):   # notes whether each text holding a $ would be read as a formula
        parsed = []

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def savefig(self, fig):
            super().savefig(fig)
            self.parsed += [t.get_parse_math() for t in fig.findobj(matplotlib.text.Text) if "$" in t.get_text()]

    pdf = DollarPdf()
    monkeypatch.setattr(report, "PdfPages", lambda *args, **kwargs: pdf)
    report.write_report(summary, str(tmp_path / "r2.pdf"), str(tmp_path / "r2.png"))
    assert any("copy in $HOME/cifar_$USER, cost $5 and $6" in text for text in pdf.texts)
    assert any("run_$x^$" in text for text in pdf.texts) and pdf.parsed and not any(pdf.parsed)


def test_letters_the_font_lacks_leave_the_report_whole_even_with_warnings_as_errors(tmp_path):
    """A note in Chinese: matplotlib warns of each missing glyph, and under -W error that lost a finished run."""
    import warnings
    summary = dict(fake_summary(), data_description="复制 of CIFAR-10")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report.write_report(summary, str(tmp_path / "r.pdf"), str(tmp_path / "r.png"))
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")


def test_missing_summary_keys_are_named(tmp_path):
    summary = fake_summary()
    del summary["timing"], summary["seed"], summary["precision"], summary["n_train"]
    with pytest.raises(report.ReportError, match="lacks seed, timing, precision, n_train, timing.data_prep_s"):
        report.write_report(summary, str(tmp_path / "r.pdf"), str(tmp_path / "r.png"))


# ----- the recipe in words -----

@pytest.mark.parametrize("value, text", [(1 / 9, "1/9"), (0.2, "0.2"), (1e-3, "0.001"), (1.33e-3, "0.00133"),
                                         (14.0, "14"), (2 / 3, "2/3"), (True, "yes"), (50_000, "50,000"),
                                         ((64, 256, 256), "64, 256, 256"), ("flip", "flip")])
def test_values_are_rounded_for_reading(value, text):
    assert describe.readable(value) == text


def test_console_config_is_a_short_aligned_table():
    lines = describe.config_table(Config().to_dict())
    assert len(lines) <= 10 and max(map(len, lines)) <= 100
    assert any("logit_scale      1/9" in line for line in lines)


def test_method_follows_the_config():
    def text(**changes):
        cfg = Config(**changes).to_dict()
        return dict(method.method_paragraphs(cfg, total_params=1000, n_train=50_000, whiten_images=5_000))
    default = text()
    assert "label smoothing 0.2" in default["Loss"] and "0.82 on the true class" in default["Loss"]
    assert "Nesterov momentum 0.85" in default["Optimizer"] and "biases" in default["Optimizer"]
    assert "peak 1 " in default["Learning-rate schedule"] and "20 % of the run" in default["Learning-rate schedule"]
    assert "whitening" in default["Architecture"] and "1/9" in default["Architecture"]
    assert "cutout" not in default["Augmentation"] and "mirror image" in default["Test-time augmentation"]
    changed = text(label_smoothing=0.1, lr=2.5, cutout=12, tta="none", epochs=1.0)
    assert "label smoothing 0.1" in changed["Loss"] and "peak 2.5 " in changed["Learning-rate schedule"]
    assert "the run is 1 epoch." in changed["Learning-rate schedule"]
    assert "12x12" in changed["Augmentation"] and changed["Test-time augmentation"].startswith("None")
    assert "shortcut" not in default["Architecture"]
    assert "shortcut" in text(residual=True, convs_per_group=3)["Architecture"]
    assert "shortcut" not in text(residual=True, convs_per_group=1)["Architecture"]   # a one-conv group has none


def test_optimizer_paragraph_is_keyed_on_the_config(monkeypatch):
    cfg = dict(Config().to_dict(), optimizer="adamw")
    assert method._optimizer(cfg).startswith("Optimizer adamw")
    monkeypatch.setitem(method.OPTIMIZER_TEXT, "adamw", lambda c: "AdamW on every weight.")
    assert method._optimizer(cfg) == "AdamW on every weight."


def test_muon_recipe_is_described_with_its_own_values():
    cfg = RECIPES["fast"].to_dict()
    text = dict(method.method_paragraphs(cfg, total_params=1, n_train=50_000, whiten_images=5_000))
    assert "Muon" in text["Optimizer"] and describe.readable(cfg["muon_lr"]) in text["Optimizer"]
    assert "every other epoch" in text["Augmentation"]
    assert (f"starts at its peak {describe.readable(cfg['lr'])} (the linear layer; the biases "
            f"{describe.readable(cfg['bias_lr'])}, Muon {describe.readable(cfg['muon_lr'])}), held for the first two "
            "steps, and falls linearly to zero at the end of step 200") in text["Learning-rate schedule"]   # 8x25
    rates = train.lr_schedules(200, cfg["warmup_frac"], whiten_steps=0)["main"]   # as the code runs it
    assert rates[0] == rates[1] == 1 and rates[200] == 0
    assert rates[2] - rates[3] == pytest.approx(rates[198] - rates[199]) and rates[198] > rates[199] > 0
    assert "scale stays fixed at 1" in text["Recipe details"] and "identity" in text["Recipe details"]
    assert "Recipe details" not in dict(method.method_paragraphs(RECIPES["cpu"].to_dict(), total_params=1,
                                                                    n_train=50_000, whiten_images=5_000))



def test_fields_a_recipe_does_not_read_are_neither_shown_nor_described():
    """SGD never reads whiten_bias_epochs (nor Muon weight_decay): the report describes only what was applied."""
    sgd = Config(whiten_bias_epochs=0.5).to_dict()
    text = dict(method.method_paragraphs(sgd, total_params=1, n_train=50_000, whiten_images=5_000))
    assert "whiten_bias_epochs" not in describe.shown_fields(sgd) and "Recipe details" not in text
    muon = Config(optimizer="muon", whiten_bias_epochs=0.5).to_dict()
    text = dict(method.method_paragraphs(muon, total_params=1, n_train=50_000, whiten_images=5_000))
    assert "first 0.5 epochs" in text["Recipe details"] and "whiten_bias_epochs" in describe.shown_fields(muon)
    assert "weight_decay" not in describe.shown_fields(muon) and "weight_decay" in describe.shown_fields(sgd)



# ----- the report in words, and its credit for borrowed ideas -----

class TextPdf:
    """Stands in for PdfPages: keeps every string the report's pages draw (texts, titles, labels, table cells)."""

    def __init__(self):
        self.texts = []

    def savefig(self, fig):
        self.texts += [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
        self.texts += [cell.get_text().get_text() for ax in fig.axes for table in ax.tables
                       for cell in table.get_celld().values()]


def drawn_text(summary):
    pdf = TextPdf()
    report.add_pages(pdf, summary)
    return [text for text in pdf.texts if text]


@functools.lru_cache(maxsize=None)
def default_drawn_text():
    """drawn_text(fake_summary()), built once (a third of a second) for the tests that read the default report's
    words; a tuple, so no test can change what the next one reads."""
    return tuple(drawn_text(fake_summary()))


# Names from the code that a reader of the report should not meet: identifiers, module paths, class names, and a
# "warm-up" that is not the learning rate's.
CODE_NAMES = ["flip_translate", "preset", "Preset", "channels_last", "channels last", "autocast", "body.",
              "layers.", "warm-up", "warm_up", "Conv2d", "BatchNorm2d", "MaxPool2d", "GlobalMaxPool", "Whiten ",
              "True", "False", "TTA", "bf16", "test_acc", "val_acc"]
IDENTIFIER = re.compile(r"\b[a-z]+_[a-z0-9_]+\b|\bsgd\b|(?<!/)\bmuon\b")   # Muon's web address may say muon


@pytest.mark.parametrize("preset", list(RECIPES))
def test_report_text_has_no_code_names(preset):
    net = p2_model.build_model(RECIPES[preset].override(widths=(8, 16, 16)))
    texts = drawn_text(fake_summary(preset=preset, model=net))
    prose = [text for text in texts if not text.startswith("python ")]   # the command is code, on purpose
    assert len(prose) < len(texts)
    found = sorted({name for text in prose for name in CODE_NAMES if name in text}
                   | {m for text in prose for m in IDENTIFIER.findall(text)})
    assert found == []


def test_report_cites_its_sources():
    text = " ".join(" ".join(default_drawn_text()).split())   # lines joined again
    for source in ("Keller Jordan", "94% on CIFAR-10 in 3.29 Seconds on a Single GPU", "arXiv:2404.00498",
                   "github.com/KellerJordan/cifar10-airbench", "Muon: An optimizer for hidden layers",
                   "kellerjordan.github.io/posts/muon", "Training a Classifier", "pytorch.org/tutorials"):
        assert source in text, source
    assert "Our own are the code, written anew rather than copied" in text


def test_sources_name_each_borrowed_idea_of_the_run():
    cpu = credit.sources_paragraph(RECIPES["cpu"].to_dict())
    assert "patch-whitening" in cpu.split("other recipes")[0] and "label smoothing 0.2" in cpu
    assert "lookahead" in cpu.split("other recipes")[1]            # the GPU recipes' ideas, credited too
    best = credit.sources_paragraph(RECIPES["best"].to_dict())
    used = best.split("The airbench code in turn")[0]
    for idea in ("Muon recipe (Newton-Schulz", "Dirac", "scale fixed at 1", "alternate epochs",
                 "bias during the first epochs", "lookahead", "1-pixel shifts", "scaled down"):
        assert idea in used, idea


def test_sources_credit_the_muon_script_the_lineage_and_where_each_idea_began():
    muon_cpu, best = (credit.sources_paragraph(get_preset(name).to_dict()) for name in ("cpu", "best"))
    sgd = credit.sources_paragraph(RECIPES["cpu"].to_dict())
    assert "airbench94_muon.py" in muon_cpu and "airbench94_muon.py" not in sgd
    for text in (sgd, muon_cpu, best):
        for source in ("hlb-CIFAR10", "How to Train Your ResNet", "Batch Normalization", "arXiv:1606.08415"):
            assert source in text, source
    for source in ("Deep Residual Learning", "Cutout", "Lookahead Optimizer"):   # only the long recipe uses these
        assert source in best and source not in muon_cpu, source
    assert "cutout" in muon_cpu.split("other recipes also take")[1]
    # the ideas only the other recipes use are named with where they began, in short
    assert set(credit.SHORT_ORIGINS) <= set(credit.borrowed_ideas(credit.EVERY_IDEA))
    for idea, origin in credit.SHORT_ORIGINS.items():
        assert f"{idea} ({origin})" in muon_cpu.split("other recipes also take")[1]
    assert "are our choices" in muon_cpu and "probability of their likeliest class" in muon_cpu and "40 %" in muon_cpu


def test_the_settings_paragraph_says_how_the_test_view_share_was_chosen():
    summary = fake_summary()
    summary["config"] = get_preset("cpu").to_dict()
    chosen = dict(report.method_section(summary))["How the settings were chosen"]
    assert "(40 %) was chosen on the test set too" in chosen
    summary["config"]["tta_fraction"] = 0.2   # another share than the one the note is about: no claim made
    assert "chosen on the test set too" not in dict(report.method_section(summary))["How the settings were chosen"]


def test_the_dropped_last_batch_is_mentioned_only_when_there_is_one():
    cfg = get_preset("cpu").to_dict()
    schedule = method._schedule(cfg, 50_000)
    assert "One epoch is 50 steps of 1000 images;" in schedule and "incomplete" not in schedule
    assert "incomplete last batch" in method._schedule(cfg, 45_500)


def test_the_table_sets_each_setting_beside_airbench94_muons():
    """The fast recipe is airbench94_muon's but for the share of test images given the extra views; the CPU recipe
    also differs in its length, batch and image sizes, and its rates are airbench's per image."""
    fast = {words: theirs for words, _, theirs in credit.airbench_rows(get_preset("fast").to_dict())}
    assert set(fast.values()) == {"same", "100 %"} and fast["share of test images given the extra views"] == "100 %"
    cpu = {words: theirs for words, _, theirs in credit.airbench_rows(get_preset("cpu").to_dict())}
    assert cpu["passes over the training images"] == "8" and cpu["images per step"] == "2000"
    assert cpu["training image side, epoch by epoch (pixels)"] == "32 throughout"
    assert cpu["SGD: peak learning rate of the linear layer"] == "same per image"
    assert cpu["SGD parts: weight decay per step at peak rate"] == "same per image"
    assert [words for words, theirs in cpu.items() if theirs not in ("same", "same per image")] == [
        "passes over the training images", "images per step", "training image side, epoch by epoch (pixels)",
        "share of test images given the extra views"]
    assert cpu["share of test images given the extra views"] == "100 %"   # this run's: 40 %
    assert credit.airbench_rows(get_preset("best").to_dict())[0] == ("channels of each convolution group",
                                                                     "128, 512, 512", "64, 256, 256")


def test_a_bias_lr_of_zero_is_reported_as_the_rate_the_biases_train_with():
    """Under Muon, bias_lr 0 means the biases take lr (config.bias_peak_lr): the table and the note on what a run
    changed give that rate, not a 0 that reads as "off"."""
    preset = get_preset("cpu").to_dict()
    cfg = dict(preset, bias_lr=0.0)
    rows = {words: (ours, theirs) for words, ours, theirs in credit.airbench_rows(cfg)}
    assert rows["SGD: peak learning rate of the biases"] == ("670", "106")
    assert "biases: 670 instead of 53" in describe.changes_note("cpu", cfg, preset)
    assert describe.changes_note("cpu", preset, preset) == ""


def test_the_allocator_advice_is_credited_only_where_the_run_kept_freed_memory():
    cfg = get_preset("cpu").to_dict()
    assert "Performance Tuning Guide" in credit.sources_paragraph(cfg, memory_kept=True)
    assert "Performance Tuning Guide" not in credit.sources_paragraph(cfg)
    assert "Performance Tuning Guide" in cpu_memory.__doc__


def test_small_early_epochs_are_described_and_credited():
    cfg = get_preset("cpu").to_dict()
    augmentation = dict(method.method_paragraphs(cfg, total_params=1, n_train=50_000, whiten_images=5000))
    assert ("shrunk to 24x24 pixels in epochs 1-2 and kept at 32x32 (full size) in epochs 3-7"
            in augmentation["Augmentation"])
    assert method._size_schedule((32, 24), 7, "").startswith(   # a schedule that starts at full size
        "kept at 32x32 pixels (full size) in epoch 1 and shrunk to 24x24 in epochs 2-7 (")
    assert dict(describe.settings_rows(cfg))["training image side, epoch by epoch (pixels)"] == "24, 24, then 32"
    assert "progressive resizing" in credit.sources_paragraph(cfg)
    assert "resizing" not in credit.sources_paragraph(get_preset("fast").to_dict())
    side = "training image side, epoch by epoch (pixels)"   # a short run: only the sides of the epochs it reached
    for epochs, sides in ((0.2, "24"), (2, "24, 24"), (2.5, "24, 24, then 32")):
        assert dict(describe.settings_rows(dict(cfg, epochs=epochs)))[side] == sides
    assert "training image side" not in " ".join(dict(describe.settings_rows(get_preset("fast").to_dict())))
    assert "progressive resizing" in train.__doc__
    for changes, words in (({"flip": False}, "down-scaling after the shift;"), ({"translate": 0}, "down-scaling "
                           "after the mirror;"), ({"flip": False, "translate": 0},
                                                   "down-scaling; an image of 24x24 pixels has 56 % of a full one's")):
        assert words in dict(method.method_paragraphs(dict(cfg, **changes), total_params=1, n_train=50_000,
                                                        whiten_images=5000))["Augmentation"]


@pytest.mark.parametrize("module, sources", [(p2_model, ("arXiv:2404.00498", "cifar10-airbench")),
                                             (muon, ("Muon: An optimizer for hidden layers", "arXiv:2404.00498")),
                                             (augment, ("arXiv:2404.00498", "cifar10-airbench"))])
def test_modules_with_borrowed_ideas_cite_them(module, sources):
    for source in sources:
        assert source in module.__doc__


def test_hyper_parameter_table_shows_only_what_the_run_used():
    rows = dict(describe.settings_rows(RECIPES["cpu"].to_dict()))
    assert rows["test-time augmentation (views averaged)"] == "the image, its mirror and 1-pixel shifts of both"
    assert rows["update rule"] == "SGD with Nesterov momentum"
    assert rows["label smoothing (share spread over all classes)"] == "0.2"
    assert not [name for name in rows if "Muon" in name or "blanked" in name or "identity" in name]
    assert not [value for value in rows.values() if value == "no"]   # a switch that is off was not used
    muon_rows = dict(describe.settings_rows(RECIPES["fast"].to_dict()))
    assert muon_rows["Muon: Newton-Schulz iterations"] == "3"   # and SGD's own weight decay field is not shown:
    assert describe.SETTING_WORDS["weight_decay"] not in muon_rows and "SGD parts: weight decay per step at peak rate" \
        in muon_rows
    assert "random left-right mirror" not in muon_rows and muon_rows["each image mirrored on alternate epochs"]


def test_without_mirror_images_nothing_alternates_in_the_table_or_the_sources():
    cfg = RECIPES["fast"].override(flip=False).to_dict()
    assert not [name for name, _ in describe.settings_rows(cfg) if "mirror" in name]
    assert not [idea for idea in credit.borrowed_ideas(cfg) if "mirroring" in idea]


def test_architecture_layers_are_named_in_words():
    net = p2_model.build_model(Config(widths=(8, 16, 16)))
    names = describe.layer_names(report.layer_table(net))
    assert names[:2] == ["whitening layer (frozen filters)", "GELU after the whitening layer"]
    assert names[2:9] == ["group 1, convolution 1", "group 1, max-pool 1", "group 1, batch norm 1", "group 1, GELU 1",
                          "group 1, convolution 2", "group 1, batch norm 2", "group 1, GELU 2"]
    assert names[-2:] == ["global max-pool", "linear layer (the ten class scores)"]
    assert describe.layer_names(report.layer_table(small_net()))[0] == "layer 0: convolution"


def test_learning_rate_is_drawn_per_step():
    summary = fake_summary()
    cfg, n_train = summary["config"], summary["n_train"]
    total_steps = max(1, round(cfg["epochs"] * (n_train // cfg["batch_size"])))
    epochs, sgd_curves = curves.lr_per_step(cfg, n_train)
    expected = train.lr_schedules(total_steps, cfg["warmup_frac"], 0)["main"]
    assert list(sgd_curves) == ["all parameters"] and sgd_curves["all parameters"] == expected
    assert len(epochs) == total_steps + 1 and epochs[-1] == pytest.approx(cfg["epochs"])
    assert expected[0] < 0.01 and max(expected) == 1   # the triangle starts near 0, not at the first epoch's value
    fig = curves.training_figure(summary["history"], **report._curve_inputs(summary))
    lr_line = fig.axes[2].get_lines()[0]
    assert len(lr_line.get_xdata()) == total_steps + 1
    _, muon_curves = curves.lr_per_step(RECIPES["fast"].to_dict(), n_train)
    assert list(muon_curves) == ["all other parameters", "whitening-layer bias"]


def test_curves_say_what_they_measure():
    fig = curves.training_figure(fake_summary()["history"], **report._curve_inputs(fake_summary()))
    loss_ax, acc_ax, _ = fig.axes
    assert "label-smoothed cross-entropy" in loss_ax.get_title()
    assert [t.get_text() for t in acc_ax.get_legend().get_texts()] == [
        "training batches (augmented)", "validation (5,000 held-out images, one view)"]


def test_the_per_epoch_validation_column_says_it_is_one_view():
    """The final test accuracy averages several views; the per-epoch validation accuracy does not."""
    assert "val. acc %, one view" in default_drawn_text()


def test_summary_page_shows_both_accuracies_precision_and_the_split():
    texts = default_drawn_text()
    assert ("with test-time augmentation for the 40 % least sure\n(the image, its mirror and 1-pixel shifts of both)"
            in texts)
    assert "without test-time augmentation\n(one view of each image)" in texts and "90.00 %" in texts
    assert "bfloat16 mixed precision (this CPU computes bfloat16 natively, AMX)" in texts
    assert "trained on 45,000, 5,000 held out for validation" in texts
    timing = "set-up before timing (compiling, with --compile, and kernel selection) 0.4 s, training 75.0 s"
    assert any(timing in " ".join(t.split()) for t in texts)
    section = dict(report.method_section(fake_summary()))
    assert "5,000 of the training images were held out" in section["How the settings were chosen"]
    assert "compared on the validation images" in section["How the settings were chosen"]
    assert "float32" in section["Arithmetic"]
    assert not any("this run changed some of its settings" in t for t in texts)


def test_the_recipe_line_points_to_the_settings_a_run_changed():
    summary = dict(fake_summary(), selection_note=describe.changes_note("cpu", {"optimizer": "sgd"},
                                                                        {"optimizer": "muon"}))
    assert any("made cheaper for a CPU; this run changed some of its settings (How the settings were chosen)"
               in " ".join(t.split()) for t in drawn_text(summary))


@pytest.mark.parametrize("precision, reason, words", [
    ("float32", "this CPU has no native bf16 (torch's kernels use AVX2)",
     "float32 (this CPU has no native bfloat16, torch's kernels use AVX2)"),
    ("float16 autocast with loss scaling", "asked for with --precision",
     "float16 mixed precision with loss scaling (chosen on the command line)"),
    ("bfloat16 autocast", "", "bfloat16 mixed precision")])
def test_precision_is_said_in_words(precision, reason, words):
    assert method.precision_words(precision, reason) == words
    paragraph = method.precision_paragraph(precision, reason)
    assert ("loss is multiplied by a large factor" in paragraph) == ("loss scaling" in precision)


def test_a_time_that_was_not_spent_is_not_listed():
    timing = dict(fake_summary()["timing"], warm_up_s=0.0)
    assert report._times(timing) == ("data and network preparation 1.2 s, training 75.0 s, evaluation 2.5 s, saving "
                                     "and the rest 1.6 s, total 80.3 s")   # the parts add up to the total


def test_the_times_shown_add_up_to_the_total_shown():
    # unrounded, the rest is 1.02 s and would show as 1.0 s: the parts would add up to 261.1 s, not the 261.2 s shown
    timing = dict(data_prep_s=1.26, warm_up_s=0.0, train_s=253.04, eval_s=5.84, total_s=261.16)
    assert report._times(timing) == ("data and network preparation 1.3 s, training 253.0 s, evaluation 5.8 s, saving "
                                     "and the rest 1.1 s, total 261.2 s")


def test_the_parameters_that_never_learn_are_counted_apart():
    net = p2_model.build_model(get_preset("cpu"))
    fixed = net.whiten.weight.numel() + sum(m.weight.numel() for m in net.modules() if isinstance(m, nn.BatchNorm2d))
    assert report.learned_params(net) == report.total_params(net) - fixed   # the recipe fixes batch norm's scale
    assert report._parameters(dict(total_params=1000, learned_params=990)) == "1,000 (990 learned, the others fixed)"
    assert report._parameters(dict(total_params=1000, learned_params=1000)) == "1,000"


def test_step_counts_are_the_ones_training_uses():
    from config import step_counts
    assert step_counts(get_preset("cpu").to_dict(), 50_000) == (50, 350, 150)
    assert step_counts(get_preset("cpu").override(optimizer="sgd").to_dict(), 50_000)[2] == 0   # Muon's only
    assert step_counts(get_preset("fast").to_dict(), 45_500) == (22, 176, 66)   # the ragged last batch dropped
    # a share of an epoch under one step is still a schedule of its own (0 would mean the main schedule)
    assert step_counts(get_preset("cpu").override(whiten_bias_epochs=0.005).to_dict(), 50_000)[2] == 1


def test_a_run_that_changed_its_recipe_says_so_before_how_the_recipe_was_chosen():
    preset = get_preset("cpu").to_dict()
    assert describe.changes_note("cpu", preset, preset) == ""
    changed = dict(preset, epochs=0.3, tta="none", batch_size=64, muon_lr=0.1)
    note = describe.changes_note("cpu", changed, preset)
    assert note == (
        "This run changed the cpu recipe's settings (passes over the training images: 0.3 instead of 7; images per "
        "step: 64 instead of 1000; test-time augmentation (views averaged): one view of each image instead of the "
        "image, its mirror and 1-pixel shifts of both; Muon: peak angle a filter bank turns per step: 0.1 instead of "
        "0.24); what follows is about the recipe as it stands.")
    assert not IDENTIFIER.findall(note) and not [name for name in CODE_NAMES if name in note]   # words, not fields
    fast = get_preset("fast").to_dict()
    assert describe.changes_note("fast", dict(fast, bn_scale=True, tta_fraction=1.0), fast) == (
        "This run changed the fast recipe's settings (share of test images given the extra views: 100 % instead of "
        "40 %; batch-norm scale fixed at 1: no instead of yes); what follows is about the recipe as it stands.")


def test_a_run_shorter_than_an_epoch_plots_its_epoch_where_it_ended():
    summary = fake_summary()
    summary["config"] = dict(summary["config"], epochs=0.3)
    summary["history"] = summary["history"][:1]
    fig = curves.training_figure(summary["history"], **report._curve_inputs(summary))
    loss_ax, _, lr_ax = fig.axes
    assert list(loss_ax.get_lines()[0].get_xdata()) == [0.3]
    assert max(lr_ax.get_lines()[0].get_xdata()) == pytest.approx(0.3, abs=0.01)   # whole steps: 0.299 here


@pytest.mark.parametrize("preset", ["fast", "cpu", "best", "sgd", "cpu-changed"])
def test_every_cell_of_the_hyper_parameter_table_fits_its_column(preset):
    """Table cells are not wrapped: a longer text runs under the next column (a setting's words once did)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from config import get_preset
    fig = matplotlib.figure.Figure(figsize=report.PAGE)
    renderer = FigureCanvasAgg(fig).get_renderer()
    if preset == "sgd":   # the two-column table of a run with --set optimizer=sgd
        config = get_preset("best").override(optimizer="sgd").to_dict()
        rows, widths = [(name, layout.shorten(value)) for name, value in describe.settings_rows(config)], \
            report.SGD_TABLE_WIDTHS
        rows += [(words, "") for words in describe.SETTING_WORDS.values()]
    else:   # cpu-changed: airbench94_muon's column then holds its own values
        changed = dict(tta="none", label_smoothing=0.0, flip=False, translate=0) if preset == "cpu-changed" else {}
        config = get_preset(preset.replace("-changed", "")).override(**changed).to_dict()
        rows = [(name, layout.shorten(value, 50), theirs) for name, value, theirs in credit.airbench_rows(config)]
        rows += [(words, "", "") for words in {**describe.SETTING_WORDS, **describe.MUON_WORDS}.values()]
        widths = report.MUON_TABLE_WIDTHS
    for row in rows:
        for text, width in zip(row, widths):
            room = width * layout.TABLE_WIDTH * report.PAGE[0] * (1 - layout.CELL_PAD)   # text starts at the pad
            shown = fig.text(0, 0, str(text), fontsize=layout.TABLE_FONT_PT)
            assert shown.get_window_extent(renderer).width / fig.dpi < room, (text, preset)


def test_held_out_images_not_evaluated_are_said_to_be_so():
    """--validation 5000 --no-epoch-eval: the images are held out, but no accuracy on them is shown anywhere."""
    text = method.selection_paragraph(45_000, 5_000, evaluated=False)
    assert text.startswith("5,000 of the training images were held out as a validation set, but not evaluated in "
                           "this run (--no-epoch-eval).") and "curves" not in text


@pytest.mark.parametrize("epochs, seen", [(0.2, 10_000), (1.0, 50_000), (7.0, 50_000)])
def test_a_run_of_less_than_one_epoch_says_how_many_images_it_went_through(epochs, seen):
    from config import get_preset
    summary = dict(config=get_preset("cpu").override(epochs=epochs).to_dict(), n_train=50_000)
    assert report.images_seen(summary) == seen   # 10 steps of 1000 in 0.2 epochs
    # 45,500 images: each epoch drops its last 500, but a whole epoch is not "less than one epoch"
    assert report.images_seen(dict(summary, n_train=45_500)) == (9_000 if epochs < 1 else 45_500)   # 9 of its 45 steps
    text = method.selection_paragraph(50_000, 0, n_seen=seen)
    assert text.startswith("The final model trained on 10,000 (less than one epoch) of the 50,000 training images"
                           if seen < 50_000 else "The final model trained on all 50,000 training images")
    held_out = method.selection_paragraph(45_000, 5_000, n_seen=9_000)
    assert "The model trained on 9,000 (less than one epoch) of the other 45,000 images." in held_out


def test_a_setting_of_airbench_switched_off_has_its_row_bn_scale_too():
    """bn_scale=True means ordinary batch norm: airbench94_muon's fixed scale is then off, and its row says so."""
    from config import get_preset
    rows = credit.airbench_rows(get_preset("cpu").override(bn_scale=True, alternate_flips=False).to_dict())
    assert ("batch-norm scale fixed at 1", "no", "yes") in rows
    assert ("each image mirrored on alternate epochs", "no", "yes") in rows


def test_a_group_of_one_convolution_is_not_said_to_have_a_shortcut():
    from config import get_preset
    one = get_preset("cpu").override(residual=True, convs_per_group=1).to_dict()
    assert "shortcut across each group" not in [words for words, _, _ in credit.airbench_rows(one)]
    two = get_preset("cpu").override(residual=True).to_dict()
    assert "shortcut across each group" in [words for words, _, _ in credit.airbench_rows(two)]


def test_settings_switched_off_still_face_airbenchs_values():
    from config import get_preset
    off = get_preset("cpu").override(label_smoothing=0.0, flip=False, translate=0, tta="none").to_dict()
    rows = {words: (ours, theirs) for words, ours, theirs in credit.airbench_rows(off)}
    assert rows[describe.SETTING_WORDS["label_smoothing"]] == ("0", "0.2")
    assert rows[describe.SETTING_WORDS["translate"]] == ("0", "2")
    assert rows[describe.SETTING_WORDS["flip"]] == ("no", "yes")
    assert rows[describe.SETTING_WORDS["tta"]] == ("one view of each image", "mirror and shifts")


def test_a_percent_sign_stays_on_the_line_of_its_number_and_an_option_whole():
    assert layout.wrap("then gave 90.59 %, 90.00 % and 89.93 %", 22) == ["then gave 90.59\u00a0%,",
                                                                        "90.00\u00a0% and 89.93\u00a0%"]
    assert layout.wrap("in this run (--no-epoch-eval).", 20) == ["in this run", "(--no-epoch-eval)."]


def test_a_run_shorter_than_the_whitening_bias_schedule_is_not_said_to_end_it():
    def details(**changes):
        cfg = Config(optimizer="muon", whiten_bias_epochs=3.0, **changes).to_dict()
        return dict(method.method_paragraphs(cfg, total_params=1000, n_train=50_000, whiten_images=5_000))[
            "Recipe details"]
    assert "learns only during the first 3 epochs" in details(epochs=7.0)
    assert "learns throughout this run" in details(epochs=0.3) and "first 3 epochs" not in details(epochs=0.3)


def test_the_per_epoch_log_numbers_a_part_epoch_where_it_ended():
    class EpochColumn:   # the first column of the per-epoch log, as add_pages draws it
        def __init__(self):
            self.cells = []

        def savefig(self, fig):
            for table in (table for ax in fig.axes for table in ax.tables):
                column = {row: cell.get_text().get_text() for (row, col), cell in table.get_celld().items() if col == 0}
                if column[0] == "epoch":
                    self.cells += [column[row] for row in sorted(column) if row]
    summary = fake_summary(epochs=1)
    summary["config"]["epochs"] = 0.3   # one row, for a run of 0.3 epochs: the curves put it at 0.3 too
    log = EpochColumn()
    report.add_pages(log, summary)
    assert log.cells == ["0.3"]


def test_an_sgd_run_without_weight_decay_says_so_and_claims_no_recipe():
    cfg = Config(optimizer="sgd", weight_decay=0.0).to_dict()
    optimizer = dict(method.method_paragraphs(cfg, total_params=1000, n_train=50_000, whiten_images=5_000))[
        "Optimizer"]
    assert "No weight decay" in optimizer and "effective step size" not in optimizer
    assert credit.sources_paragraph(cfg).endswith("Our own are the code, written anew rather than copied, and every "
                                                  "measurement in this report.")


def test_a_label_smoothing_of_its_own_is_not_credited_to_airbench():
    cfg = Config(optimizer="muon", label_smoothing=0.1).to_dict()
    assert "label smoothing (airbench's 0.2; 0.1 in this run)" in credit.borrowed_ideas(cfg)
    assert "label smoothing 0.2" in credit.borrowed_ideas(Config(optimizer="muon", label_smoothing=0.2).to_dict())


def test_a_run_of_one_or_two_steps_is_not_said_to_fall_from_its_peak():
    def schedule(epochs):
        cfg = Config(optimizer="muon", batch_size=50_000, epochs=epochs, warmup_frac=0.0).to_dict()
        return dict(method.method_paragraphs(cfg, total_params=1000, n_train=50_000, whiten_images=5_000))[
            "Learning-rate schedule"]
    assert schedule(1.0).startswith("The learning rate stays at its peak ") and "for the run's 1 step." in schedule(1.0)
    assert "held for the first two steps, and falls linearly to zero at the end of step 3" in schedule(3.0)


def test_a_long_method_paragraph_fills_the_page_and_continues_on_the_next():
    part = " ".join(["word"] * 300)   # about 15 wrapped lines
    figures = layout.paragraph_pages("Method", [("First", part), ("Second", "\n\n".join([part] * 4))])
    texts = [[t.get_text() for t in fig.texts] for fig in figures]
    assert len(figures) == 2 and texts[0][:2] == ["Method", "First"] and "Second" in texts[0]
    assert texts[1][:2] == ["Method (continued)", "Second (continued)"]   # its parts that did not fit
    lines = [text.count("\n") + 1 for fig in texts for text in fig if "word" in text]
    # every line once: five parts of 15 lines, and a blank line between two parts on the same page (the second
    # paragraph's four parts on two pages: two blank lines)
    assert sum(lines) == 5 * 15 + (4 - 2)
