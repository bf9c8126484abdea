"""HW1 problem 1: the course template p1_template.py, solved: a multi-layer perceptron in NumPy, trained on MNIST.

Run `python p1.py` beside mnist_train.csv and mnist_test.csv. It trains the hyper-parameters marked in main(),
prints the loss and error of every epoch and the final test error, and writes p1_model.npz, p1_training.png
(loss and error vs epoch) and p1_report.pdf next to this file.

Settings, all optional, checked before any work starts:
  MNIST_DIR     folder holding the two CSVs (otherwise: this file's folder, the working folder, ../../data/mnist)
  P1_PRESET     `default` (about half a minute on two cores) or `best` (about five minutes)
  P1_OUT        folder for the three outputs (otherwise: this file's folder)
  P1_CACHE_DIR  where parsed CSVs are kept as .npy, so later runs start at once (otherwise: ~/.cache/hw1_p1)

The file follows the template's order: activations, loss, initialisation, the MLP, get_training_stats,
get_one_hot and main(). What the template does not have is added beside it, each part under its own heading.
"""
# Do not import any third-party library other than numpy and matplotlib (the assignment's rule).
import os

import numpy as np
# The template imports matplotlib.pyplot; Figure objects write files without a display or pyplot's global state.
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure


# ---- Activations. `state` is the last output; derivative() is taken w.r.t. the last input.
class Activation:
    """Interface for activation functions (non-linearities)."""

    def __init__(self):
        self.state = None

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        raise NotImplementedError

    def derivative(self):
        raise NotImplementedError


class Identity(Activation):
    """Identity function (given in the template)."""

    def forward(self, x):
        self.state = x
        return x

    def derivative(self):
        return 1.0


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


# ---- Loss: softmax cross-entropy on logits and one-hot labels.
class Criterion:
    """Interface for loss functions."""

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
        """Per-sample loss (batch,) = logsumexp(x) - <y, x>; shifting by the row max keeps exp() finite.
        Labels take the logits' dtype, so float64 one-hot labels never turn float32 training into float64."""
        y = np.asarray(y, dtype=x.dtype)
        self.logits, self.labels = x, y
        shifted = x - x.max(axis=1, keepdims=True)
        log_sm = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.sm = np.exp(log_sm)
        self.loss = -(y * log_sm).sum(axis=1)
        return self.loss

    def derivative(self):
        """d loss_i / d logits_i for every sample (not averaged over the batch)."""
        return self.sm - self.labels


# ---- Initialisation: the template's two functions, and the scaled (He) version used for training.
def random_normal_weight_init(d0, d1):
    """A d0 x d1 matrix drawn from the standard normal distribution."""
    return np.random.randn(d0, d1)


def zeros_bias_init(d):
    """A bias vector of d zeros."""
    return np.zeros(d)


def he_weight_init(d0, d1, dtype=np.float32):
    """Addition: N(0, 2/d0) keeps the activation scale constant through ReLU layers (He et al., 2015)."""
    return (random_normal_weight_init(d0, d1) * np.sqrt(2.0 / d0)).astype(dtype)


# ---- Addition: batch normalisation after the affine part of the first `num_bn_layers` layers.
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


