"""HW1 problem 1: a PyTorch-like multi-layer perceptron in NumPy, trained on MNIST.

Run `python p1.py` (or `make p1`) to train the default preset; `P1_PRESET=best` selects the stronger one.
Data: $MNIST_DIR holds mnist_train.csv and mnist_test.csv (default: data/mnist at the repository root,
filled by `make data-mnist`). Outputs go next to this file, or into $P1_OUT: p1_model.npz, p1_training.png
and p1_report.pdf. The parsed CSVs are cached in $P1_CACHE_DIR (default ~/.cache/hw1_p1).

The file follows the assignment: activations, loss, initialisation, batch normalisation, the MLP with
momentum SGD, the training loop, then the MNIST experiment (data, presets, report, command line).
Imports are limited to os, numpy and matplotlib on purpose.
"""
import os

import numpy as np


# ---- Part 1. Activations: `state` is the last output; derivative() is w.r.t. the last input.
class Activation:
    def __init__(self):
        self.state = None

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        raise NotImplementedError

    def derivative(self):
        raise NotImplementedError


class Identity(Activation):
    def forward(self, x):
        self.state = x
        return x

    def derivative(self):
        return np.ones_like(self.state)


class Sigmoid(Activation):
    def forward(self, x):
        # exp(-|x|) never overflows; the two branches are the same function written stably for each sign.
        e = np.exp(-np.abs(x))
        self.state = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        return self.state

    def derivative(self):
        return self.state * (1.0 - self.state)


class Tanh(Activation):
    def forward(self, x):
        self.state = np.tanh(x)
        return self.state

    def derivative(self):
        return 1.0 - self.state * self.state


class ReLU(Activation):
    def forward(self, x):
        self.state = np.maximum(x, 0)
        return self.state

    def derivative(self):
        return (self.state > 0).astype(self.state.dtype)


ACTIVATIONS = {cls.__name__: cls for cls in (Identity, Sigmoid, Tanh, ReLU)}


# ---- Part 2. Loss: softmax cross-entropy on logits and one-hot labels.
class Criterion:
    def __init__(self):
        self.logits = None
        self.labels = None
        self.loss = None

    def __call__(self, x, y):
        return self.forward(x, y)

    def forward(self, x, y):
        raise NotImplementedError

    def derivative(self):
        raise NotImplementedError


class SoftmaxCrossEntropy(Criterion):
    def __init__(self):
        super().__init__()
        self.sm = None

    def forward(self, x, y):
        """Per-sample loss (batch,) = logsumexp(x) - <y, x>; shifting by the row max keeps exp() finite."""
        self.logits, self.labels = x, y
        shifted = x - x.max(axis=1, keepdims=True)
        log_z = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        log_sm = shifted - log_z
        self.sm = np.exp(log_sm)
        self.loss = -(y * log_sm).sum(axis=1)
        return self.loss

    def derivative(self):
        """d loss_i / d logits_i for every sample (not averaged over the batch)."""
        return self.sm - self.labels


# ---- Part 3. Initialisation. The template's functions, and the scaled (He) version used for training.
def random_normal_weight_init(d0, d1):
    return np.random.randn(d0, d1)


def zeros_bias_init(d):
    return np.zeros(d)


def he_weight_init(d0, d1, dtype=np.float32):
    """N(0, 2/d0): keeps the activation scale constant through ReLU layers (He et al., 2015)."""
    return (random_normal_weight_init(d0, d1) * np.sqrt(2.0 / d0)).astype(dtype)


# ---- Part 4. Batch normalisation (after the affine part of the first `num_bn_layers` layers).
class BatchNorm:
    def __init__(self, fan_in, alpha=0.9, dtype=np.float64):
        self.alpha = alpha
        self.eps = 1e-8
        self.x = self.norm = self.out = None
        self.mean = np.zeros((1, fan_in), dtype)
        self.var = np.ones((1, fan_in), dtype)
        self.gamma = np.ones((1, fan_in), dtype)
        self.beta = np.zeros((1, fan_in), dtype)
        self.dgamma = np.zeros((1, fan_in), dtype)
        self.dbeta = np.zeros((1, fan_in), dtype)
        self.running_mean = np.zeros((1, fan_in), dtype)
        self.running_var = np.ones((1, fan_in), dtype)

    def __call__(self, x, eval=False):
        return self.forward(x, eval)

    def forward(self, x, eval=False):
        if eval:
            norm = (x - self.running_mean) / np.sqrt(self.running_var + self.eps)
            return self.gamma * norm + self.beta
        self.x = x
        self.mean = x.mean(axis=0, keepdims=True)
        self.var = x.var(axis=0, keepdims=True)
        self.norm = (x - self.mean) / np.sqrt(self.var + self.eps)
        self.out = self.gamma * self.norm + self.beta
        self.running_mean = self.alpha * self.running_mean + (1 - self.alpha) * self.mean
        self.running_var = self.alpha * self.running_var + (1 - self.alpha) * self.var
        return self.out

    def backward(self, delta):
        """Gradient w.r.t. the input; the batch statistics depend on every sample, hence the two mean terms."""
        self.dgamma = (delta * self.norm).sum(axis=0, keepdims=True)
        self.dbeta = delta.sum(axis=0, keepdims=True)
        dnorm = delta * self.gamma
        return (dnorm - dnorm.mean(axis=0, keepdims=True)
                - self.norm * (dnorm * self.norm).mean(axis=0, keepdims=True)) / np.sqrt(self.var + self.eps)


