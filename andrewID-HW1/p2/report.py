"""The p2 hand-in report: a multi-page PDF (the run's settings, the recipe in words, the layer table, the training
curves and the results) and the training curves as a PNG. This module decides what each page holds; the curves
themselves are drawn in curves.py, and how text and tables flow over the pages (wrapping, continued tables and
paragraphs) is layout.py's.

Everything the report draws is written for a reader, not a programmer: settings, layers and timings are named in
words (describe.py), and the Method section, the recipe written out from its config (method.py), credits the
published work the recipe borrows (credit.py).

Figures are built as matplotlib Figure objects without pyplot, so importing this module never touches the
caller's plotting backend. The files are written where the caller says: p2.py gives staged names, which
outputs.OutputSet renames into place only once every output is complete. The PDF carries no creation date, so the
same numbers give the same bytes.
"""

import warnings

import numpy as np
from matplotlib import rc_context
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from config import TTA_FRACTION_NOTE, Config, step_counts
from credit import airbench_rows, sources_paragraph
from curves import PAGE, epoch_ended, training_figure
from describe import CHANGED, TTA_WORDS, layer_names, readable, selective_share, settings_rows
from layer_table import layer_table, learned_params, total_params  # noqa: F401  (the report's public API)
from layout import paragraph_pages, rows_fitting, shorten, table_pages, wrap
from method import precision_paragraph, precision_words, selection_paragraph

MUON_TABLE_WIDTHS = (0.44, 0.4, 0.16)   # the hyper-parameter table: setting, value, airbench94_muon's value
SGD_TABLE_WIDTHS = (0.5, 0.5)           # the same without airbench94_muon's column (an SGD run)
SAMPLE_COLUMNS = 5        # test images per row on the last page
REQUIRED_KEYS = ("title", "preset", "seed", "config", "method", "architecture", "total_params", "history",
                 "test_accuracy", "test_accuracy_no_tta", "tta", "class_names", "per_class_accuracy", "confusion",
                 "samples", "timing", "device", "torch_version", "data_description", "command", "machine", "precision",
                 "precision_reason", "n_train", "n_validation", "selection_note")
TIMING_KEYS = ("data_prep_s", "warm_up_s", "train_s", "eval_s", "total_s")
# The recipes by their names on the command line (parse_args maps the earlier names to these).
PRESET_WORDS = {"fast": "airbench94_muon, Keller Jordan's public recipe (see Sources)",
                "cpu": "airbench94_muon, Keller Jordan's public recipe (see Sources), made cheaper for a CPU",
                "best": "the long recipe, after the 96 % airbench recipes (see Sources)"}


class ReportError(Exception):
    """The report cannot be written: its summary lacks what it needs; the message says which."""


# ----- the training curves as a PNG -----

def plot_training(history, png_path, config=None, n_train=50_000, n_validation=0):
    """Write the training curves as a PNG: loss and accuracy per epoch, and the learning rate per step (from
    `config` and the `n_train` training images; without a config, the rate at the end of each epoch)."""
    fig = training_figure(history, config=config, n_train=n_train, n_validation=n_validation)
    fig.savefig(png_path, format="png", dpi=100)


# ----- the PDF's pages -----