# ---- The MLP: layer i computes activation_i(x @ W[i] + b[i]); momentum SGD on every parameter.
class MLP:
    """A multi-layer perceptron with the template's attributes and methods.

    `activations` holds one activation per hidden layer (the template's example: hiddens=[128],
    activations=[Sigmoid()]), the output layer then feeding the criterion directly, or one per layer with
    Identity() last. Additions, as keyword arguments: `momentum` (0 gives the template's plain SGD) and
    `num_bn_layers` (batch norm after the first layers' affine part).
    """

    def __init__(self, input_size, output_size, hiddens, activations, weight_init_fn, bias_init_fn, criterion,
                 lr, momentum=0.0, num_bn_layers=0):
        # The template's attributes (don't change)
        self.train_mode = True
        self.nlayers = len(hiddens) + 1
        self.input_size = input_size
        self.output_size = output_size
        self.activations = activations
        self.criterion = criterion
        self.lr = lr

        if len(activations) not in (self.nlayers - 1, self.nlayers):
            raise ValueError(f"{len(hiddens)} hidden layers need {self.nlayers - 1} activations (one per hidden "
                             f"layer) or {self.nlayers} (one per layer, Identity() last), got {len(activations)}")
        if len({id(a) for a in activations}) < len(activations):
            raise ValueError("each layer needs its own activation object: one object passed twice would keep only "
                             "the last layer's state, and backward() would use it for both (write [Sigmoid(), "
                             "Sigmoid()], not [s, s])")
        # The activation each layer applies: the output layer adds Identity() when only hidden ones are given.
        self.layer_activations = list(activations) + [Identity()] * (self.nlayers - len(activations))
        self.momentum = momentum
        self.num_bn_layers = num_bn_layers
        self.bn = num_bn_layers > 0

        # The template's names (don't change): layer sizes, weights, biases and their gradients.
        self.nn_dim = [input_size] + list(hiddens) + [output_size]
        # All weights first, layer by layer, then the biases: the draw order fixes which weights a seed gives.
        self.W = [weight_init_fn(self.nn_dim[i], self.nn_dim[i + 1]) for i in range(self.nlayers)]
        self.b = [np.asarray(bias_init_fn(self.nn_dim[i + 1]), dtype=self.W[i].dtype) for i in range(self.nlayers)]
        self.dW = [np.zeros_like(w) for w in self.W]
        self.db = [np.zeros_like(b) for b in self.b]

        self.bn_layers = [BatchNorm(self.nn_dim[i + 1], dtype=self.W[i].dtype) for i in range(num_bn_layers)]
        # Momentum buffers ("delta" in the update rule), one per parameter, in the order of _parameters().
        self.velocities = [np.zeros_like(param) for param, _ in self._parameters()]
        self.inputs = []
        self.output = None
        self.metadata = {}  # numbers or strings stored beside the weights by save_model, e.g. test_error

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
            x = self.layer_activations[i](z)
        self.output = x
        return x

    def zero_grads(self):
        # Fresh zero arrays (np.zeros maps zeroed pages lazily) are cheaper than filling; backward() replaces
        # them anyway, so the template's loop, which never calls this, gets the same gradients.
        self.dW = [np.zeros(w.shape, w.dtype) for w in self.W]
        self.db = [np.zeros(b.shape, b.dtype) for b in self.b]
        for bn in self.bn_layers:
            bn.dgamma, bn.dbeta = np.zeros_like(bn.gamma), np.zeros_like(bn.beta)

    def step(self):
        """Momentum SGD, in place: delta = momentum * delta - lr * grad; param += delta."""
        for (param, grad), delta in zip(self._parameters(), self.velocities):
            delta *= self.momentum
            delta -= self.lr * grad
            param += delta

    def backward(self, labels):
        """Gradients of the batch-MEAN loss of the last forward (one-hot `labels`) w.r.t. every parameter."""
        self.criterion(self.output, labels)
        delta = self.criterion.derivative() / len(labels)
        for i in reversed(range(self.nlayers)):
            delta = delta * self.layer_activations[i].derivative()
            if i < self.num_bn_layers:
                delta = self.bn_layers[i].backward(delta)
            self.dW[i] = self.inputs[i].T @ delta
            self.db[i] = delta.sum(axis=0).reshape(self.b[i].shape)
            if i > 0:  # the input image needs no gradient, which saves a third of the first layer's cost
                delta = delta @ self.W[i].T

    def _parameters(self):
        pairs = list(zip(self.W, self.dW)) + list(zip(self.b, self.db))
        for bn in self.bn_layers:
            pairs += [(bn.gamma, bn.dgamma), (bn.beta, bn.dbeta)]
        return pairs

    def __call__(self, x):
        return self.forward(x)

    def train(self):
        self.train_mode = True

    def eval(self):
        self.train_mode = False

    def get_loss(self, labels):
        """The SUMMED loss of the last forward's batch against one-hot `labels` (the template's loop divides
        its running total by the number of samples)."""
        return float(self.criterion(self.output, labels).sum())

    def get_error(self, labels):
        """The NUMBER of wrong predictions in the last forward's batch (labels one-hot, or class indices)."""
        return int((self.output.argmax(axis=1) != _class_indices(labels)).sum())

    def save_model(self, path='p1_model.npz'):
        """Save every W and b (the template's method and meaning), stored without pickles.

        The template's body, np.savez(path, self.W, self.b), turns each list into one object array: NumPy >= 1.24
        refuses that when the layers differ in shape, and reading it back needs pickles, which can run code.
        Here each parameter is its own plain array (W0, b0, W1, ...), beside the layer sizes, activation names,
        batch-norm parameters and self.metadata, so np.load(path, allow_pickle=False) reads it and load_model
        rebuilds the MLP. Nothing time-dependent is stored, so identical models give identical bytes.
        """
        arrays = {"sizes": np.array(self.nn_dim, dtype=np.int64),
                  "activations": np.array([type(a).__name__ for a in self.layer_activations])}
        for i in range(self.nlayers):
            arrays[f"W{i}"], arrays[f"b{i}"] = self.W[i], self.b[i]
        for i, bn in enumerate(self.bn_layers):
            for name in BN_ARRAYS:
                arrays[f"bn{i}_{name}"] = getattr(bn, name)
        for key, value in self.metadata.items():
            arrays[f"meta_{key}"] = np.asarray(value)
        path = os.fspath(path)
        if not path.endswith(".npz"):   # as np.savez names its file: save_model('model') writes model.npz
            path += ".npz"
        _atomic_write(path, lambda f: np.savez(f, **arrays))


BN_ARRAYS = ("gamma", "beta", "running_mean", "running_var")


def _class_indices(labels):
    labels = np.asarray(labels)
    return labels.argmax(axis=1) if labels.ndim == 2 and labels.shape[1] > 1 else labels.reshape(-1)


# ---- get_training_stats: the template's loop, with per-sample curves and the final test loss and error.
class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