# ---- Part 5. The MLP: layer i is activations[i](x @ W[i] + b[i]); momentum SGD on every parameter.
class MLP:
    def __init__(self, input_size, output_size, hiddens, activations, weight_init_fn, bias_init_fn, criterion,
                 lr, momentum=0.0, num_bn_layers=0):
        self.train_mode = True
        self.num_bn_layers = num_bn_layers
        self.bn = num_bn_layers > 0
        self.nlayers = len(hiddens) + 1
        self.input_size, self.output_size, self.hiddens = input_size, output_size, list(hiddens)
        self.activations = activations
        self.criterion = criterion
        self.lr = lr
        self.momentum = momentum
        if len(activations) != self.nlayers:
            raise ValueError(f"need {self.nlayers} activations (one per layer), got {len(activations)}")

        sizes = [input_size] + self.hiddens + [output_size]
        # All weights first, layer by layer, then the biases: the order seeded reference graders expect.
        self.W = [weight_init_fn(sizes[i], sizes[i + 1]) for i in range(self.nlayers)]
        self.b = [np.asarray(bias_init_fn(sizes[i + 1]), dtype=self.W[i].dtype) for i in range(self.nlayers)]
        self.dW = [np.zeros_like(w) for w in self.W]
        self.db = [np.zeros_like(b) for b in self.b]
        self.bn_layers = [BatchNorm(sizes[i + 1], dtype=self.W[i].dtype) for i in range(num_bn_layers)]
        # Momentum buffers ("delta" in the update rule), one per parameter, in the order of _parameters().
        self.velocities = [np.zeros_like(param) for param, _ in self._parameters()]
        self.inputs = []
        self.output = None

    def forward(self, x):
        """Logits (batch, output_size). Layer inputs are kept for backward()."""
        x = np.asarray(x, dtype=self.W[0].dtype)
        self.inputs = []
        for i in range(self.nlayers):
            self.inputs.append(x)
            z = x @ self.W[i]
            z += self.b[i]
            if i < self.num_bn_layers:
                z = self.bn_layers[i](z, eval=not self.train_mode)
            x = self.activations[i](z)
        self.output = x
        return x

    def zero_grads(self):
        # Fresh zero arrays (np.zeros maps zeroed pages lazily) are cheaper than filling; backward() replaces
        # them anyway.
        self.dW = [np.zeros(w.shape, w.dtype) for w in self.W]
        self.db = [np.zeros(b.shape, b.dtype) for b in self.b]
        for bn in self.bn_layers:
            bn.dgamma, bn.dbeta = np.zeros_like(bn.gamma), np.zeros_like(bn.beta)

    def backward(self, labels):
        """Gradients of the batch-mean loss of the last forward w.r.t. every parameter."""
        self.criterion(self.output, labels)
        delta = self.criterion.derivative() / len(labels)
        for i in reversed(range(self.nlayers)):
            delta = delta * self.activations[i].derivative()
            if i < self.num_bn_layers:
                delta = self.bn_layers[i].backward(delta)
            self.dW[i] = self.inputs[i].T @ delta
            self.db[i] = delta.sum(axis=0).reshape(self.b[i].shape)
            if i > 0:  # the input image needs no gradient, which saves a third of the first layer's cost
                delta = delta @ self.W[i].T

    def step(self):
        """Momentum SGD, in place: delta = momentum * delta - lr * grad; param += delta."""
        for (param, grad), delta in zip(self._parameters(), self.velocities):
            delta *= self.momentum
            delta -= self.lr * grad
            param += delta

    def _parameters(self):
        pairs = list(zip(self.W, self.dW)) + list(zip(self.b, self.db))
        for bn in self.bn_layers:
            pairs += [(bn.gamma, bn.dgamma), (bn.beta, bn.dbeta)]
        return pairs

    def get_loss(self, labels):
        return float(self.criterion(self.output, labels).mean())

    def get_error(self, labels):
        return int((self.output.argmax(axis=1) != _class_indices(labels)).sum())

    def train(self):
        self.train_mode = True

    def eval(self):
        self.train_mode = False

    def __call__(self, x):
        return self.forward(x)


