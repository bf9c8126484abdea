"""Count the operations one training step of a p2 preset issues, by phase: forward, backward, and each optimizer.

On a GPU a step whose kernels are short waits on the host, which pays per operation called and per kernel launched;
these counts measure that cost without a GPU. Under torch.profiler, on random data, on the given device (CUDA if
there is one, else the CPU), it counts ATen operations two ways: calls (those the Python code makes: each pays the
interpreter and the dispatcher) and leaves (those that call no other ATen operation: on a GPU each is a kernel
launch or more, except that a list operation, torch._foreach_*, is one leaf there and one leaf per tensor on a CPU).

    python bench/p2_ops.py [--preset fast] [--device cpu|cuda] [--batch-size 64]

With --time N it also times N steps at the preset's own batch size (wall clock after a sync, and the device's
busy time from the profiler) and lists the operations that take the most device time: the step's floor on a GPU
and how far the host keeps it from that floor. --variant and --compile time a candidate change against the same
step, and --set a config field changed, for a GPU session to measure several in one call:

    python bench/p2_ops.py --time 20 --variant adaptive-pool    (the global max-pool as it was)
    python bench/p2_ops.py --time 20 --set channels_last=false  (any field, as p2.py --set takes it)
    python bench/p2_ops.py --time 20 --compile max-autotune     (the network compiled; the optimizers eager)
    python bench/p2_ops.py --time 20 --compile reduce-overhead --variant max-pool2d-global
    python bench/p2_ops.py --time 20 --graphed-muon             (Muon's step replayed from a CUDA graph)
    python bench/p2_ops.py --time 20 --one-batch-muon           (Muon's filter banks orthogonalised in one batch)
    python bench/p2_ops.py --time 20 --precision fp16           (p2's precision choices; default: the device's)
    python bench/p2_ops.py --time 20 --precision fp16 --muon-host-check   (Muon as before 2026-12-04: the loss
                                                   scaler reads its overflow check on the host, a wait each step)
"""
import argparse
import collections
import contextlib
import itertools
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile, record_function

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "andrewID-HW1", "p2"))
sys.path.insert(1, HERE)
from config import get_preset, parse_setting  # noqa: E402
from model import build_model  # noqa: E402
from p2 import compile_model  # noqa: E402
from muon import Muon  # noqa: E402
from precision import CHOICES as PRECISIONS, choose_precision  # noqa: E402
from predict import normalize, to_memory_format  # noqa: E402
from train import make_optimizers, normalized_set  # noqa: E402

from cuda_graph import GraphedStep, graph_muons  # noqa: E402  (bench/)
from muon_variants import one_batch_muon  # noqa: E402  (bench/)


def phase_of(event, phases):
    while event is not None and event.name not in phases:
        event = event.cpu_parent
    return event.name if event is not None else None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="fast")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--batch-size", type=int, help="default: 64 to count (the count does not depend on it), the "
                                                  "preset's own to time")
    p.add_argument("--time", type=int, default=0, metavar="N", help="also time N steps at the preset's batch size")
    p.add_argument("--variant", choices=sorted(VARIANTS), default="as-is", help="a change to time (with --time)")
    p.add_argument("--compile", metavar="MODE", help="time the network compiled in this torch.compile mode")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="change a config field, as p2.py --set does (repeatable)")
    p.add_argument("--precision", choices=PRECISIONS, default="auto", help="as p2.py --precision")
    p.add_argument("--graphed-muon", action="store_true", help="Muon's step replayed from a CUDA graph (GPU only)")
    p.add_argument("--one-batch-muon", action="store_true",
                   help="Muon's filter banks orthogonalised in one zero-padded batch (bench/muon_variants.py)")
    p.add_argument("--muon-host-check", action="store_true",
                   help="fp16: the GradScaler's general path for Muon (unscale, read the overflow check on the host)")
    args = p.parse_args()
    if args.muon_host_check:
        Muon._step_supports_amp_scaling = False   # for this process: GradScaler.step then takes its general path
    device = torch.device(args.device)
    precision = choose_precision(args.precision, device)
    try:
        cfg = get_preset(args.preset).override(**dict(parse_setting(s) for s in args.set))
    except ValueError as e:
        p.error(str(e))
    name = "@".join([args.preset, *args.set])   # as bench/p2_runs.py names a run with settings
    print(f"precision: {precision.describe()}")
    with one_batch_muon() if args.one_batch_muon else contextlib.nullcontext():
        count_ops(cfg.override(batch_size=args.batch_size or 64), name, device, precision, args.graphed_muon)
        if args.time:
            time_steps(cfg.override(batch_size=args.batch_size), name, device, args.time, args.variant,
                       args.compile, precision, args.graphed_muon)