def get_training_stats(mlp, dset, nepochs, batch_size, *, rng=None, lr_schedule=None, augment=None,
                       verbose=True):
    """Train `mlp` for `nepochs` on dset = [[train_x, train_y], [val_x, val_y], [test_x, test_y]] (one-hot
    labels) as the template's loop does: every training batch goes through mlp.train(), forward, backward and
    step; validation and test batches through mlp.eval() and mlp(x). Loss and error totals are divided by the
    number of samples. Returns (training_losses, training_errors, validation_losses, validation_errors), one
    value per epoch; the final test loss and error are printed and kept in mlp.test_loss and mlp.test_error.

    Additions, keyword-only: rng, a numpy Generator: each epoch then visits the training rows in a new random
    order (without it: file order, as the template), and augmentation draws from it; lr_schedule(step,
    total_steps) -> lr; augment(x_batch, rng) -> x_batch; verbose=False prints nothing.
    """
    train, val, test = dset
    trainx, trainy = train
    if augment is not None and rng is None:
        raise ValueError("augment needs rng, the generator it draws from")
    training_losses, training_errors, validation_losses, validation_errors = [], [], [], []
    steps = -(-len(trainx) // batch_size)
    start = wall_clock()
    for e in range(nepochs):
        order = rng.permutation(len(trainx)) if rng is not None else None
        progress = ProgressLine(f"epoch {e + 1:3d}/{nepochs}", steps, start) if verbose else None
        train_loss = train_error = 0.0
        for step, b in enumerate(range(0, len(trainx), batch_size)):
            if order is None:
                x, y = trainx[b:b + batch_size], trainy[b:b + batch_size]
            else:
                idx = order[b:b + batch_size]
                x, y = trainx[idx], trainy[idx]
            if augment is not None:
                x = augment(x, rng)
            if lr_schedule is not None:
                mlp.lr = lr_schedule(e * steps + step, nepochs * steps)
            mlp.train()
            with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported just below instead
                mlp.forward(x)
                mlp.backward(y)
            _stop_if_diverged(mlp, e, step)
            mlp.step()
            train_loss += mlp.get_loss(y)
            train_error += mlp.get_error(y)
            if progress:
                progress.update(step + 1)
        training_losses.append(train_loss / len(trainx))
        training_errors.append(train_error / len(trainx))
        val_loss, val_error = _evaluate_batches(mlp, *val, batch_size)
        validation_losses.append(val_loss)
        validation_errors.append(val_error)
        if verbose:
            progress.finish()
            print(f"epoch {e + 1:3d}/{nepochs}  train loss {training_losses[-1]:.4f} error "
                  f"{100 * training_errors[-1]:5.2f}%  val loss {val_loss:.4f} error {100 * val_error:5.2f}%  "
                  f"lr {mlp.lr:.4f}  {wall_clock() - start:6.1f}s", flush=True)
    mlp.test_loss, mlp.test_error = _evaluate_batches(mlp, *test, batch_size)
    if verbose:
        print(f"test loss {mlp.test_loss:.4f}  test error {100 * mlp.test_error:.2f}%", flush=True)
    return training_losses, training_errors, validation_losses, validation_errors


def _evaluate_batches(mlp, x, y, batch_size):
    """(loss, error) per sample in eval mode, as the template measures validation and test."""
    loss = error = 0.0
    for b in range(0, len(x), batch_size):
        mlp.eval()
        mlp(x[b:b + batch_size])
        loss += mlp.get_loss(y[b:b + batch_size])
        error += mlp.get_error(y[b:b + batch_size])
    return loss / len(x), error / len(x)


def _stop_if_diverged(mlp, epoch, step):
    batch_loss = float(mlp.criterion.loss.sum())
    if not np.isfinite(batch_loss):
        raise TrainingDiverged(f"the training loss became {batch_loss} in epoch {epoch + 1}, batch {step + 1} "
                               f"at learning rate {mlp.lr:g}; lower the learning rate")


class ProgressLine:
    """Progress within an epoch. On a terminal: a live bar redrawn in place. In a log file, where `\\r` redraws
    would pile up: one plain line every `interval` seconds."""

    def __init__(self, title, steps, start, live=None, interval=30.0):
        self.title, self.steps, self.start, self.interval = title, steps, start, interval
        self.live = os.isatty(1) if live is None else live
        self.last_line = wall_clock()
        self.drawn = False

    def update(self, step):
        now = wall_clock()
        if self.live:
            if step % max(1, self.steps // 40) == 0 or step == self.steps:
                done = 30 * step // self.steps
                print(f"\r{self.title} [{'#' * done}{'.' * (30 - done)}] {step}/{self.steps} "
                      f"{now - self.start:6.1f}s", end="", flush=True)
                self.drawn = True
        elif now - self.last_line >= self.interval:
            print(f"{self.title}: batch {step}/{self.steps}, {now - self.start:.0f} s", flush=True)
            self.last_line = now

    def finish(self):
        """Return to the start of the line, so the epoch's summary overwrites the bar."""
        if self.drawn:
            print("\r", end="")


# ---- get_one_hot: labels -> one-hot rows.
def get_one_hot(in_array, one_hot_dim):
    """(N, one_hot_dim) float one-hot rows from N labels: the template's (N, 1) float column, or a flat array."""
    labels = np.asarray(in_array, dtype=np.float64).reshape(len(in_array), -1)
    if labels.shape[1] != 1:
        raise ValueError(f"get_one_hot expects one label per row, got shape {np.shape(in_array)}")
    labels = labels[:, 0]
    if not np.all((labels == np.round(labels)) & (labels >= 0) & (labels < one_hot_dim)):
        raise ValueError(f"get_one_hot: labels must be whole numbers 0..{one_hot_dim - 1}")
    out_array = np.zeros((len(labels), one_hot_dim))
    out_array[np.arange(len(labels)), labels.astype(np.intp)] = 1
    return out_array


# ---- Addition: learning-rate schedule and data augmentation for get_training_stats.
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


def make_augment(config):
    """random_affine when the preset rotates or scales, whole-pixel random_shift when it only shifts."""
    if config.get("max_degrees") or config.get("max_scale"):
        return random_affine(config["max_degrees"], config["max_scale"], config["max_shift"])
    return random_shift(config["max_shift"]) if config.get("max_shift") else None


# ---- Addition: evaluation helpers with class-index labels (report, confusion matrix, verification).
def evaluate(mlp, x, labels, batch_size=1000):
    """(mean loss, error fraction) of `mlp` in eval mode; labels as class indices or one-hot."""
    classes = _class_indices(labels)
    was_training = mlp.train_mode
    loss, error = _evaluate_batches(mlp, x, get_one_hot(classes, mlp.output_size), batch_size)
    mlp.train_mode = was_training
    return loss, error


def predict(mlp, x, batch_size=1000):
    """Predicted classes, computed in eval mode in batches (the mode is restored afterwards)."""
    was_training = mlp.train_mode
    mlp.eval()
    classes = np.concatenate([mlp.forward(x[i:i + batch_size]).argmax(axis=1)
                              for i in range(0, len(x), batch_size)])
    mlp.train_mode = was_training
    return classes


# ---- Addition: loading a model saved by MLP.save_model; never unpickles, refuses anything else clearly.
class ModelFileError(ValueError):
    """A file that is not a readable p1 model."""


def load_model(path):
    """The MLP saved by MLP.save_model, in eval mode; its metadata (e.g. test_error) is in mlp.metadata."""
    data = _read_npz(path)

    def fail(what):
        return ModelFileError(f"{path}: not a p1 model file: {what}")

    sizes = data.get("sizes")
    if sizes is None or sizes.ndim != 1 or len(sizes) < 2 or sizes.dtype.kind not in "iu" or sizes.min() < 1:
        raise fail("it holds no layer sizes (a list of at least two positive whole numbers named 'sizes')")
    sizes = [int(s) for s in sizes]
    nlayers = len(sizes) - 1
    names = data.get("activations")
    if names is None or names.shape != (nlayers,) or not all(str(n) in ACTIVATIONS for n in names):
        raise fail(f"it needs {nlayers} activation names from {', '.join(ACTIVATIONS)} (named 'activations')")
    num_bn = sum(1 for key in data if key.startswith("bn") and key.endswith("_gamma"))
    if num_bn >= nlayers:
        raise fail(f"it has batch norm on {num_bn} layers, but only {nlayers - 1} hidden layers")
    expected = {}
    for i in range(nlayers):
        expected[f"W{i}"] = [(sizes[i], sizes[i + 1])]
        expected[f"b{i}"] = [(sizes[i + 1],), (1, sizes[i + 1])]
    for i in range(num_bn):
        expected.update({f"bn{i}_{name}": [(1, sizes[i + 1])] for name in BN_ARRAYS})
    for key, shapes in expected.items():
        array = data.get(key)
        if array is None:
            raise fail(f"the array {key} is missing")
        if array.shape not in shapes or array.dtype.kind != "f":
            raise fail(f"{key} is {array.dtype} of shape {array.shape}, but the layer sizes {sizes} ask for "
                       f"floating-point {' or '.join(map(str, shapes))}")
        if not np.isfinite(array).all():
            raise fail(f"{key} holds values that are not finite")

    weights = iter([data[f"W{i}"] for i in range(nlayers)])
    biases = iter([data[f"b{i}"] for i in range(nlayers)])
    mlp = MLP(sizes[0], sizes[-1], sizes[1:-1], [ACTIVATIONS[str(name)]() for name in names],
              lambda d0, d1: next(weights), lambda d: next(biases), SoftmaxCrossEntropy(), lr=0.0,
              num_bn_layers=num_bn)
    for i, bn in enumerate(mlp.bn_layers):
        for name in BN_ARRAYS:
            setattr(bn, name, data[f"bn{i}_{name}"])
    mlp.metadata = {key[5:]: data[key].item() for key in data if key.startswith("meta_") and data[key].ndim == 0}
    mlp.eval()
    return mlp


def _read_npz(path):
    """{name: array} of an .npz, read with allow_pickle=False. Every failure is one ModelFileError of ours:
    numpy's own messages would suggest loading unsafely."""
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise ModelFileError(f"{path}: cannot read the model file: {e.strerror}") from None
    if not magic:
        raise ModelFileError(f"{path}: not a p1 model file: the file is empty")
    if magic != b"PK\x03\x04":
        raise ModelFileError(f"{path}: not a p1 model file: it is not an .npz archive")
    data = {}
    try:
        with np.load(path, allow_pickle=False) as z:
            for key in z.files:
                data[key] = z[key]
    except ValueError as e:
        if "pickle" in str(e):
            raise ModelFileError(f"{path}: not a p1 model file: it holds Python objects (as the template's "
                                 "np.savez of the W and b lists does), which are never loaded") from None
        raise ModelFileError(f"{path}: not a p1 model file: a damaged .npz archive") from None
    except Exception:  # zipfile's BadZipFile, EOFError, OSError, ...: a damaged archive either way
        raise ModelFileError(f"{path}: not a p1 model file: a damaged .npz archive") from None
    return data


# ---- Addition: MNIST data in the assignment's CSV layout: label, then 784 pixels 0..255; no header.
CSV_NAMES = ("mnist_train.csv", "mnist_test.csv")
CSV_URLS = ("https://pjreddie.com/media/files/mnist_train.csv", "https://pjreddie.com/media/files/mnist_test.csv")
GET_DATA_HINT = (f"download {CSV_URLS[0]} and {CSV_URLS[1]} into the folder holding p1.py, or set MNIST_DIR "
                 "to the folder holding them")
ROW_LAYOUT = "each row must be a label 0..9 followed by 784 pixel values 0..255, comma-separated, no header"
PIXELS = 784
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MNIST_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "data", "mnist"))


