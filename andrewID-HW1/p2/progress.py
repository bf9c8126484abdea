"""Console progress of training: a tqdm bar on a terminal; in a log file (stdout not a terminal), one plain line
about every 30 seconds instead, since a bar's carriage returns would flood the log and a hidden bar says nothing.
"""
import sys
import threading
import time

from tqdm import tqdm

from devices import synchronize

LOG_INTERVAL_S = 30.0
BAR_EVERY_STEPS = 10   # the bar's numbers need a device sync; refresh them every few steps only


class EpochProgress:
    """Iterate over the steps of one epoch; ask due(i) whether to report, then report(i, loss, acc).

    Reading the loss waits for the device, so due() is cheap and says yes only when a report is shown.
    """

    def __init__(self, epoch, n_steps, batch_size, stream=None, interval_s=LOG_INTERVAL_S, clock=time.perf_counter,
                 quiet=False):
        self.epoch, self.n_steps, self.batch_size = epoch, n_steps, batch_size
        self.stream = sys.stdout if stream is None else stream
        self.interval_s, self.clock, self.quiet = interval_s, clock, quiet
        self.start = self.last_line = clock()
        on_terminal = hasattr(self.stream, "isatty") and self.stream.isatty() and not quiet
        # the Ticker redraws the bar every few seconds, so its clock moves even while one step takes a minute;
        # the loss and speed beside it refresh every BAR_EVERY_STEPS steps
        self.bar = tqdm(total=n_steps, desc=f"epoch {epoch}", unit="step", leave=False, dynamic_ncols=True,
                        file=self.stream, mininterval=1.0) if on_terminal else None
        self.ticker = Ticker(self.bar) if self.bar is not None else None

    def __iter__(self):
        try:
            for i in range(self.n_steps):
                yield i
                if self.bar is not None:
                    self.bar.update(1)
        finally:   # also on Ctrl-C: clear the bar, so the message after it starts on a clean line
            self.close()

    def due(self, i):
        if self.quiet:
            return False
        if self.bar is not None:
            return i % BAR_EVERY_STEPS == BAR_EVERY_STEPS - 1 or i == self.n_steps - 1
        return self.clock() - self.last_line >= self.interval_s and i < self.n_steps - 1  # the epoch line follows

    def write(self, line, log=print):
        """A line of text above the bar (or through `log` without one)."""
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            log(line)

    def report(self, i, loss, acc):
        """Show the running mean loss after step i (0-based), and on a progress bar the accuracy too."""
        elapsed = self.clock() - self.start
        speed = (i + 1) * self.batch_size / max(elapsed, 1e-9)
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{loss:.3f}", acc=f"{100 * acc:.1f}%", img_s=f"{speed:.0f}")
            return
        self.last_line = self.clock()
        rate = f"{speed:.0f}" if speed >= 10 else f"{speed:.1f}"
        print(f"epoch {self.epoch}  step {i + 1}/{self.n_steps}  loss {loss:.4f}  {rate} img/s  "
              f"{elapsed:.0f} s", file=self.stream, flush=True)

    def close(self):
        if self.ticker is not None:
            self.ticker.stop()
        if self.bar is not None:
            self.bar.close()   # tqdm allows closing twice


class Ticker:
    """Redraws a tqdm bar every few seconds from a thread, so its elapsed time moves during a step that takes a
    minute (a CPU without a GPU: one step of a large batch can); tqdm's own monitor only slows a bar down."""

    def __init__(self, bar, every_s=5.0):
        self.bar, self.stopped = bar, threading.Event()
        self.thread = threading.Thread(target=self._run, args=(every_s,), daemon=True)
        self.thread.start()

    def _run(self, every_s):
        while not self.stopped.wait(every_s):
            self.bar.refresh()

    def stop(self):
        self.stopped.set()


class Progress:
    """Iterate over range(total) with progress shown: a tqdm bar on a terminal; in a log, a line every ~30 s.

    For the waits outside training (evaluating the test set): nothing is shown in the first few seconds, so a short
    evaluation stays quiet in a log."""

    def __init__(self, total, desc, stream=None, interval_s=LOG_INTERVAL_S, clock=time.perf_counter):
        self.total, self.desc, self.interval_s, self.clock = total, desc, interval_s, clock
        self.stream = sys.stdout if stream is None else stream
        self.on_terminal = hasattr(self.stream, "isatty") and self.stream.isatty()

    def __iter__(self):
        if self.on_terminal:
            bar = tqdm(range(self.total), desc=self.desc, unit="batch", leave=False, dynamic_ncols=True,
                       file=self.stream, mininterval=1.0)
            ticker = Ticker(bar)
            try:
                yield from bar
            finally:
                ticker.stop()
                bar.close()
            return
        start = last = self.clock()
        for i in range(self.total):
            yield i
            now = self.clock()
            if now - last >= self.interval_s and i < self.total - 1:
                last = now
                print(f"{self.desc}: {i + 1}/{self.total} batches, {now - start:.0f} s", file=self.stream,
                      flush=True)