def adaptive_pool(model):
    """The global max-pool as it was before 2026-11-27's H100 profile: nn.AdaptiveMaxPool2d(1), then flatten."""
    model.pool = torch.nn.Sequential(torch.nn.AdaptiveMaxPool2d(1), torch.nn.Flatten())
    return model


class MaxPool2dGlobal(torch.nn.Module):
    """The global max-pool as F.max_pool2d over the whole map, which the compiler fuses as it does the groups' pools
    (the compiled amax gave NaN; the compiled adaptive pool runs torch's own slow kernels)."""

    def forward(self, x):
        return F.max_pool2d(x, x.shape[-2:]).flatten(1)


def max_pool2d_global(model):
    model.pool = MaxPool2dGlobal()
    return model


class WhitenAsSum(torch.nn.Module):
    """The whitening conv (3 input channels, 2x2, frozen) as a bias plus 12 products of shifted input planes, which
    the compiler fuses into one elementwise kernel. cuDNN runs that conv with a generic kernel (3 channels fit none
    of its tensor-core ones): `convolve_common_engine_float_NHWC`, 0.29 ms of a 6.9 ms compiled gpu-fast step on an
    H100, for 12 MB read and 92 MB written. Eager, it would be 24 kernels: for compiled steps only."""

    def __init__(self, whiten):
        super().__init__()
        self.whiten = whiten   # same parameters, same names below "whiten." (the optimizers find its bias so)

    def forward(self, x):
        weight, bias, k = self.whiten.weight, self.whiten.bias, self.whiten.kernel_size[0]
        height, width = x.shape[-2] - k + 1, x.shape[-1] - k + 1
        out = bias.view(1, -1, 1, 1)
        for c, a, b in itertools.product(range(x.shape[1]), range(k), range(k)):   # channel, row and column taps
            out = out + x[:, c:c + 1, a:a + height, b:b + width] * weight[:, c, a, b].view(1, -1, 1, 1)
        return out.to(x.dtype)


def whiten_as_sum(model):
    model.whiten = WhitenAsSum(model.whiten)
    return model


# Changes to the network, timed against the step as it is without touching p2: name -> function(model) -> model.
VARIANTS = {"as-is": lambda model: model, "adaptive-pool": adaptive_pool, "max-pool2d-global": max_pool2d_global,
            "whiten-as-sum": whiten_as_sum}