class MnistDataError(Exception):
    """An MNIST CSV is missing or malformed."""


def mnist_places(environ=os.environ):
    """[(folder, how to name it)] where the CSVs are looked for, in order: $MNIST_DIR alone when it is set, else
    the folder holding p1.py, the working folder, and the repository's data/mnist."""
    if environ.get("MNIST_DIR"):
        return [(environ["MNIST_DIR"], "MNIST_DIR")]
    return [(HERE, "the folder holding p1.py"), (os.getcwd(), "the working folder"),
            (DEFAULT_MNIST_DIR, "data/mnist two folders above p1.py")]


def find_mnist_dir(environ=os.environ):
    """The first of mnist_places() holding both CSVs. The error names every place tried."""
    tried = []
    for folder, what in mnist_places(environ):
        missing = [name for name in CSV_NAMES if not os.path.isfile(os.path.join(folder, name))]
        if not missing:
            return folder
        tried.append(f"{what} {folder} (no {' or '.join(missing)})")
    raise MnistDataError(f"the MNIST CSVs were not found; tried {'; '.join(tried)}. To get them, {GET_DATA_HINT}")


def load_mnist_csv(path, cache_folder=None):
    """(pixels uint8 (n, 784), labels int64 (n,)) from one MNIST CSV, validated; cached as .npy (in
    `cache_folder`, by default $P1_CACHE_DIR or ~/.cache/hw1_p1) after the first parse so later runs start at
    once."""
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise MnistDataError(f"{path}: file not found; {GET_DATA_HINT}")
    cache = _cache_file(path, cache_folder or cache_dir())
    table = _read_cache(cache)
    if table is None:
        table = _parse_mnist_csv(path)
        _write_cache(cache, table)
    return np.ascontiguousarray(table[:, 1:]), table[:, 0].astype(np.int64)