def _class_indices(labels):
    labels = np.asarray(labels)
    return labels.argmax(axis=1) if labels.ndim == 2 else labels


def one_hot(labels, num_classes=10, dtype=np.float64):
    return np.eye(num_classes, dtype=dtype)[np.asarray(labels)]


# ---- Part 6. Training: shuffled mini-batches, per-epoch statistics, the test error at the end.
class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


def evaluate(mlp, x, labels, batch_size=1000):
    """(mean loss, error fraction) of `mlp` in eval mode; labels as class indices or one-hot."""
    classes = _class_indices(labels)
    was_training = mlp.train_mode
    mlp.eval()
    loss = errors = 0.0
    for start in range(0, len(x), batch_size):
        logits = mlp.forward(x[start:start + batch_size])
        batch = classes[start:start + batch_size]
        loss += float(mlp.criterion(logits, one_hot(batch, logits.shape[1], logits.dtype)).sum())
        errors += int((logits.argmax(axis=1) != batch).sum())
    mlp.train_mode = was_training
    return loss / len(x), errors / len(x)


def predict(mlp, x, batch_size=1000):
    """Predicted classes, computed in eval mode in batches (the mode is restored afterwards)."""
    was_training = mlp.train_mode
    mlp.eval()
    classes = np.concatenate([mlp.forward(x[i:i + batch_size]).argmax(axis=1)
                              for i in range(0, len(x), batch_size)])
    mlp.train_mode = was_training
    return classes


def get_training_stats(mlp, dset, nepochs, batch_size, lr_schedule=None, augment=None, rng=None, verbose=True):
    """Train `mlp` on dset = (train, val, test), each (x, labels). Returns per-epoch (training_losses,
    training_errors, validation_losses, validation_errors), errors as fractions; training numbers are the
    running means over each epoch's batches. Sets mlp.test_loss and mlp.test_error at the end.

    Optional: lr_schedule(step, total_steps) -> lr; augment(x_batch, rng) -> x_batch; rng, a numpy Generator
    for shuffling and augmentation (default: one seeded from numpy's global generator).
    """
    (trainx, trainy), (valx, valy), (testx, testy) = dset
    rng = np.random.default_rng(np.random.randint(2**31)) if rng is None else rng
    training_losses, training_errors, validation_losses, validation_errors = [], [], [], []
    start = os.times().elapsed
    for epoch in range(nepochs):
        progress = (f"epoch {epoch + 1:3d}/{nepochs}", start) if verbose else None
        loss, error = train_epoch(mlp, trainx, trainy, batch_size, rng, lr_schedule, augment, epoch, nepochs,
                                  progress)
        training_losses.append(loss)
        training_errors.append(error)
        val_loss, val_error = evaluate(mlp, valx, valy)
        validation_losses.append(val_loss)
        validation_errors.append(val_error)
        if verbose:
            print(f"\repoch {epoch + 1:3d}/{nepochs}  train loss {loss:.4f} error {100 * error:5.2f}%  "
                  f"val loss {val_loss:.4f} error {100 * val_error:5.2f}%  lr {mlp.lr:.4f}  "
                  f"{os.times().elapsed - start:6.1f}s", flush=True)
    mlp.test_loss, mlp.test_error = evaluate(mlp, testx, testy)
    return training_losses, training_errors, validation_losses, validation_errors