class TimeEstimate:
    """Says early in training how long the whole run will take at the rate measured so far. Where small images came
    first, it measures again on the first full-size steps and says the new figure if it differs by over a tenth: a
    step's cost does not follow the image's area exactly (a 24x24 step took 0.46 of a 32x32 one on an AMD EPYC with
    AVX512-BF16, 0.57-0.70 on a Xeon with AMX). The first step of each size (memory allocation, kernel selection)
    is left out of the rates."""
    AFTER_S = 10.0     # measure this long, but at least 2 steps, before estimating
    LONG_S = 20 * 60   # past this, name the faster way
    SHORT_S = 60       # below this, say nothing

    def __init__(self, total_steps, device, step_costs=None):
        """`step_costs`: each step's relative cost (small images cost less), else all equal."""
        self.total_steps, self.device = total_steps, device
        self.costs = list(step_costs) if step_costs is not None else [1.0] * total_steps
        self.last_size_from = total_steps - 1   # the first step of the final run of equal costs
        while self.last_size_from > 0 and self.costs[self.last_size_from - 1] == self.costs[-1]:
            self.last_size_from -= 1
        self.begin, self.done, self.first = None, total_steps < 3, None

    def _now(self):
        synchronize(self.device)
        return time.perf_counter()

    def after_step(self, step):
        """Call after each step (0-based); returns an estimate's line when there is one to say, else None. Waits for
        the device only at the steps it times."""
        if self.done:
            return None
        if step == 0:
            self.begin = self.since = self._now()
            return None
        if step == self.last_size_from and self.first is not None:
            self.since = self._now()   # the full-size steps are timed from the end of their first
            return None
        if self.first is None:
            return self._first_estimate(step)
        if step > self.last_size_from:
            return self._second_estimate(step)
        return None

    def _measured(self, step, from_step):
        """Seconds since the end of step `from_step`, or None while fewer than 2 steps or AFTER_S have passed."""
        elapsed = time.perf_counter() - self.since
        if step - from_step < 2 or elapsed < self.AFTER_S and step < self.total_steps - 1:
            return None
        return self._now() - self.since if self.device.type != "cpu" else elapsed

    def _first_estimate(self, step):
        elapsed = self._measured(step, 0)
        if elapsed is None:
            return None
        seconds = elapsed / sum(self.costs[1:step + 1]) * sum(self.costs)
        self.first = seconds
        # a GPU: over before an estimate would help; no second figure either where the first saw full-size steps
        self.done = seconds < self.SHORT_S or step >= self.last_size_from
        if seconds < self.SHORT_S:
            return None
        return (f"expected training time: about {_duration(seconds)} for {self.total_steps} steps "
                f"({elapsed / step:.2f} s a step so far){self._hint(seconds)}")

    def _second_estimate(self, step):
        elapsed = self._measured(step, self.last_size_from)
        if elapsed is None:
            return None
        self.done = True
        seconds_a_step = elapsed / (step - self.last_size_from)
        seconds = (self.since + elapsed - self.begin + seconds_a_step * (self.total_steps - 1 - step)
                   + self.first * self.costs[0] / sum(self.costs))   # step 0, untimed, at the first rate
        if abs(seconds - self.first) <= 0.1 * self.first:
            return None
        return (f"expected training time, measured again on full-size images: about {_duration(seconds)} in all "
                f"({seconds_a_step:.2f} s a step){self._hint(seconds) if self.first <= self.LONG_S else ''}")

    def _hint(self, seconds):
        if seconds > self.LONG_S and self.device.type == "cpu":
            return ("; a GPU trains far faster, in seconds to minutes (for example Colab's free GPU, where "
                    "python p2.py picks it up)")
        return ""


def _duration(seconds):
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 90 * 60 else f"{seconds / 3600:.1f} h"


def epoch_line(row):
    """The console line at the end of an epoch, accuracies in percent."""
    val = "" if row.get("val_acc") is None else f"  validation acc {100 * row['val_acc']:5.2f}%"
    return (f"epoch {row['epoch']:2d}  loss {row['train_loss']:.4f}  train acc {100 * row['train_acc']:5.2f}%{val}"
            f"  {row['seconds']:6.1f}s  {row['images_per_s']:.0f} img/s")