def _summary_page(summary):
    fig = Figure(figsize=PAGE)
    fig.text(0.5, 0.96, summary["title"], ha="center", va="top", fontsize=16, weight="bold")
    tested = int(np.asarray(summary["confusion"]).sum())
    fig.text(0.5, 0.925, f"Test accuracy on {tested:,} CIFAR-10 test images", ha="center", va="top", fontsize=11)
    if summary.get("data_note"):   # figures on other files than the official ones say so where they are read
        fig.text(0.5, 0.905, f"(data: {summary['data_note']})", ha="center", va="top", fontsize=9, style="italic")
    top = 0.885 if summary.get("data_note") else 0.9
    views = TTA_WORDS.get(summary["tta"], "several views")
    share = selective_share(summary["config"])
    which = f" for the {share} least sure" if share else ""
    results = [(summary["test_accuracy"], f"with test-time augmentation{which}\n({views})"),
               (summary["test_accuracy_no_tta"], "without test-time augmentation\n(one view of each image)")]
    if summary["tta"] == "none":
        results = [(summary["test_accuracy"], "no test-time augmentation")]
    for k, (accuracy, caption) in enumerate(results):
        x = 0.5 if len(results) == 1 else 0.3 + 0.4 * k
        fig.text(x, top, f"{100 * accuracy:.2f} %", ha="center", va="top", fontsize=24, weight="bold",
                 color="tab:blue" if k == 0 else "tab:gray")
        fig.text(x, top - 0.038, caption, ha="center", va="top", fontsize=9, linespacing=1.3)
    preset = summary["preset"]
    recipe = PRESET_WORDS.get(preset, f"the {preset} recipe".replace("-", " ").replace("_", " "))
    if (summary["selection_note"] or "").startswith(CHANGED):
        recipe += "; this run changed some of its settings (How the settings were chosen)"
    lines = [("Recipe", recipe),
             ("Seed", summary["seed"]),
             ("Device", summary["device"]), ("Machine", summary["machine"]), ("PyTorch", summary["torch_version"]),
             ("Parameters", _parameters(summary)),
             ("Time", _times(summary["timing"])),
             ("Data", summary["data_description"])]
    held_out, seen = summary["n_validation"], images_seen(summary)
    lines.append(("Images", f"trained on {summary['n_train']:,}" + (f" ({seen:,} seen: less than one epoch)"
                                                                  if seen < summary["n_train"] else "")
                  + (f", {held_out:,} held out for validation" if held_out else "")))
    lines.append(("Arithmetic", precision_words(summary["precision"], summary["precision_reason"])))
    lines.append(("Command", summary["command"]))
    y = top - 0.08
    for label, value in lines:
        wrapped = wrap(str(value), 78 if label == "Command" else 90) or [""]
        fig.text(0.08, y, label, fontsize=9, weight="bold", va="top")
        fig.text(0.22, y, "\n".join(wrapped), fontsize=9, va="top", family="monospace" if label == "Command"
                 else None)
        y -= 0.0175 * len(wrapped) + 0.005
    return fig, y - 0.02


def _parameters(summary):
    total, learned = summary["total_params"], summary.get("learned_params")
    return f"{total:,}" + (f" ({learned:,} learned, the others fixed)" if learned and learned != total else "")


def _times(timing):
    # (the set-up before timing is 0 on a CPU run uncompiled, and then left out)
    parts = [("data and network preparation", timing["data_prep_s"]),   # reading, the network and its stem
             ("set-up before timing (compiling, with --compile, and kernel selection)", timing["warm_up_s"]),
             ("training", timing["train_s"]), ("evaluation", timing["eval_s"])]
    # per-epoch validation, saving the model, ...: from the parts as shown, so that they add up to the total shown
    rest = max(0.0, round(timing["total_s"], 1) - sum(round(seconds, 1) for _, seconds in parts))
    parts += [("saving and the rest", rest), ("total", timing["total_s"])]
    return ", ".join(f"{what} {seconds:.1f} s" for what, seconds in parts if round(seconds, 1) or what == "training")