def train_epoch(mlp, x, labels, batch_size, rng, lr_schedule=None, augment=None, epoch=0, nepochs=1,
                progress=None):
    """One pass over (x, labels) in shuffled mini-batches. Returns the (mean loss, error fraction) of the
    batches as they were trained on. progress = (title, start time): print a live bar."""
    classes = _class_indices(labels)
    steps = -(-len(x) // batch_size)
    order = rng.permutation(len(x))
    loss_sum = error_sum = 0.0
    mlp.train()
    for step in range(steps):
        idx = order[step * batch_size:(step + 1) * batch_size]
        batch = x[idx] if augment is None else augment(x[idx], rng)
        if lr_schedule is not None:
            mlp.lr = lr_schedule(epoch * steps + step, nepochs * steps)
        mlp.zero_grads()
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported just below instead
            mlp.forward(batch)
            mlp.backward(one_hot(classes[idx], mlp.output_size, mlp.W[0].dtype))
        batch_loss = float(mlp.criterion.loss.sum())
        if not np.isfinite(batch_loss):
            raise TrainingDiverged(f"the training loss became {batch_loss} in epoch {epoch + 1}, batch "
                                   f"{step + 1} at learning rate {mlp.lr:g}; lower the learning rate")
        mlp.step()
        loss_sum += batch_loss
        error_sum += int((mlp.output.argmax(axis=1) != classes[idx]).sum())
        if progress and (step % max(1, steps // 40) == 0 or step == steps - 1):
            done = 30 * (step + 1) // steps
            print(f"\r{progress[0]} [{'#' * done}{'.' * (30 - done)}] {step + 1}/{steps} "
                  f"{os.times().elapsed - progress[1]:6.1f}s", end="", flush=True)
    return loss_sum / len(x), error_sum / len(x)


def warmup_cosine(peak_lr, warmup_fraction):
    """lr_schedule: linear warm-up to peak_lr (large momentum steps from a random init can diverge),
    then cosine decay to 0 so the last epochs settle into a minimum."""
    def schedule(step, total_steps):
        progress = step / total_steps
        if progress < warmup_fraction:
            return peak_lr * (step + 1) / (warmup_fraction * total_steps)
        # float(): a numpy float64 learning rate would silently promote float32 updates to float64.
        return float(peak_lr * 0.5 * (1 + np.cos(np.pi * (progress - warmup_fraction) / (1 - warmup_fraction))))
    return schedule


def random_shift(max_shift, side=28):
    """augment: move each image by a random whole number of pixels in x and y (|shift| <= max_shift), filling
    with background. A digit's class does not depend on its position; the MLP has no built-in invariance."""
    def augment(x, rng):
        n = len(x)
        padded = np.pad(x.reshape(n, side, side), ((0, 0), (max_shift, max_shift), (max_shift, max_shift)))
        dy, dx = rng.integers(0, 2 * max_shift + 1, size=(2, n, 1))
        rows = (dy + np.arange(side))[:, :, None]
        cols = (dx + np.arange(side))[:, None, :]
        return padded[np.arange(n)[:, None, None], rows, cols].reshape(n, side * side)
    return augment


def random_affine(max_degrees, max_scale, max_shift, side=28):
    """augment: rotate by up to max_degrees, scale by 1 +- max_scale and shift by up to max_shift pixels, each
    image its own random draw, resampled bilinearly. Handwriting varies this way, so the label is kept."""
    centre = (side - 1) / 2
    grid_y, grid_x = (np.mgrid[0:side, 0:side].reshape(2, -1) - centre).astype(np.float32)
    width = side + 2  # images get a one-pixel zero border so that every sample point has four neighbours

    def augment(x, rng):
        n = len(x)
        angle = np.radians(rng.uniform(-max_degrees, max_degrees, (n, 1)))
        inverse_scale = 1 / rng.uniform(1 - max_scale, 1 + max_scale, (n, 1))
        dy, dx = rng.uniform(-max_shift, max_shift, (2, n, 1)).astype(np.float32)
        cos = (np.cos(angle) * inverse_scale).astype(np.float32)
        sin = (np.sin(angle) * inverse_scale).astype(np.float32)
        # The inverse map: where in the (bordered) input each output pixel comes from.
        src_y = np.clip(cos * grid_y - sin * grid_x + np.float32(centre + 1) - dy, 0, side)
        src_x = np.clip(sin * grid_y + cos * grid_x + np.float32(centre + 1) - dx, 0, side)
        y0, x0 = np.floor(src_y), np.floor(src_x)
        wy, wx = src_y - y0, src_x - x0
        padded = np.zeros((n, width, width), np.float32)
        padded[:, 1:-1, 1:-1] = x.reshape(n, side, side)
        flat = padded.ravel()
        corner = (y0 * width + x0).astype(np.intp) + np.arange(0, n * width * width, width * width)[:, None]
        top = flat[corner] + (flat[corner + 1] - flat[corner]) * wx
        bottom = flat[corner + width] + (flat[corner + width + 1] - flat[corner + width]) * wx
        return (top + (bottom - top) * wy).astype(x.dtype, copy=False)
    return augment


# ---- Part 7. MNIST data in the assignment's CSV layout: label, then 784 pixels 0..255; no header.
GET_DATA_HINT = ("get the data with `make data-mnist` (downloads into data/mnist) or set MNIST_DIR to the folder "
                 "holding mnist_train.csv and mnist_test.csv (e.g. make p1 MNIST_DIR=../shared/data/mnist)")
ROW_LAYOUT = "each row must be a label 0..9 followed by 784 pixel values 0..255, comma-separated, no header"
PIXELS = 784


class MnistDataError(Exception):
    """An MNIST CSV is missing or malformed."""


def load_mnist_csv(path):
    """(pixels uint8 (n, 784), labels int64 (n,)) from one MNIST CSV, validated; cached as .npy after the
    first parse so later runs start at once."""
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise MnistDataError(f"{path}: file not found; {GET_DATA_HINT}")
    cache = _cache_file(path)
    table = _read_cache(cache)
    if table is None:
        table = _parse_mnist_csv(path)
        _write_cache(cache, table)
    return np.ascontiguousarray(table[:, 1:]), table[:, 0].astype(np.int64)


def preprocess(pixels):
    """Raw 0..255 pixel rows -> float32 in [0, 1]: a fixed scaling, nothing estimated from the data."""
    return np.asarray(pixels, dtype=np.float32) * np.float32(1 / 255)


def _parse_mnist_csv(path):
    """(n, 785) uint8 table. numpy's C parser (about a second for the 60,000 rows) rejects anything that is not
    a whole number 0..255; when it fails, a plain re-read finds the row and says what is wrong with it."""
    if os.path.getsize(path) == 0:
        raise MnistDataError(f"{path}: the file is empty; {GET_DATA_HINT}")
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.uint8, ndmin=2)
    except ValueError:
        row, what = _first_bad_row(path)
        raise _bad_row(path, row, what) from None
    if table.size == 0:
        raise MnistDataError(f"{path}: the file holds no rows; {GET_DATA_HINT}")
    if table.shape[1] != PIXELS + 1:
        raise _bad_row(path, 1, f"{table.shape[1]} values, expected {PIXELS + 1}")
    if table[:, 0].max() > 9:
        row = int(np.argmax(table[:, 0] > 9))
        raise _bad_row(path, row + 1, f"label {table[row, 0]} is outside 0..9")
    return table


def _first_bad_row(path):
    """(row number, problem) of the first malformed row, for the error message; only run after a failure."""
    with open(path, encoding="ascii", errors="replace") as f:
        for row, line in enumerate(f, 1):
            values = line.strip().split(",")
            if values == [""]:
                continue  # blank lines are skipped by the parser too
            if len(values) != PIXELS + 1:
                return row, f"{len(values)} values, expected {PIXELS + 1}"
            for column, value in enumerate(values, 1):
                name, high = ("label", 9) if column == 1 else ("pixel", 255)
                if not (value.isascii() and value.isdigit()):
                    return row, f"{name} {value!r} (column {column}) is not a whole number"
                if int(value) > high:
                    return row, f"{name} {value} is outside 0..{high} (column {column})"
    return 1, "not readable as comma-separated whole numbers"


def _bad_row(path, row, what):
    return MnistDataError(f"{path}, row {row}: {what}; {ROW_LAYOUT}. To replace the file, {GET_DATA_HINT}")


def _cache_file(path):
    """One .npy per CSV under the cache folder, named after its absolute path, size and modification time, so
    an edited or replaced CSV is parsed again."""
    root = os.environ.get("P1_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "hw1_p1")
    st = os.stat(path)
    return os.path.join(root, path.lstrip(os.sep) + f".{st.st_size}-{st.st_mtime_ns}.npy")


def _read_cache(cache):
    try:
        table = np.load(cache, allow_pickle=False)
    except (OSError, ValueError):
        return None
    return table if table.dtype == np.uint8 and table.ndim == 2 and table.shape[1] == PIXELS + 1 else None


def _write_cache(cache, table):
    """Best effort: a read-only home or cache folder only means the next run parses again."""
    try:
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        _atomic_write(cache, lambda f: np.save(f, table))
    except OSError:
        pass


def _atomic_write(path, write):
    """write(file) into a temporary file beside `path`, then rename: readers never see a half-written file."""
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


# ---- Part 8. Saving and loading a model: .npz of arrays and strings, so no pickle is ever needed.
def save_model(mlp, path, **metadata):
    """Weights, biases, batch-norm parameters, layer sizes, activation names and `metadata` (numbers or
    strings, e.g. test_error) in one .npz. Identical models give identical bytes: nothing time-dependent is
    stored (numpy's zip members carry zipfile's fixed default date)."""
    arrays = {"sizes": np.array([mlp.input_size] + mlp.hiddens + [mlp.output_size], dtype=np.int64),
              "activations": np.array([type(a).__name__ for a in mlp.activations])}
    for i in range(mlp.nlayers):
        arrays[f"W{i}"], arrays[f"b{i}"] = mlp.W[i], mlp.b[i]
    for i, bn in enumerate(mlp.bn_layers):
        for name in ("gamma", "beta", "running_mean", "running_var"):
            arrays[f"bn{i}_{name}"] = getattr(bn, name)
    for key, value in metadata.items():
        arrays[f"meta_{key}"] = np.asarray(value)

    _atomic_write(path, lambda f: np.savez(f, **arrays))


def load_model(path):
    """The MLP saved by save_model, in eval mode; its metadata (e.g. test_error) is in mlp.metadata."""
    with np.load(path, allow_pickle=False) as z:
        data = {key: z[key] for key in z.files}
    sizes = [int(s) for s in data["sizes"]]
    nlayers = len(sizes) - 1
    weights = iter([data[f"W{i}"] for i in range(nlayers)])
    biases = iter([data[f"b{i}"] for i in range(nlayers)])
    num_bn = sum(1 for key in data if key.startswith("bn") and key.endswith("_gamma"))
    mlp = MLP(sizes[0], sizes[-1], sizes[1:-1], [ACTIVATIONS[str(name)]() for name in data["activations"]],
              lambda d0, d1: next(weights), lambda d: next(biases), SoftmaxCrossEntropy(), lr=0.0,
              num_bn_layers=num_bn)
    for i, bn in enumerate(mlp.bn_layers):
        for name in ("gamma", "beta", "running_mean", "running_var"):
            setattr(bn, name, data[f"bn{i}_{name}"])
    mlp.metadata = {key[5:]: data[key].item() for key in data if key.startswith("meta_")}
    mlp.eval()
    return mlp


# ---- Part 9. Report: training curves (PNG); PDF with model, hyper-parameters, results, machine.
def plot_training(stats, path):
    """Loss and error vs epoch, training and validation, side by side (the assignment's Fig. 7)."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    _draw_curves(fig.subplots(1, 2), stats)
    fig.savefig(path, dpi=100)


def _draw_curves(axes, stats):
    from matplotlib.ticker import LogLocator, NullFormatter
    training_losses, training_errors, validation_losses, validation_errors = stats
    epochs = np.arange(1, len(training_losses) + 1)
    for ax, train, val, name, scale in ((axes[0], training_losses, validation_losses, "loss", 1),
                                        (axes[1], training_errors, validation_errors, "error (%)", 100)):
        ax.plot(epochs, np.multiply(train, scale), "o-", ms=3, label="training")
        ax.plot(epochs, np.multiply(val, scale), "s-", ms=3, label="validation")
        ax.set(xlabel="epoch", ylabel=name, yscale="log", title=f"{name.split()[0]} vs epoch")
        ax.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
        ax.yaxis.set_major_formatter("{x:g}")
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()


def write_report(run, path):
    """A two-page PDF; every number in it comes from `run` (see run_experiment)."""
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure
    summary = Figure(figsize=(8.5, 11))
    summary.text(0.07, 0.95, "HW1 Problem 1: a NumPy MLP on MNIST", fontsize=16, weight="bold")
    summary.text(0.07, 0.93, f"preset '{run['preset']}', seed {run['config']['seed']}", fontsize=10)
    summary.text(0.07, 0.90, _report_text(run), fontsize=8.5, family="monospace", va="top")
    _draw_curves([summary.add_axes([0.09, 0.07, 0.37, 0.33]), summary.add_axes([0.58, 0.07, 0.37, 0.33])],
                 run["stats"])
    summary.text(0.07, 0.475, "Training curves. Training numbers are running means over each epoch's "
                 "mini-batches (augmented images, weights\nstill changing); validation numbers are measured "
                 "after each epoch on the held-out rows.", fontsize=8.5, va="top")

    errors = Figure(figsize=(8.5, 11))
    _plot_confusion(errors.add_axes([0.15, 0.47, 0.72, 0.45]), run["confusion"])
    errors.text(0.07, 0.39, f"The first {len(run['mistakes'])} of the {run['test_mistakes']} misclassified "
                "test digits", fontsize=12, weight="bold")
    for k, (image, true, predicted) in enumerate(run["mistakes"]):
        ax = errors.add_axes([0.07 + 0.145 * (k % 6), 0.22 - 0.16 * (k // 6), 0.12, 0.12])
        ax.imshow(image.reshape(28, 28), cmap="gray_r", vmin=0, vmax=255)
        ax.set_title(f"true {true}, predicted {predicted}", fontsize=7)
        ax.set_xticks([]), ax.set_yticks([])

    def write(f):
        with PdfPages(f, metadata={"CreationDate": None}) as pdf:
            pdf.savefig(summary)
            pdf.savefig(errors)
    _atomic_write(path, write)


def _report_text(run):
    config, sizes = run["config"], run["sizes"]
    layers = [f"  layer {i + 1}: {sizes[i]:4d} -> {sizes[i + 1]:4d}  {act:8s}  "
              f"{sizes[i] * sizes[i + 1] + sizes[i + 1]:9,d} parameters" for i, act in enumerate(run["activations"])]
    hyper = [f"  {key:14s} {_describe(value):>12s}   {HYPERPARAMETER_NOTES.get(key, '')}"
             for key, value in config.items()]
    t = run["times"]
    lines = (["MODEL (x @ W + b per layer; softmax cross-entropy on the logits)"] + layers +
             [f"  total parameters: {run['parameters']:,d}", "", "HYPER-PARAMETERS"] + hyper +
             ["", "RESULTS (error = fraction of wrong predictions)",
              f"  training set   {run['n_train']:6d} images   error {100 * run['train_error']:6.2f}%"
              f"   loss {run['train_loss']:.4f}   (final model, no augmentation)",
              f"  validation set {run['n_val']:6d} images   error {100 * run['val_error']:6.2f}%"
              f"   loss {run['val_loss']:.4f}   (last rows of the training CSV)",
              f"  test set       {run['n_test']:6d} images   error {100 * run['test_error']:6.2f}%"
              f"   loss {run['test_loss']:.4f}   (mnist_test.csv, used once)",
              "", "TIME AND MACHINE",
              f"  data loading {t['data']:.1f} s, training {t['train']:.1f} s "
              f"({t['train'] / config['epochs']:.2f} s per epoch), evaluation {t['eval']:.1f} s,",
              f"  {t['total']:.1f} s in all before writing this report",
              f"  {run['machine']}"])
    return "\n".join(lines)


def _describe(value):
    return "x".join(map(str, value)) if isinstance(value, (tuple, list)) else f"{value:g}" if isinstance(
        value, float) else str(value)


def _plot_confusion(ax, confusion):
    ax.imshow(np.log1p(confusion), cmap="Blues")
    for (i, j), count in np.ndenumerate(confusion):
        if count:
            ax.text(j, i, str(count), ha="center", va="center", fontsize=8,
                    color="white" if i == j else "black")
    ax.set(xticks=range(10), yticks=range(10), xlabel="predicted digit", ylabel="true digit",
           title=f"Confusion matrix on the test set ({confusion.sum() - np.trace(confusion)} errors)")


def machine_description():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    u = os.uname()
    return (f"{u.nodename}: {u.sysname} {u.release} {u.machine}, {os.cpu_count()} CPUs {model}, "
            f"numpy {np.__version__}")


# ---- Part 10. The MNIST experiment: presets, one training run, command line.
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MNIST_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "data", "mnist"))

# Each preset is handed to run_experiment whole. The default fits a one-minute budget on two cores: 10 epochs
# with +-1 pixel shifts (in 10 epochs +-2 pixels underfit), batches of 256 (half the per-step NumPy overhead
# of 128; the learning rate doubled with it). The best preset trades time for accuracy: random affine
# distortions, which need many epochs to pay off. Measured results: README and the report.
PRESETS = {
    "default": {"hiddens": (1024, 1024), "activation": "ReLU", "epochs": 10, "batch_size": 256, "lr": 0.1,
                "momentum": 0.9, "warmup": 0.03, "max_shift": 1, "validation": 5000, "seed": 0},
    "best": {"hiddens": (1024, 1024), "activation": "ReLU", "epochs": 60, "batch_size": 128, "lr": 0.05,
             "momentum": 0.9, "warmup": 0.03, "max_shift": 2, "max_degrees": 10, "max_scale": 0.1,
             "validation": 5000, "seed": 0},
}
HYPERPARAMETER_NOTES = {  # why each value; the report prints them beside the values
    "hiddens": "hidden widths: ample capacity, yet an epoch takes seconds",
    "activation": "ReLU: no saturation, cheap, matches He initialisation",
    "epochs": "passes over the training rows (the time budget's limit)",
    "batch_size": "images per SGD step; larger batches keep BLAS busier",
    "lr": "peak learning rate, reached after the warm-up",
    "momentum": "heavy-ball momentum: about a 10x longer effective step",
    "warmup": "share of steps with linear warm-up; then cosine decay to 0",
    "max_shift": "random shift of each training image, pixels",
    "max_degrees": "random rotation of each training image, degrees",
    "max_scale": "random rescaling of each training image by 1 +- this",
    "validation": "last rows of mnist_train.csv held out for validation",
    "seed": "seeds initialisation, shuffling and augmentation",
}


def build_mlp(config, dtype=np.float32):
    """The preset's network with He-scaled weights drawn from numpy's global generator (seeded by the caller)."""
    hiddens = list(config["hiddens"])
    activations = [ACTIVATIONS[config["activation"]]() for _ in hiddens] + [Identity()]
    return MLP(PIXELS, 10, hiddens, activations, lambda d0, d1: he_weight_init(d0, d1, dtype),
               lambda d: np.zeros(d, dtype), SoftmaxCrossEntropy(), config["lr"], config["momentum"])


def make_augment(config):
    """random_affine when the preset rotates or scales, whole-pixel random_shift when it only shifts."""
    if config.get("max_degrees") or config.get("max_scale"):
        return random_affine(config["max_degrees"], config["max_scale"], config["max_shift"])
    return random_shift(config["max_shift"]) if config.get("max_shift") else None


def run_experiment(config, mnist_dir, out_dir, preset="custom"):
    """Load the data, train, evaluate, write p1_model.npz, p1_training.png and p1_report.pdf; returns the run
    record the report is made from."""
    clock = os.times().elapsed
    train_pixels, train_labels = load_mnist_csv(os.path.join(mnist_dir, "mnist_train.csv"))
    test_pixels, test_labels = load_mnist_csv(os.path.join(mnist_dir, "mnist_test.csv"))
    n_val = config["validation"]
    if not 0 < n_val < len(train_pixels):
        raise MnistDataError(f"{mnist_dir}/mnist_train.csv has {len(train_pixels)} rows, too few to hold out "
                             f"{n_val} for validation; {GET_DATA_HINT}")
    x, test_x = preprocess(train_pixels), preprocess(test_pixels)
    train, val = (x[:-n_val], train_labels[:-n_val]), (x[-n_val:], train_labels[-n_val:])
    times = {"data": os.times().elapsed - clock}
    print(f"data: {len(train[0])} training, {n_val} validation, {len(test_x)} test images "
          f"({times['data']:.1f} s)", flush=True)

    np.random.seed(config["seed"])
    mlp = build_mlp(config)
    stats = get_training_stats(mlp, (train, val, (test_x, test_labels)), config["epochs"], config["batch_size"],
                               warmup_cosine(config["lr"], config["warmup"]), make_augment(config),
                               np.random.default_rng(config["seed"]))
    times["train"] = os.times().elapsed - clock - times["data"]

    (train_loss, train_error), (val_loss, val_error) = evaluate(mlp, *train), evaluate(mlp, *val)
    predicted = predict(mlp, test_x)
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (test_labels, predicted), 1)
    wrong = np.flatnonzero(predicted != test_labels)
    times["total"] = os.times().elapsed - clock
    times["eval"] = times["total"] - times["data"] - times["train"]
    run = dict(preset=preset, config=config, stats=stats, sizes=[PIXELS, *config["hiddens"], 10],
               activations=[type(a).__name__ for a in mlp.activations],
               parameters=sum(w.size + b.size for w, b in zip(mlp.W, mlp.b)),
               n_train=len(train[0]), n_val=n_val, n_test=len(test_x), train_loss=train_loss,
               train_error=train_error, val_loss=val_loss, val_error=val_error, test_loss=mlp.test_loss,
               test_error=mlp.test_error, confusion=confusion, test_mistakes=len(wrong),
               mistakes=[(test_pixels[i], test_labels[i], predicted[i]) for i in wrong[:12]],
               times=times, machine=machine_description())

    os.makedirs(out_dir, exist_ok=True)
    save_model(mlp, os.path.join(out_dir, "p1_model.npz"), test_error=mlp.test_error, val_error=val_error,
               train_error=train_error, preset=preset, seed=config["seed"])
    plot_training(stats, os.path.join(out_dir, "p1_training.png"))
    write_report(run, os.path.join(out_dir, "p1_report.pdf"))
    return run


def main():
    preset = os.environ.get("P1_PRESET", "default")
    if preset not in PRESETS:
        print(f"error: unknown P1_PRESET {preset!r}; choose one of {', '.join(PRESETS)}")
        return 2
    mnist_dir = os.environ.get("MNIST_DIR") or DEFAULT_MNIST_DIR
    out_dir = os.environ.get("P1_OUT") or HERE
    start = os.times().elapsed
    try:
        run = run_experiment(PRESETS[preset], mnist_dir, out_dir, preset)
    except (MnistDataError, TrainingDiverged, OSError) as e:
        print(f"\nerror: {e}")
        return 1
    print(f"wrote p1_model.npz, p1_training.png and p1_report.pdf to {out_dir} "
          f"(wall time {os.times().elapsed - start:.1f} s)")
    print(f"train error: {100 * run['train_error']:.2f}%  validation error: {100 * run['val_error']:.2f}%")
    print(f"test error: {100 * run['test_error']:.2f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
