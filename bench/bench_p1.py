"""Time p1's NumPy MLP against PyTorch on the CPU: same network, initial weights, data order, augmentation,
learning-rate schedule and momentum, float32, the same number of threads. `make bench-p1` runs it.

Per epoch only the training pass is timed; the test error is measured after each epoch, outside the timer, to
find when each framework first reaches the target. Environment: MNIST_DIR (as for p1), BENCH_THREADS (default:
all CPUs), BENCH_EPOCHS (default: the default preset's).
"""
import os
import sys
import time

THREADS = int(os.environ.get("BENCH_THREADS") or os.cpu_count())
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(THREADS)  # must be set before numpy loads its BLAS

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "andrewID-HW1", "p1"))
import p1  # noqa: E402

TARGET = 0.013


def torch_model(mlp):
    """nn.Sequential with p1's initial weights (p1 stores W as (in, out); nn.Linear as (out, in))."""
    layers = []
    for i, (W, b) in enumerate(zip(mlp.W, mlp.b)):
        linear = torch.nn.Linear(*W.shape)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W.T.copy()))
            linear.bias.copy_(torch.from_numpy(b.reshape(-1).copy()))
        layers.append(linear)
        if i < mlp.nlayers - 1:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


class Chosen(Exception):
    """Stops p1.main() at its hyper-parameter block, carrying the default preset."""


def default_preset():
    """The default preset from the hyper-parameter block in p1.main(), which hands its presets to choose_preset."""
    def capture(presets):
        raise Chosen(dict(presets["default"]))
    original = p1.choose_preset
    p1.choose_preset = capture
    try:
        p1.main()
    except Chosen as chosen:
        return chosen.args[0]
    finally:
        p1.choose_preset = original
    raise RuntimeError("p1.main() never chose its hyper-parameters")


def numpy_epoch(mlp, images, batch_size):
    """One training pass as p1.get_training_stats makes it: `images` shuffles and augments, mlp.step() follows
    the schedule."""
    for b in range(0, len(images), batch_size):
        mlp.train()
        mlp.forward(images[b:b + batch_size])
        mlp.backward(images.labels[b:b + batch_size])
        mlp.step()


def torch_epoch(model, optimizer, x, y, config, rng, schedule, augment, epoch):
    """The same batches as numpy_epoch: same permutation and augmentation draws from an equal rng."""
    batch_size = config["batch_size"]
    steps = -(-len(x) // batch_size)
    order = rng.permutation(len(x))
    model.train()
    for step in range(steps):
        idx = order[step * batch_size:(step + 1) * batch_size]
        batch = augment(x[idx], rng)
        for group in optimizer.param_groups:
            group["lr"] = schedule(epoch * steps + step)
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(batch)), torch.from_numpy(y[idx]))
        loss.backward()
        optimizer.step()


def numpy_test_error(mlp, x, labels):
    mlp.eval()
    return float((mlp(x).argmax(axis=1) != labels).mean())


def torch_test_error(model, x, y):
    model.eval()
    with torch.no_grad():
        return float((model(torch.from_numpy(x)).argmax(1).numpy() != y).mean())


def run(name, train_one_epoch, test_error, nepochs):
    times, errors = [], []
    for epoch in range(nepochs):
        start = time.perf_counter()
        train_one_epoch(epoch)
        times.append(time.perf_counter() - start)
        errors.append(test_error())
        print(f"  {name:7s} epoch {epoch + 1:2d}: {times[-1]:6.2f} s, test error {100 * errors[-1]:.2f}%", flush=True)
    reached = next((sum(times[:k + 1]) for k, e in enumerate(errors) if e <= TARGET), None)
    return {"name": name, "epoch_s": float(np.median(times)), "reach_s": reached, "error": errors[-1],
            "total_s": sum(times)}


def main():
    if any(arg in ("-h", "--help") for arg in sys.argv[1:]):
        print(__doc__.strip())
        return 0
    torch.set_num_threads(THREADS)
    try:
        config = default_preset()   # p1.main() reads the data before its hyper-parameter block
        mnist_dir = p1.find_mnist_dir()
        pixels, labels = p1.load_mnist_csv(os.path.join(mnist_dir, "mnist_train.csv"))
        test_pixels, test_labels = p1.load_mnist_csv(os.path.join(mnist_dir, "mnist_test.csv"))
    except p1.MnistDataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    nepochs = int(os.environ.get("BENCH_EPOCHS") or config["num_epochs"])
    n_val = p1.VALIDATION_ROWS
    x, y = p1.preprocess(pixels)[:-n_val], labels[:-n_val]
    test_x = p1.preprocess(test_pixels)
    schedule = p1.warmup_cosine(config["lr"], config["warmup"], nepochs * -(-len(x) // config["batch_size"]))
    augment = p1.make_augment(config)
    print(f"network {[784, *config['hiddens'], 10]}, {nepochs} epochs of {len(x)} images, batch "
          f"{config['batch_size']}, {THREADS} threads, numpy {np.__version__}, torch {torch.__version__}", flush=True)

    np.random.seed(config["seed"])
    mlp = p1.MLP(784, 10, config["hiddens"], config["activations"], p1.he_weight_init, p1.zeros_bias_init,
                 p1.SoftmaxCrossEntropy(), config["lr"], momentum=config["momentum"], lr_schedule=schedule)
    model = torch_model(mlp)  # copied before training so both start from the same weights
    optimizer = torch.optim.SGD(model.parameters(), lr=config["lr"], momentum=config["momentum"])
    images = p1.TrainingImages(x, p1.get_one_hot(y, 10), np.random.default_rng(config["seed"]), augment, nepochs)
    rng_torch = np.random.default_rng(config["seed"])
    results = [
        run("numpy", lambda e: numpy_epoch(mlp, images, config["batch_size"]),
            lambda: numpy_test_error(mlp, test_x, test_labels), nepochs),
        run("pytorch", lambda e: torch_epoch(model, optimizer, x, y, config, rng_torch, schedule, augment, e),
            lambda: torch_test_error(model, test_x, test_labels), nepochs),
    ]
    base = results[1]["epoch_s"]
    print(f"\n| framework | s / epoch (median) | vs PyTorch | time to <= {100 * TARGET:.1f}% test error "
          f"| final test error |\n|---|---|---|---|---|")
    for r in results:
        reach = f"{r['reach_s']:.1f} s" if r["reach_s"] is not None else "not reached"
        print(f"| {r['name']} | {r['epoch_s']:.2f} | {r['epoch_s'] / base:.2f}x | {reach} | "
              f"{100 * r['error']:.2f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
