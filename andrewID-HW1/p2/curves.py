"""The training curves of the p2 report: loss and accuracy per epoch and the learning rate step by step, as a
wide figure (report.py writes it as the PNG) or stacked on a letter page of the PDF.

Figures are built as matplotlib Figure objects without pyplot, so importing this module never touches the
caller's plotting backend.
"""
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from config import step_counts
from train import lr_schedules

PAGE = (8.5, 11.0)        # US letter, portrait (inches): the report's page


def lr_per_step(config, n_train):
    """(epoch of each step, {curve label: learning rate as a fraction of its peak}), as training set it step by
    step; None when the config lacks what the schedule needs."""
    try:
        steps_per_epoch, total_steps, whiten_steps = step_counts(config, n_train)
        schedules = lr_schedules(total_steps, config["warmup_frac"], whiten_steps)
    except (KeyError, TypeError):
        return None
    epochs = np.arange(total_steps + 1) / steps_per_epoch
    if whiten_steps > 0:   # the whitening bias on its own schedule (Muon)
        return epochs, {"all other parameters": schedules["main"], "whitening-layer bias": schedules["whiten"]}
    return epochs, {"all parameters": schedules["main"]}


def _loss_labels(config):
    """(title, y label) of the loss panel: which loss it is, and its label smoothing."""
    smoothing = config.get("label_smoothing")
    if smoothing:
        return "Training loss (label-smoothed cross-entropy)", f"loss (label smoothing {smoothing:g})"
    return "Training loss (cross-entropy)", "loss"


def epoch_ended(row, run_epochs):
    """Where a history row's epoch ended: a run of 0.3 epochs at 0.3, not at 1 (the curves and the log alike)."""
    return min(row["epoch"], run_epochs)


def _plot_curves(axes, history, config, n_train, n_validation):
    loss_ax, acc_ax, lr_ax = axes
    config = config or {}
    run_epochs = config.get("epochs") or len(history)
    epochs = [epoch_ended(h, run_epochs) for h in history]
    loss_ax.plot(epochs, [h["train_loss"] for h in history], "o-", color="tab:blue", ms=3)
    title, ylabel = _loss_labels(config)
    loss_ax.set(title=title, xlabel="epoch", ylabel=ylabel)
    acc_ax.plot(epochs, [100 * h["train_acc"] for h in history], "o-", ms=3, label="training batches (augmented)")
    validated = [h for h in history if h.get("val_acc") is not None]
    held_out = f"{n_validation:,} held-out images" if n_validation else "held-out images"
    if validated:
        acc_ax.plot([epoch_ended(h, run_epochs) for h in validated], [100 * h["val_acc"] for h in validated], "s-",
                    ms=3, label=f"validation ({held_out}, one view)")
    missing = " (the held-out images were not evaluated)" if n_validation else " (no validation images in this run)"
    acc_ax.set(title="Accuracy" + ("" if validated else missing), xlabel="epoch", ylabel="%")
    acc_ax.legend(loc="best", fontsize=8)   # where it covers the fewest points
    schedule = lr_per_step(config, n_train)
    if schedule:
        step_epochs, curves = schedule
        for label, values in curves.items():
            lr_ax.plot(step_epochs, values, "-", lw=1.2, label=label)
        if len(curves) > 1:
            lr_ax.legend(loc="best", fontsize=8)
        lr_ax.set(title="Learning rate, set at every step", xlabel="epoch", ylabel="fraction of the peak")
    else:   # a config without the schedule's fields (an older summary): the rate each epoch ended with
        lr_ax.plot(epochs, [h["lr"] for h in history], "-", color="tab:gray")
        lr_ax.set(title="Learning rate at the end of each epoch", xlabel="epoch")
    for ax in axes:
        ax.grid(alpha=0.3)
        if run_epochs >= 2:   # whole epochs on the axis; a shorter run keeps matplotlib's fractions
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def training_figure(history, portrait=False, config=None, n_train=50_000, n_validation=0, room=0.0):
    """Three panels side by side for the PNG, or stacked on a letter page for the PDF, leaving the page's lowest
    `room` (a fraction) free for a table."""
    # fixed margins rather than constrained layout: same look for these fixed sizes, and much faster
    if portrait:
        fig = Figure(figsize=PAGE)
        axes = fig.subplots(3, 1)
        fig.subplots_adjust(left=0.12, right=0.95, top=0.92, bottom=0.06 + room, hspace=0.5 if room else 0.35)
    else:
        fig = Figure(figsize=(12, 3.6))
        axes = fig.subplots(1, 3)
        fig.subplots_adjust(left=0.06, right=0.99, top=0.91, bottom=0.14, wspace=0.22)
    if history:
        _plot_curves(axes, history, config, n_train, n_validation)
    if portrait or not history:
        fig.suptitle("Training curves" if history else "no epochs recorded", fontsize=13, weight="bold")
    return fig