def make_step(cfg, device, variant="as-is", compile_mode=None, precision=None, graphed_muon=False):
    """A training step of `cfg` on one random batch (fixed), as train.train takes it (autocast and loss scaling of
    `precision`, None: the device's own), after a first step that creates the optimizer state (and compiles, with
    `compile_mode`); returns (step, names of the optimizers' phases)."""
    precision = precision or choose_precision("auto", device)
    torch.manual_seed(0)
    images = torch.randint(0, 256, (cfg.batch_size, 3, 32, 32), dtype=torch.uint8, device=device)
    labels = torch.randint(0, 10, (cfg.batch_size,), device=device)
    model = build_model(cfg).to(device)
    model.whiten.fit(normalize(images))
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizers = make_optimizers(model, cfg, precision)
    if graphed_muon:
        optimizers = graph_muons(optimizers)
    scaler = precision.grad_scaler(device)
    names = [f"optimizer {type(o.optimizer).__name__} (CUDA graph)" if isinstance(o, GraphedStep)
             else f"optimizer {type(o).__name__}" for o in optimizers]
    net = VARIANTS[variant](model)
    if compile_mode:
        net = compile_model(net, device, compile_mode)   # as p2.py --compile=MODE does
    # The network's input as training makes it: the GPU presets gather each batch from the set normalised once;
    # the cpu preset normalises each batch.
    pixels = normalized_set(images, precision) if cfg.alternate_flips else None
    order = torch.randperm(cfg.batch_size, device=device)

    def batch():
        return pixels[order] if cfg.alternate_flips else normalize(images)

    def step():
        with record_function("forward"), precision.autocast(device):
            loss = F.cross_entropy(net(to_memory_format(batch(), cfg)).float(), labels,
                                   label_smoothing=cfg.label_smoothing)
        for optimizer in optimizers:
            optimizer.zero_grad(set_to_none=True)
        with record_function("backward"):
            scaler.scale(loss).backward()
        for name, optimizer in zip(names, optimizers):
            with record_function(name):
                scaler.step(optimizer)
        scaler.update()
        return loss

    step()   # the first step creates the optimizer state: count a later one (with a graphed Muon, an eager one)
    return step, names


def count_ops(cfg, preset, device, precision=None, graphed_muon=False):
    step, names = make_step(cfg, device, precision=precision, graphed_muon=graphed_muon)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    phases = ["forward", "backward", *names]
    calls, leaves = collections.Counter(), collections.Counter()
    for event in prof.events():
        if not event.name.startswith("aten::"):
            continue
        if event.cpu_parent is None or not event.cpu_parent.name.startswith("aten::"):
            calls[phase_of(event, phases)] += 1
        if not any(child.name.startswith("aten::") for child in event.cpu_children):
            leaves[phase_of(event, phases)] += 1
    print(f"preset {preset}, device {device}, torch {torch.__version__}: ATen operations in one step")
    print(f"  {'':<22} {'calls':>6} {'leaves':>7}")
    for phase in phases:
        print(f"  {phase:<22} {calls[phase]:>6} {leaves[phase]:>7}")
    print(f"  {'total':<22} {sum(calls[p] for p in phases):>6} {sum(leaves[p] for p in phases):>7}")


def time_steps(cfg, preset, device, n, variant="as-is", compile_mode=None, precision=None, graphed_muon=False):
    start = time.perf_counter()
    step, _ = make_step(cfg, device, variant, compile_mode, precision, graphed_muon)
    set_up = time.perf_counter() - start
    cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    for _ in range(3):   # with a graphed Muon, the last of these captures Muon's step: the timed steps replay it
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(n):
        loss = step()
    sync()
    wall = (time.perf_counter() - t0) / n
    # A fast step that computes garbage is no finding: the compiled global max-pool once gave NaN at full speed.
    if not torch.isfinite(loss):
        print(f"\nWARNING: the loss is {loss.item()} after {n + 4} steps: these timings are of a broken step")
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        for _ in range(n):
            step()
        sync()
    key = "self_device_time_total" if cuda else "self_cpu_time_total"
    averages = prof.key_averages()
    # Busy time as the table's footer counts it: on a GPU the kernels alone (not the operations that launch them,
    # nor the annotated regions, which would count each kernel twice); on a CPU every operation's own time.
    busy = sum(getattr(e, key) for e in averages
               if not cuda or (e.device_type == DeviceType.CUDA and not e.is_user_annotation)) / n / 1e6
    compiled = f", compiled ({compile_mode}; set-up {set_up:.0f} s)" if compile_mode else ""
    print(f"\npreset {preset}, variant {variant}{compiled}, batch {cfg.batch_size}, device {device}: "
          f"{1e3 * wall:.2f} ms a step (wall, mean of {n}); the device is busy {1e3 * busy:.2f} ms of it (profiled)")
    print(averages.table(sort_by=key, row_limit=25, max_name_column_width=60))


if __name__ == "__main__":
    main()