def _results_page(summary):
    names = list(summary["class_names"])
    fig = Figure(figsize=PAGE)
    bar_ax, conf_ax = fig.subplots(2, 1, height_ratios=(1, 1.6))
    fig.subplots_adjust(left=0.16, right=0.95, top=0.95, bottom=0.08, hspace=0.35)
    accuracy = 100 * np.asarray(summary["per_class_accuracy"], dtype=float)
    bars = bar_ax.bar(range(len(names)), accuracy, color="tab:blue")
    # inside a bar, clear of the mean line; above a bar too short to hold its label
    bar_ax.bar_label(bars, [f"{a:.1f}" if a >= 15 else "" for a in accuracy], fontsize=7, label_type="center",
                     color="white")
    bar_ax.bar_label(bars, [f"{a:.1f}" if a < 15 else "" for a in accuracy], fontsize=7, padding=2)
    bar_ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    views = "" if summary["tta"] == "none" else ", with test-time augmentation"
    bar_ax.set(ylim=(0, 112), ylabel="accuracy (%)", title=f"Per-class test accuracy{views}")
    bar_ax.axhline(100 * summary["test_accuracy"], color="tab:gray", ls="--", lw=1, label="all classes")
    bar_ax.legend(loc="upper right", fontsize=7)
    confusion = np.asarray(summary["confusion"], dtype=np.int64)
    conf_ax.imshow(confusion, cmap="Blues")
    for (i, j), count in np.ndenumerate(confusion):
        dark = count > confusion.max() / 2
        conf_ax.text(j, i, str(count), ha="center", va="center", fontsize=6, color="white" if dark else "black")
    conf_ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=7)
    conf_ax.set_yticks(range(len(names)), names, fontsize=7)
    conf_ax.set(xlabel="predicted", ylabel="true", title=f"Confusion matrix (test set, counts{views})")
    return fig


def images_seen(summary):
    """The training images the run went through, each counted once: all of them from one epoch's steps on (an
    epoch drops its ragged last batch, a different one each epoch), fewer in a run of under one epoch."""
    per_epoch, steps, _ = step_counts(summary["config"], summary["n_train"])
    return summary["n_train"] if steps >= per_epoch else steps * summary["config"]["batch_size"]


def method_section(summary):
    """The Method section: the recipe as training described it, then what the summary adds (the arithmetic, how
    the settings were chosen) and the credit for borrowed ideas."""
    config = summary["config"]
    paragraphs = [*summary["method"], ("Arithmetic", precision_paragraph(summary["precision"],
                                                                         summary["precision_reason"]))]
    note = summary["selection_note"] or ""
    if note and selective_share(config) and config.get("tta_fraction") == Config.tta_fraction:
        note = f"{note} {TTA_FRACTION_NOTE}".strip()
    chosen = selection_paragraph(summary["n_train"], summary["n_validation"], note,
                                 n_test=int(np.asarray(summary["confusion"]).sum()),
                                 evaluated=any(h.get("val_acc") is not None for h in summary["history"]),
                                 n_seen=images_seen(summary))
    if chosen:
        paragraphs.append(("How the settings were chosen", chosen))
    paragraphs.append(("Sources", sources_paragraph(config, memory_kept=summary.get("memory_kept", False))))
    return paragraphs