def preprocess(pixels):
    """Raw 0..255 pixel rows -> float32 in [0, 1]: the template's 1/255 scaling, nothing estimated from data."""
    return np.asarray(pixels, dtype=np.float32) * np.float32(1 / 255)


def _parse_mnist_csv(path):
    """(n, 785) uint8 table. numpy's C parser (about a second for the 60,000 rows) rejects anything that is not
    a whole number 0..255; when it fails, a plain re-read finds the row and says what is wrong with it."""
    if os.path.getsize(path) == 0:
        raise MnistDataError(f"{path}: the file is empty; {GET_DATA_HINT}")
    with open(path, "rb") as f:
        if f.read(3) == b"\xef\xbb\xbf":
            raise MnistDataError(f"{path}: the file starts with a UTF-8 byte-order mark (bytes EF BB BF, added by "
                                 "some editors); save it without one. " + ROW_LAYOUT)
        f.seek(0)
        while True:   # only blank lines: say so, rather than let the parser warn about "no data"
            chunk = f.read(1 << 16)
            if not chunk:
                raise MnistDataError(f"{path}: the file holds no rows; {GET_DATA_HINT}")
            if chunk.strip():
                break
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
                if value[:1] == "-" and value[1:].isascii() and value[1:].isdigit():
                    return row, f"{name} {value} is negative (column {column})"
                if not (value.isascii() and value.isdigit()):
                    return row, f"{name} {value!r} (column {column}) is not a whole number"
                if int(value) > high:
                    return row, f"{name} {value} is outside 0..{high} (column {column})"
    return 1, "not readable as comma-separated whole numbers"


def _bad_row(path, row, what):
    return MnistDataError(f"{path}, row {row}: {what}; {ROW_LAYOUT}. To replace the file, {GET_DATA_HINT}")


