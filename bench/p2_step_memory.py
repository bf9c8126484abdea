"""How much memory a p2 training step holds, counted on the CPU: what a GPU with too little memory needs to know.

    python bench/p2_step_memory.py [--preset fast] [--precision bf16] [--set FIELD=VALUE ...]

One training step at the preset's batch size on random 32x32 images (forward, loss, backward, both optimizers), with
autograd's saved tensors counted as they are saved (each storage once): the activations kept for the backward pass,
which dominate a step's memory and scale with the batch. fp16 and bf16 save the same sizes. Also the parameters,
their gradients (the same size again) and the optimizers' state. A GPU adds to these its own context, the
convolution libraries' workspaces, the caching allocator's slack and the data set (uint8, 150 MB), so the figures are
a floor for its peak, not the peak itself.
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(os.path.dirname(HERE), "andrewID-HW1", "p2")]

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from config import get_preset, parse_setting  # noqa: E402
from p2_cpu_precisions import recipe_network  # noqa: E402
from precision import CHOICES, Precision  # noqa: E402


def step_memory(cfg, precision="bf16"):
    """{"saved": bytes autograd saves for the backward pass, "params": bytes of the parameters (their gradients take
    as much), "optimizer": bytes of the optimizers' state} for one training step of `cfg` on the CPU."""
    chosen = Precision(precision, "bench")
    model, optimizers, memory_format = recipe_network(cfg, chosen)
    model.train()
    x = torch.randn(cfg.batch_size, 3, 32, 32).contiguous(memory_format=memory_format)
    y = torch.randint(0, 10, (cfg.batch_size,))
    storages = {}

    def count(tensor):
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = max(storages.get(storage.data_ptr(), 0), storage.nbytes())
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(count, lambda tensor: tensor), chosen.autocast(torch.device("cpu")):
        loss = F.cross_entropy(model(x).float(), y, label_smoothing=cfg.label_smoothing)
    loss.backward()
    for optimizer in optimizers:
        optimizer.step()
    state = [value for optimizer in optimizers for per_param in optimizer.state.values()
             for value in per_param.values() if torch.is_tensor(value)]
    return dict(saved=sum(storages.values()), params=sum(p.numel() * p.element_size() for p in model.parameters()),
                optimizer=sum(value.numel() * value.element_size() for value in state))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="fast")
    p.add_argument("--precision", default="bf16", choices=[c for c in CHOICES if c != "auto"])
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    args = p.parse_args(argv)
    cfg = get_preset(args.preset).override(**dict(parse_setting(s) for s in args.set))
    found = step_memory(cfg, args.precision)
    gib = {key: value / 2 ** 30 for key, value in found.items()}
    print(f"{args.preset}, {args.precision}, batch {cfg.batch_size}: activations saved for the backward pass "
          f"{gib['saved']:.2f} GiB; parameters {gib['params']:.3f} GiB and their gradients as much; optimizer state "
          f"{gib['optimizer']:.3f} GiB; in all {gib['saved'] + 2 * gib['params'] + gib['optimizer']:.2f} GiB")
    return found


if __name__ == "__main__":
    main()