def _samples_page(summary):
    """Each group of test images under its title, SAMPLE_COLUMNS to a row: predicted (true), wrong ones in red."""
    names = list(summary["class_names"])
    fig = Figure(figsize=PAGE)
    fig.suptitle("Test images: predicted (true); wrong predictions in red", fontsize=12, weight="bold")
    cell_w, cell_h, y = 0.84 / SAMPLE_COLUMNS, 0.135, 0.93
    for group in summary["samples"]:
        fig.text(0.08, y, group["title"], fontsize=10, weight="bold", va="top")
        y -= 0.025
        images = np.asarray(group["images"])
        for k in range(len(images)):
            row, col = divmod(k, SAMPLE_COLUMNS)
            ax = fig.add_axes((0.08 + col * cell_w + 0.01, y - (row + 1) * cell_h + 0.02, cell_w - 0.02,
                               cell_h - 0.035))
            ax.imshow(images[k], interpolation="nearest")
            ax.axis("off")
            true, pred = int(group["labels"][k]), int(group["preds"][k])
            ax.set_title(f"{names[pred]} ({names[true]})", fontsize=8, color="black" if pred == true else "red")
        y -= -(-len(images) // SAMPLE_COLUMNS) * cell_h + 0.015
    return fig


def add_pages(pdf, summary):
    """Add every page of the report to `pdf` (anything with savefig(figure), such as PdfPages)."""
    config = summary["config"]
    if config.get("optimizer") == "muon":   # beside the public recipe's values, so what is borrowed shows
        rows = [(name, shorten(value, 50), theirs) for name, value, theirs in airbench_rows(config)]
        columns, widths = ("setting", "value", "airbench94_muon"), MUON_TABLE_WIDTHS
        heading = "Hyper-parameters of this run, beside airbench94_muon's"
    else:
        rows = [(name, shorten(value)) for name, value in settings_rows(config)]
        columns, widths, heading = ("setting", "value"), SGD_TABLE_WIDTHS, "Hyper-parameters of this run"
    table_pages(pdf, heading, columns, rows, widths, first_page=_summary_page(summary))
    for fig in paragraph_pages("Method", method_section(summary)):
        pdf.savefig(fig)
    names = layer_names(summary["architecture"])
    arch_rows = [(i, name, "x".join(map(str, row["output_shape"] or ["-"])), f"{row['params']:,}")
                 for i, (name, row) in enumerate(zip(names, summary["architecture"]))]
    arch_rows.append(("", "total", "", f"{summary['total_params']:,}"))
    table_pages(pdf, "Architecture (output shape per image)", ("#", "layer", "output", "parameters"),
                arch_rows, (0.06, 0.56, 0.2, 0.18))
    history = summary["history"]
    table_top = 0.3   # the per-epoch log goes under the curves where it fits whole, else on pages of its own
    fits = rows_fitting(table_top) >= len(history)
    curves = training_figure(history, portrait=True, room=table_top + 0.04 if fits else 0.0,
                             **_curve_inputs(summary))
    if not fits:
        pdf.savefig(curves)
    peak_lr = config["lr"]   # the main schedule's share of the peak (the whitening bias's is drawn above)
    epoch_rows = [(readable(epoch_ended(h, config["epochs"])), f"{h['train_loss']:.4f}",
                   f"{100 * h['train_acc']:.2f}",
                   "-" if h.get("val_acc") is None else f"{100 * h['val_acc']:.2f}", f"{h['lr'] / peak_lr:.3f}",
                   f"{h['seconds']:.1f}", f"{h['images_per_s']:,.0f}") for h in history]
    columns = ("epoch", "train loss", "train acc %", "val. acc %, one view", "lr / peak at end", "seconds", "images/s")
    widths = (0.09, 0.13, 0.14, 0.2, 0.13, 0.13, 0.18)
    if all(h.get("val_acc") is None for h in history):   # no images held out: no column of dashes
        epoch_rows = [row[:3] + row[4:] for row in epoch_rows]
        columns, widths = columns[:3] + columns[4:], (0.1, 0.16, 0.16, 0.2, 0.16, 0.22)
    table_pages(pdf, "Per-epoch log", columns, epoch_rows, widths, first_page=(curves, table_top) if fits else None)
    pdf.savefig(_results_page(summary))
    pdf.savefig(_samples_page(summary))


def _curve_inputs(summary):
    """What the curves need beyond the history: the config and the image counts."""
    return dict(config=summary["config"], n_validation=summary["n_validation"], n_train=summary["n_train"])


def write_report(summary, pdf_path, png_path):
    """Write the multi-page PDF report and the training-curve PNG (see the module docstring)."""
    missing = [key for key in REQUIRED_KEYS if key not in summary]
    missing += [f"timing.{key}" for key in TIMING_KEYS if key not in summary.get("timing", {})]
    if missing:
        raise ReportError(f"report summary lacks {', '.join(missing)}; the training code must fill them in.")

    # every text as typed: a $ in a data note or a path is not the start of a formula (matplotlib's mathtext); a
    # letter the font lacks (a note in Chinese, say) drawn as a box, without a warning that -W error would make fatal
    with rc_context({"text.parse_math": False}), warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"Glyph \d+ .* missing from font", UserWarning)
        with PdfPages(pdf_path, metadata={"CreationDate": None, "Title": summary["title"]}) as pdf:
            add_pages(pdf, summary)
        plot_training(summary["history"], png_path, **_curve_inputs(summary))