def cache_dir(environ=os.environ):
    return environ.get("P1_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "hw1_p1")


def _cache_file(path, folder):
    """One .npy per CSV under `folder`, named after its absolute path, size and modification time, so an edited
    or replaced CSV is parsed again. (A Windows drive becomes a folder name: C:\\data -> <folder>\\C\\data.)
    Machines sharing a home folder over a network, each with its own copy of a CSV, replace each other's cache."""
    st = os.stat(path)
    for long_form in ("\\\\?\\UNC\\", "\\\\?\\"):   # Windows' long-path forms: \\?\UNC\server\share\..., \\?\C:\...
        if path.startswith(long_form):
            path = path[len(long_form):]
            break
    drive, rest = os.path.splitdrive(path)
    relative = os.path.join(drive.strip("\\/:").replace(":", ""), rest.lstrip("\\/"))
    return os.path.join(folder, relative + f".{st.st_size}-{st.st_mtime_ns}.npy")


def _read_cache(cache):
    """The cached table, or None: a missing, empty, damaged or unreadable cache file is a cache miss (the CSV is
    parsed again and the cache rewritten)."""
    if not os.path.exists(cache):
        return None
    try:
        table = np.load(cache, allow_pickle=False)
    except Exception:  # EOFError, ValueError, OSError, ...: any unreadable file
        table = None
    if table is not None and table.dtype == np.uint8 and table.ndim == 2 and table.shape[1] == PIXELS + 1:
        return table
    _warn(f"the parse cache {cache} was unreadable; parsing the CSV again and rewriting the cache")
    return None


def _write_cache(cache, table):
    """Best effort: a read-only home or cache folder only means the next run parses again."""
    try:
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        _atomic_write(cache, lambda f: np.save(f, table))
    except OSError as e:
        _warn(f"could not write the parse cache {cache} ({e.strerror}); the next run parses the CSV again")
        return
    for stale in _older_caches(cache):   # each as large as the data, and never read again
        try:
            os.remove(stale)
        except OSError:
            pass


def _older_caches(cache):
    """The cache files of the same CSV for another size or date than `cache` (<csv name>.<size>-<mtime>.npy)."""
    folder, name = os.path.split(cache)
    stem = name.rsplit(".", 2)[0] + "."
    for other in os.listdir(folder):
        version = other[len(stem):-len(".npy")].split("-")
        if (other != name and other.startswith(stem) and other.endswith(".npy") and len(version) == 2
                and all(part.isdigit() for part in version)):
            yield os.path.join(folder, other)


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


def wall_clock():
    """Seconds since some fixed moment. os.times().elapsed counts in clock ticks, but Windows leaves it 0; there
    NumPy's clock stands in (whole seconds: enough for epochs and a run, not for a single batch)."""
    elapsed = os.times().elapsed
    return elapsed if elapsed else np.datetime64("now", "s").astype(np.int64).item()


def _end_bar():
    """A newline that ends a live progress bar on the terminal, so a message after it starts a line of its own."""
    return "\n" if os.isatty(1) else ""


def _warn(message):
    _stderr(f"warning: {message}")


def _stderr(line):
    """One line to standard error. p1.py may not import sys, so the line goes to file descriptor 2 directly."""
    print(end="", flush=True)  # what stdout already holds comes first
    os.write(2, (line + "\n").encode("utf-8", "replace"))


# ---- Addition: the report: training curves (PNG); PDF with model, hyper-parameters, results, machine.
MODEL_FILE_NOTE = (
    "MODEL FILE. p1_model.npz is written by MLP.save_model(path='p1_model.npz'), the template's method, and holds\n"
    "what the template saves: every W and b. The template's line np.savez(path, self.W, self.b) would store each\n"
    "list as one Python object: NumPy 1.24 and later refuse that when the layers differ in shape, and reading it\n"
    "back needs pickles, which can run code. So each parameter is its own plain array (W0, b0, W1, ...), beside\n"
    "the layer sizes and activation names: np.load('p1_model.npz', allow_pickle=False) reads it, and\n"
    "p1.load_model('p1_model.npz') rebuilds the MLP.")


def plot_training(stats, path):
    """Loss and error vs epoch, training and validation, side by side (the assignment's Fig. 7), as PNG."""
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    _draw_curves(fig.subplots(1, 2), stats)
    fig.savefig(path, dpi=100, format="png")


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
    summary = Figure(figsize=(8.5, 11))
    summary.text(0.07, 0.95, "HW1 Problem 1: a NumPy MLP on MNIST", fontsize=16, weight="bold")
    summary.text(0.07, 0.93, f"preset '{run['preset']}', seed {run['config']['seed']}", fontsize=10)
    summary.text(0.07, 0.90, _report_text(run), fontsize=8.5, family="monospace", va="top")
    _draw_curves([summary.add_axes([0.09, 0.07, 0.37, 0.33]), summary.add_axes([0.58, 0.07, 0.37, 0.33])],
                 run["stats"])
    summary.text(0.07, 0.475, "Training curves, per sample as in the template's get_training_stats. Training "
                 "numbers are running means over each\nepoch's mini-batches (augmented images, weights still "
                 "changing); validation numbers are measured after each epoch.", fontsize=8.5, va="top")

    errors = Figure(figsize=(8.5, 11))
    _plot_confusion(errors.add_axes([0.2, 0.55, 0.6, 0.38]), run["confusion"])
    errors.text(0.07, 0.475, MODEL_FILE_NOTE, fontsize=8, family="monospace", va="top")
    errors.text(0.07, 0.37, f"The first {len(run['mistakes'])} of the {run['test_mistakes']} misclassified "
                "test digits", fontsize=12, weight="bold")
    for k, (image, true, predicted) in enumerate(run["mistakes"]):
        ax = errors.add_axes([0.07 + 0.145 * (k % 6), 0.2 - 0.155 * (k // 6), 0.12, 0.12])
        ax.imshow(image.reshape(28, 28), cmap="gray_r", vmin=0, vmax=255)
        ax.set_title(f"true {true}, predicted {predicted}", fontsize=7)
        ax.set_xticks([]), ax.set_yticks([])

    with PdfPages(path, metadata={"CreationDate": None}) as pdf:
        pdf.savefig(summary)
        pdf.savefig(errors)


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
              f"   loss {run['test_loss']:.4f}   (mnist_test.csv, from get_training_stats)",
              "", "TIME AND MACHINE",
              f"  data loading {t['data']:.1f} s, training {t['train']:.1f} s "
              f"({t['train'] / config['num_epochs']:.2f} s per epoch), evaluation {t['eval']:.1f} s,",
              f"  {t['total']:.1f} s in all before writing this report",
              f"  {run['machine']}"])
    return "\n".join(lines)


def _describe(value):
    if isinstance(value, (tuple, list)) and all(isinstance(v, Activation) for v in value):
        return ",".join(type(v).__name__ for v in value)
    if isinstance(value, (tuple, list)):
        return "x".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


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
    if hasattr(os, "uname"):
        u = os.uname()
        system = f"{u.sysname} {u.release} {u.machine}"
    else:  # Windows
        system, model = "Windows", model or os.environ.get("PROCESSOR_IDENTIFIER", "")
    return f"{system}, {os.cpu_count()} CPUs {model}, numpy {np.__version__}"


# ---- Addition: the MNIST experiment: checks first, then data, training, and the three outputs as one set.
HYPERPARAMETER_NOTES = {  # why each value; the report prints them beside the values
    "hiddens": "hidden widths: ample capacity, yet an epoch takes seconds",
    "activations": "ReLU: no saturation, cheap, matches He initialisation",
    "lr": "peak learning rate, reached after the warm-up",
    "num_epochs": "passes over the training rows (the time budget's limit)",
    "batch_size": "images per SGD step; larger batches keep BLAS busier",
    "momentum": "heavy-ball momentum: about a 10x longer effective step",
    "warmup": "share of steps with linear warm-up; then cosine decay to 0",
    "max_shift": "random shift of each training image, pixels",
    "max_degrees": "random rotation of each training image, degrees",
    "max_scale": "random rescaling of each training image by 1 +- this",
    "validation": "last rows of mnist_train.csv held out for validation",
    "seed": "seeds initialisation, shuffling and augmentation",
}
OUTPUTS = ("p1_model.npz", "p1_training.png", "p1_report.pdf")


class SettingError(ValueError):
    """A preset or environment variable that cannot work; found before any work starts."""


def check_config(name, config):
    """Raise SettingError naming the first hyper-parameter of preset `name` that cannot work."""
    def number(value):
        return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)

    def whole(value):
        return number(value) and float(value).is_integer()

    rules = {
        "hiddens": (lambda v: isinstance(v, (list, tuple)) and all(whole(h) and h >= 1 for h in v),
                    "a list of positive whole numbers"),
        "activations": (lambda v: isinstance(v, (list, tuple)) and all(isinstance(a, Activation) for a in v)
                        and len(v) - len(config.get("hiddens", ())) in (0, 1),
                        "one activation such as ReLU() per hidden layer (optionally Identity() for the output)"),
        "lr": (lambda v: number(v) and 0 < v < np.inf, "a positive finite number"),
        "num_epochs": (lambda v: whole(v) and v >= 1, "a whole number of at least 1"),
        "batch_size": (lambda v: whole(v) and v >= 1, "a whole number of at least 1"),
        "momentum": (lambda v: number(v) and 0 <= v < 1, "a number from 0 up to (not including) 1"),
        "warmup": (lambda v: number(v) and 0 <= v < 1, "a fraction from 0 up to (not including) 1"),
        "max_shift": (lambda v: whole(v) and 0 <= v <= 13, "a whole number of pixels from 0 to 13"),
        "max_degrees": (lambda v: number(v) and 0 <= v <= 180, "a number of degrees from 0 to 180"),
        "max_scale": (lambda v: number(v) and 0 <= v < 1, "a number from 0 up to (not including) 1"),
        "validation": (lambda v: whole(v) and v >= 1, "a whole number of rows of at least 1"),
        "seed": (lambda v: whole(v) and 0 <= v < 2**32, "a whole number from 0 to 2**32 - 1"),
    }
    for key in config:
        if key not in rules:
            raise SettingError(f"preset {name!r}: unknown hyper-parameter {key!r}; known: {', '.join(rules)}")
    for key, (ok, what) in rules.items():
        if key not in config:
            raise SettingError(f"preset {name!r}: the hyper-parameter {key!r} is missing")
        if not ok(config[key]):
            raise SettingError(f"preset {name!r}: {key} must be {what}, got {config[key]!r}")


def check_output_dir(out_dir, what):
    """Fail at once, not after training, when `out_dir` cannot be created or written. Leaves nothing behind:
    folders made for the check are removed again, and made for real when the outputs are written."""
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise SettingError(f"{what} {out_dir} is a file, not a folder; set P1_OUT to a folder for the outputs")
    for name in OUTPUTS:   # the outputs are replaced as one set, so each must be replaceable
        target = os.path.join(out_dir, name)
        if os.path.lexists(target) and not os.path.isfile(target):
            raise SettingError(f"{target} exists and is not a file, so the outputs could not be replaced; move it "
                               "away or set P1_OUT to another folder")
    created = []
    folder = os.path.abspath(out_dir)
    while not os.path.exists(folder):
        created.append(folder)
        folder = os.path.dirname(folder)
    probe = os.path.join(out_dir, f".p1_write_test{os.getpid()}")
    try:
        for made in reversed(created):
            os.mkdir(made)
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
        os.remove(probe)
    except OSError as e:
        raise SettingError(f"{what} {out_dir} cannot be written ({e.strerror}); set P1_OUT to a folder you can "
                           "write") from None
    finally:
        for made in created:
            if os.path.isdir(made):
                os.rmdir(made)


def build_mlp(config, dtype=np.float32):
    """The preset's network with He-scaled weights drawn from numpy's global generator (seeded by the caller)."""
    return MLP(PIXELS, 10, list(config["hiddens"]), list(config["activations"]),
               lambda d0, d1: he_weight_init(d0, d1, dtype), zeros_bias_init, SoftmaxCrossEntropy(), config["lr"],
               momentum=config["momentum"])  # the MLP gives each bias its weights' dtype


def run_experiment(config, mnist_dir, out_dir, preset="custom", cache_folder=None):
    """Load the data, train, evaluate, and write p1_model.npz, p1_training.png and p1_report.pdf as one set;
    returns the run record the report is made from."""
    clock = wall_clock()
    train_pixels, train_labels = load_mnist_csv(os.path.join(mnist_dir, "mnist_train.csv"), cache_folder)
    test_pixels, test_labels = load_mnist_csv(os.path.join(mnist_dir, "mnist_test.csv"), cache_folder)
    n_val = config["validation"]
    if n_val >= len(train_pixels):
        raise MnistDataError(f"{os.path.join(mnist_dir, 'mnist_train.csv')} has {len(train_pixels)} rows, too few "
                             f"to hold out {n_val} for validation; {GET_DATA_HINT}")
    n_train = len(train_pixels) - n_val
    if config["batch_size"] > n_train:
        raise SettingError(f"preset {preset!r}: batch_size {config['batch_size']} is larger than the {n_train} "
                           "training rows")
    # The template's split: the first rows train, the last `validation` rows validate; labels one-hot.
    x, test_x = preprocess(train_pixels), preprocess(test_pixels)
    train = [x[:n_train], get_one_hot(train_labels[:n_train].reshape(-1, 1), 10)]
    val = [x[n_train:], get_one_hot(train_labels[n_train:].reshape(-1, 1), 10)]
    test = [test_x, get_one_hot(test_labels.reshape(-1, 1), 10)]
    times = {"data": wall_clock() - clock}
    print(f"data from {mnist_dir}: {n_train} training, {n_val} validation, {len(test_x)} test images "
          f"({times['data']:.1f} s)", flush=True)

    np.random.seed(config["seed"])
    mlp = build_mlp(config)
    stats = get_training_stats(mlp, [train, val, test], config["num_epochs"], config["batch_size"],
                               rng=np.random.default_rng(config["seed"]),
                               lr_schedule=warmup_cosine(config["lr"], config["warmup"]),
                               augment=make_augment(config))
    times["train"] = wall_clock() - clock - times["data"]

    # The training rows again, without augmentation and with the final weights; validation was measured
    # after the last epoch with these same weights, so its numbers are the curves' last points.
    train_loss, train_error = evaluate(mlp, *train)
    val_loss, val_error = stats[2][-1], stats[3][-1]
    predicted = predict(mlp, test_x)
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (test_labels, predicted), 1)
    wrong = np.flatnonzero(predicted != test_labels)
    times["total"] = wall_clock() - clock
    times["eval"] = times["total"] - times["data"] - times["train"]
    run = dict(preset=preset, config=config, stats=stats, sizes=mlp.nn_dim,
               activations=[type(a).__name__ for a in mlp.layer_activations],
               parameters=sum(w.size + b.size for w, b in zip(mlp.W, mlp.b)),
               n_train=n_train, n_val=n_val, n_test=len(test_x), train_loss=train_loss,
               train_error=train_error, val_loss=val_loss, val_error=val_error, test_loss=mlp.test_loss,
               test_error=mlp.test_error, confusion=confusion, test_mistakes=len(wrong),
               mistakes=[(test_pixels[i], test_labels[i], predicted[i]) for i in wrong[:12]],
               times=times, machine=machine_description())
    mlp.metadata = dict(test_error=mlp.test_error, val_error=val_error, train_error=train_error, preset=preset,
                        seed=config["seed"])
    write_outputs(out_dir, {"p1_model.npz": mlp.save_model,
                            "p1_training.png": lambda path: plot_training(stats, path),
                            "p1_report.pdf": lambda path: write_report(run, path)})
    return run


def _temporary_name(name):
    """p1_model.npz -> .p1_model.tmp<pid>.npz: hidden, unique to this run, and with the extension the writer
    expects (save_model adds .npz to a name without it)."""
    stem, extension = os.path.splitext(name)
    return f".{stem}.tmp{os.getpid()}{extension}"


def write_outputs(out_dir, writers):
    """Each writer(path) writes to a temporary name first; only when all have succeeded are the files renamed
    into place, so an interruption or failure never leaves a new model beside an old report."""
    os.makedirs(out_dir, exist_ok=True)
    staged = {name: os.path.join(out_dir, _temporary_name(name)) for name in writers}
    try:
        for name, write in writers.items():
            write(staged[name])
        for name, tmp in staged.items():
            os.replace(tmp, os.path.join(out_dir, name))
    finally:
        for tmp in staged.values():
            if os.path.exists(tmp):
                os.remove(tmp)


def run_presets(presets, environ=os.environ):
    """The command line: check every setting, then train the chosen preset. Returns the exit status: 0 done,
    1 data or training failed, 2 a setting cannot work, 130 interrupted; every failure is one line on stderr."""
    start = wall_clock()
    try:
        preset = environ.get("P1_PRESET") or "default"
        if preset not in presets:
            raise SettingError(f"unknown P1_PRESET {preset!r}; choose one of {', '.join(presets)}")
        check_config(preset, presets[preset])
        if os.path.exists(cache_dir(environ)) and not os.path.isdir(cache_dir(environ)):
            raise SettingError(f"P1_CACHE_DIR {cache_dir(environ)} is a file, not a folder")
        out_dir = environ.get("P1_OUT") or HERE
        check_output_dir(out_dir, "P1_OUT" if environ.get("P1_OUT") else "the output folder")
        mnist_dir = find_mnist_dir(environ)
        run = run_experiment(presets[preset], mnist_dir, out_dir, preset, cache_dir(environ))
    except SettingError as e:
        _stderr(f"error: {e}")
        return 2
    except (MnistDataError, TrainingDiverged, OSError) as e:
        _stderr(f"{_end_bar()}error: {e}")
        return 1
    except KeyboardInterrupt:
        _stderr(f"{_end_bar()}interrupted: {', '.join(OUTPUTS)} were left as they were")
        return 130
    print(f"wrote {', '.join(OUTPUTS)} to {out_dir} (wall time {wall_clock() - start:.1f} s)")
    print(f"train error: {100 * run['train_error']:.2f}%  validation error: {100 * run['val_error']:.2f}%")
    print(f"test error: {100 * run['test_error']:.2f}%")
    return 0


def main():
    # ======== Hyper-parameters: the only part of main() meant to be changed ========
    # P1_PRESET=best picks the second set. Activations: one per hidden layer. The report prints each value
    # with the reason for it. Default: 10 epochs with +-1 pixel shifts fit a one-minute budget on two cores
    # (+-2 pixels underfit in 10 epochs); batches of 256 halve the per-step NumPy overhead of 128, the learning
    # rate doubled with them. Best: random affine distortions, which need many epochs to pay off.
    presets = {
        "default": dict(hiddens=[1024, 1024], activations=[ReLU(), ReLU()], lr=0.1, num_epochs=10,
                        batch_size=256, momentum=0.9, warmup=0.03, max_shift=1, max_degrees=0, max_scale=0,
                        validation=10000, seed=0),
        "best": dict(hiddens=[1024, 1024], activations=[ReLU(), ReLU()], lr=0.05, num_epochs=60,
                     batch_size=128, momentum=0.9, warmup=0.03, max_shift=2, max_degrees=10, max_scale=0.1,
                     validation=10000, seed=0),
    }
    # =================================================================================
    return run_presets(presets)


if __name__ == "__main__":
    raise SystemExit(main())
