"""HW1 problem 1: the course template p1_template.py, solved: a multi-layer perceptron in NumPy, trained on MNIST.
`python p1.py` beside mnist_train.csv and mnist_test.csv trains with the hyper-parameters marked in main() and writes
p1_model.npz, p1_training.png and p1_report.pdf beside p1.py. Optional: MNIST_DIR (the CSVs' folder), P1_PRESET=best,
P1_OUT (output folder). The template's parts come first, in its order; what it lacks follows under "Additions"."""
# Do not import any third-party library other than numpy and matplotlib (the assignment's rule).
import os

import numpy as np
# The template imports matplotlib.pyplot; Figure objects write files without a display or pyplot's global state.
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, MaxNLocator, NullFormatter

# ---- Activations. `state` is the last output; derivative() is taken w.r.t. the last input.
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

    """
    Identity function (already implemented).
    """

    # This class is a gimme as it is already implemented for you as an example (do not change)

    def __init__(self):
        super(Identity, self).__init__()

    def forward(self, x):
        self.state = x
        return x

    def derivative(self):
        return 1.0

class Sigmoid(Activation):
    def forward(self, x):
        e = np.exp(-np.abs(x))  # never overflows; the two branches below are one function, stable for each sign
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

# ---- Loss: softmax cross-entropy on logits and one-hot labels.
class Criterion:
    def __init__(self):
        self.logits = self.labels = self.loss = None
    def __call__(self, x, y):
        return self.forward(x, y)
    def forward(self, x, y):
        raise NotImplementedError
    def derivative(self):
        raise NotImplementedError

class SoftmaxCrossEntropy(Criterion):
    def forward(self, x, y):
        """Per-sample loss (batch,) = logsumexp(x) - <y, x>; shifting by the row max keeps exp() finite."""
        y = np.asarray(y, dtype=x.dtype)  # float64 one-hot labels must not turn float32 training into float64
        if y.shape != x.shape:  # class numbers would broadcast into a wrong loss without an error
            raise ValueError(f"labels of shape {y.shape} for outputs {x.shape}: give one-hot rows (get_one_hot)")
        self.logits, self.labels = x, y
        shifted = x - x.max(axis=1, keepdims=True)
        log_sm = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.sm = np.exp(log_sm)  # the softmax, for derivative()
        self.loss = -(y * log_sm).sum(axis=1)
        return self.loss
    def derivative(self):
        return self.sm - self.labels  # d loss_i / d logits_i for every sample, not averaged over the batch

# ---- Initialisation (the template's two functions; main() uses he_weight_init, under Additions).
def random_normal_weight_init(d0, d1):
    return np.random.randn(d0, d1)

def zeros_bias_init(d):
    return np.zeros(d)

# ---- The MLP: layer i computes activation_i(x @ W[i] + b[i]).
class MLP:
    """The template's MLP. `activations`: one per hidden layer (the template's [Sigmoid()] for hiddens=[128]), or one
    per layer with Identity() last. Additions: `momentum` (0: plain SGD) and `lr_schedule` (step -> lr) for step()."""
    def __init__(self, input_size, output_size, hiddens, activations, weight_init_fn, bias_init_fn, criterion,
                 lr, momentum=0.0, lr_schedule=None):
        # Don't change this -->
        self.train_mode = True
        self.nlayers = len(hiddens) + 1
        self.input_size = input_size
        self.output_size = output_size
        self.activations = activations
        self.criterion = criterion
        self.lr = lr
        # <---------------------
        n = len(activations) if hasattr(activations, "__len__") else -1   # a list, a tuple, ...; not one object
        if n not in (self.nlayers - 1, self.nlayers) or len(set(map(id, activations))) < n or not all(
                isinstance(a, Activation) for a in activations):
            raise SettingError(f"{len(hiddens)} hidden layers need a list of {len(hiddens)} activation objects, e.g. "
                               f"[{', '.join(['ReLU()'] * len(hiddens))}]: a new one for each hidden layer (it keeps "
                               "that layer's state for backward()); Identity() may follow for the output layer")
        self.layer_activations = list(activations) + [Identity()] * (self.nlayers - n)
        # The template's names (don't change). All weights first, then the biases: the order a seed's draws go in.
        self.nn_dim = [input_size] + list(hiddens) + [output_size]
        self.W = [weight_init_fn(self.nn_dim[i], self.nn_dim[i + 1]) for i in range(self.nlayers)]
        self.b = [np.asarray(bias_init_fn(self.nn_dim[i + 1]), dtype=self.W[i].dtype) for i in range(self.nlayers)]
        self.zero_grads()  # self.dW and self.db, the template's names
        self.momentum, self.lr_schedule, self.steps_taken = momentum, lr_schedule, 0
        self.velocities = [np.zeros_like(param) for param in self.W + self.b]  # one per parameter, W then b
        self.metadata = {}  # numbers or strings that save_model stores beside the weights, e.g. test_error

    def forward(self, x):
        x = np.asarray(x, dtype=self.W[0].dtype)
        self.inputs = []
        for i in range(self.nlayers):
            self.inputs.append(x)
            x = self.layer_activations[i](x @ self.W[i] + self.b[i])
        self.output = x
        return x

    def zero_grads(self):
        self.dW = [np.zeros_like(w) for w in self.W]
        self.db = [np.zeros_like(b) for b in self.b]

    def step(self):
        """Momentum SGD, in place: v = momentum * v - lr * grad; param += v; lr follows lr_schedule if given."""
        loss = getattr(self.criterion, "loss", None)   # over 10,000 nats an image: weights that have run away
        if loss is not None and not (np.isfinite(loss).all() and loss.mean() < 1e4):
            raise TrainingDiverged(f"the training loss diverged after {self.steps_taken} steps at learning rate "
                                   f"{self.lr:g}; " + ("lower the learning rate" if self.steps_taken else
                                                        "check the data for NaN, infinite or unscaled values"))
        if self.lr_schedule is not None:
            self.lr = self.lr_schedule(self.steps_taken)
        self.steps_taken += 1
        for param, grad, v in zip(self.W + self.b, self.dW + self.db, self.velocities):
            v *= self.momentum
            v -= self.lr * grad
            param += v

    def backward(self, labels):
        """Gradients of the batch-MEAN loss of the last forward (one-hot `labels`) w.r.t. every W and b."""
        self.criterion(self.output, labels)
        delta = self.criterion.derivative() / len(labels)
        for i in reversed(range(self.nlayers)):
            delta = delta * self.layer_activations[i].derivative()
            self.dW[i] = self.inputs[i].T @ delta
            self.db[i] = delta.sum(axis=0).reshape(self.b[i].shape)
            if i > 0:  # the input image needs no gradient, which saves a third of the first layer's cost
                delta = delta @ self.W[i].T

    def __call__(self, x):
        return self.forward(x)
    def train(self):
        self.train_mode = True
    def eval(self):
        self.train_mode = False

    def get_loss(self, labels):
        """The SUMMED loss of the last forward's batch (the template's loop divides by the number of samples)."""
        return float(self.criterion(self.output, labels).sum())

    def get_error(self, labels):
        """The NUMBER of wrong predictions in the last forward's batch (labels one-hot, or class indices)."""
        labels = np.asarray(labels)
        truth = labels.argmax(axis=1) if labels.ndim == 2 and labels.shape[1] > 1 else labels.reshape(-1)
        return int((self.output.argmax(axis=1) != truth).sum())

    def save_model(self, path='p1_model.npz'):
        """The template's method: every W and b as its own array (its np.savez(path, self.W, self.b) fails for layers
        of different shapes), with the layer sizes, activation names and self.metadata, for load_model."""
        if isinstance(path, (str, os.PathLike)):  # written whole under a temporary name, then renamed into place:
            folder, name = os.path.split(os.fspath(path))  # a cut-off file never replaces one
            name += "" if name.endswith(".npz") else ".npz"  # as np.savez names it
            return write_outputs(folder or os.curdir, {name: self.save_model})
        arrays = {"sizes": np.array(self.nn_dim, dtype=np.int64),
                  "activations": np.array([type(a).__name__ for a in self.layer_activations])}
        for i in range(self.nlayers):
            arrays[f"W{i}"], arrays[f"b{i}"] = self.W[i], self.b[i]
        arrays.update({f"meta_{key}": np.asarray(value) for key, value in self.metadata.items()})
        np.savez(path, **arrays)  # an open file, as write_outputs gives (np.savez takes one too)

# Don't change this function
def get_training_stats(mlp, dset, nepochs, batch_size):
    train, val, test = dset
    trainx, trainy = train
    valx, valy = val
    testx, testy = test

    idxs = np.arange(len(trainx))

    training_losses = []
    training_errors = []
    validation_losses = []
    validation_errors = []

    for e in range(nepochs):
        print("epoch: ", e)
        train_loss = 0
        train_error = 0
        val_loss = 0
        val_error = 0
        num_train = len(trainx)
        num_val = len(valx)

        for b in range(0, num_train, batch_size):
            mlp.train()
            mlp.forward(trainx[b:b+batch_size])
            mlp.backward(trainy[b:b+batch_size])
            mlp.step()
            train_loss += mlp.get_loss(trainy[b:b+batch_size])
            train_error += mlp.get_error(trainy[b:b+batch_size])
        training_losses += [train_loss/num_train]
        training_errors += [train_error/num_train]
        print("training loss: ", train_loss/num_train)
        print("training error: ", train_error/num_train)

        for b in range(0, num_val, batch_size):
            mlp.eval()
            mlp(valx[b:b+batch_size])
            val_loss += mlp.get_loss(valy[b:b+batch_size])
            val_error += mlp.get_error(valy[b:b+batch_size])
        validation_losses += [val_loss/num_val]
        validation_errors += [val_error/num_val]
        print("validation loss: ", val_loss/num_val)
        print("validation error: ", val_error/num_val)

    test_loss = 0
    test_error = 0
    num_test = len(testx)
    for b in range(0, num_test, batch_size):
        mlp.eval()
        mlp(testx[b:b+batch_size])
        test_loss += mlp.get_loss(testy[b:b+batch_size])
        test_error += mlp.get_error(testy[b:b+batch_size])
    test_loss /= num_test
    test_error /= num_test
    print("test loss: ", test_loss)
    print("test error: ", test_error)

    return (training_losses, training_errors, validation_losses, validation_errors)

# get_one_hot: the template's, vectorised (its int(in_array[i]) of a one-element row: deprecated, an error in NumPy 2.4)
def get_one_hot(in_array, one_hot_dim):
    """(N, one_hot_dim) float one-hot rows from N labels: the template's (N, 1) float column, or a flat array."""
    labels = np.asarray(in_array, dtype=np.float64).reshape(len(in_array), -1)
    if labels.shape[1] != 1 or not np.all((labels == np.round(labels)) & (labels >= 0) & (labels < one_hot_dim)):
        raise ValueError(f"get_one_hot expects one whole-number label 0..{one_hot_dim - 1} per row")
    return np.eye(one_hot_dim)[labels[:, 0].astype(np.intp)]  # row k of the identity is class k's one-hot row

# ---- main: load the MNIST CSVs (find_mnist_dir says where), split and scale them, build the MLP, train, save, report.
def main():
    clock, folder = wall_clock(), output_dir()  # a folder that cannot be written is refused before any work
    mnist_dir = find_mnist_dir()
    train_pixels, train_labels = load_mnist_csv(os.path.join(mnist_dir, "mnist_train.csv"), VALIDATION_ROWS + 1)
    test_pixels, test_labels = load_mnist_csv(os.path.join(mnist_dir, "mnist_test.csv"))
    # the template's split (the first 50,000 rows train, the last 10,000 validate), pixels scaled by 1/255
    n_train = len(train_pixels) - VALIDATION_ROWS
    train_imgs, val_imgs, test_imgs = map(preprocess, (train_pixels[:n_train], train_pixels[n_train:], test_pixels))
    train_y, val_y, test_y = [get_one_hot(y, 10) for y in (train_labels[:n_train], train_labels[n_train:], test_labels)]

    # ======== Hyper-parameters: the only part of main() meant to be changed ========
    # One activation per hidden layer; the report gives each value's reason. "default" trains in under a minute
    # on two cores; P1_PRESET=best picks the second set, with random distortions that need many more epochs.
    presets = {
        "default": dict(hiddens=[700, 700], activations=[ReLU(), ReLU()], lr=0.1, num_epochs=10, batch_size=256,
                        momentum=0.9, warmup=0.03, max_shift=1, max_degrees=0, max_scale=0, elastic=0, seed=0),
        "best": dict(hiddens=[1024, 1024], activations=[ReLU(), ReLU()], lr=0.05, num_epochs=100, batch_size=128,
                     momentum=0.9, warmup=0.03, max_shift=2, max_degrees=10, max_scale=0.1, elastic=36, seed=0),
    }
    hp = choose_preset(presets)
    # =================================================================================

    # build the MLP: He-scaled normal weights, momentum SGD on a warm-up + cosine learning-rate schedule
    np.random.seed(hp["seed"])
    steps = hp["num_epochs"] * -(-n_train // hp["batch_size"])  # batches an epoch, rounded up: the last is partial
    mlp = MLP(input_size=784, output_size=10, hiddens=hp["hiddens"], activations=hp["activations"],
              weight_init_fn=he_weight_init, bias_init_fn=zeros_bias_init, criterion=SoftmaxCrossEntropy(),
              lr=hp["lr"], momentum=hp["momentum"], lr_schedule=warmup_cosine(hp["lr"], hp["warmup"], steps))
    # train: each epoch visits the training images in a new random order, randomly shifted (and distorted)
    images = TrainingImages(train_imgs, train_y, np.random.default_rng(hp["seed"]), make_augment(hp), hp["num_epochs"])
    dataset = [[images, images.labels], [val_imgs, val_y], [test_imgs, test_y]]
    times = {"data": wall_clock() - clock}
    stats = get_training_stats(mlp, dataset, hp["num_epochs"], hp["batch_size"])
    times["train"] = wall_clock() - clock - times["data"]
    # get_training_stats prints the test result but returns none: measured again, with each image's prediction
    predicted = mlp(test_imgs).argmax(axis=1)
    test_loss, test_error = mlp.get_loss(test_y) / len(test_y), mlp.get_error(test_y) / len(test_y)
    mlp.metadata = dict(test_error=test_error, val_error=stats[3][-1], train_error=stats[1][-1], seed=hp["seed"])
    times["total"] = wall_clock() - clock
    results = dict(hp=hp, stats=stats, mlp=mlp, test_loss=test_loss, test_error=test_error, times=times,
                   test_labels=test_labels, predicted=predicted, n_train=n_train, test_imgs=test_imgs)
    # save the model, plot the curves and write the report: replaced together, or not at all
    write_outputs(folder, {"p1_model.npz": mlp.save_model,
                           "p1_training.png": lambda file: plot_training(stats, file),
                           "p1_report.pdf": lambda file: write_report(results, file)})
    say(f"wrote {', '.join(OUTPUTS)} to {folder} (wall time {wall_clock() - clock:.1f} s)")  # a name in any script
    print(f"test error: {100 * test_error:.2f}%")

# ======== Additions: what the template does not have, each under its own heading. ========
# ---- Initialisation and learning-rate schedule.
def he_weight_init(d0, d1):
    """N(0, 2/d0) in float32: keeps the activations' scale constant through ReLU layers (He et al., 2015)."""
    return (random_normal_weight_init(d0, d1) * np.sqrt(2.0 / d0)).astype(np.float32)

def warmup_cosine(peak_lr, warmup_fraction, total_steps):
    """A linear warm-up to peak_lr (big momentum steps from a random start can diverge; Goyal et al., 2017), then a
    cosine decay to 0 (Loshchilov & Hutter, 2017)."""
    def schedule(step):
        progress = step / total_steps
        if progress < warmup_fraction:
            return peak_lr * min(1.0, (step + 1) / (warmup_fraction * total_steps))
        # float(): with a NumPy float64 learning rate each lr * grad would be a float64 temporary (slower)
        return float(peak_lr * 0.5 * (1 + np.cos(np.pi * (progress - warmup_fraction) / (1 - warmup_fraction))))
    return schedule

# ---- Shuffling and augmentation: the training set as get_training_stats slices it.
class TrainingImages:
    """trainx for get_training_stats: [b:b + n] gives rows b.. of this epoch's random order, augmented. A slice from
    row 0 starts an epoch: a new order, put in place into `labels` (trainy, held by the loop), and a progress line."""
    def __init__(self, images, labels, rng, augment, epochs):
        self.images, self.rng, self.augment, self.epochs = images, rng, augment, epochs
        self.labels_in_file_order, self.labels = labels, labels.copy()
        self.order, self.started_at, self.epochs_begun = np.arange(len(images)), wall_clock(), 0

    def __len__(self):
        return len(self.images)

    def __getitem__(self, rows):
        if not rows.start:
            self.order = self.rng.permutation(len(self.images))
            self.labels[:] = self.labels_in_file_order[self.order]
            elapsed, done = wall_clock() - self.started_at, self.epochs_begun
            self.epochs_begun += 1
            left = elapsed / max(done, 1) * (self.epochs - done)
            to_go = f", about {left:.0f} s to go" if left < 90 else f", about {left / 60:.1f} min to go"
            print(f"  ({done} of {self.epochs} epochs done, {elapsed:.1f} s since training started"
                  f"{to_go if done else ''})", flush=True)
        batch = self.images[self.order[rows]]
        return self.augment(batch, self.rng) if self.augment else batch

def random_shift(max_shift, side=28):
    """Shift each image by whole pixels (|shift| <= max_shift), filling with background; an MLP is not shift-proof."""
    def augment(x, rng):
        padded = np.pad(x.reshape(-1, side, side), ((0, 0), (max_shift, max_shift), (max_shift, max_shift)))
        windows = np.lib.stride_tricks.sliding_window_view(padded, (side, side), axis=(1, 2))  # [image, top, left]
        dy, dx = rng.integers(0, 2 * max_shift + 1, size=(2, len(x)))  # each image's window, by its top-left corner
        return windows[np.arange(len(x)), dy, dx].reshape(len(x), -1)
    return augment

def random_affine(max_degrees, max_scale, max_shift, elastic=0.0, sigma=6.0, side=28):
    """Rotate (<= max_degrees), scale (1 +- max_scale), shift (<= max_shift pixels) and bend each image, bilinearly;
    the bend moves pixels by noise in [-1, 1] smoothed over `sigma` pixels, times `elastic` (Simard et al., 2003)."""
    centre = (side - 1) / 2
    grid_y, grid_x = (np.mgrid[0:side, 0:side].reshape(2, -1) - centre).astype(np.float32)
    offsets = np.arange(side)[:, None] - np.arange(side)   # smoothing along each axis is a matrix product
    smooth = (np.exp(-0.5 * (offsets / sigma) ** 2) / (np.sqrt(2 * np.pi) * sigma)).astype(np.float32)
    width = side + 3  # a zero border, one row/column before the image and two after (see the clip below)
    def augment(x, rng):
        n = len(x)
        angle = np.radians(rng.uniform(-max_degrees, max_degrees, (n, 1)))
        inverse_scale = 1 / rng.uniform(1 - max_scale, 1 + max_scale, (n, 1))
        dy, dx = rng.uniform(-max_shift, max_shift, (2, n, 1)).astype(np.float32)
        cos = (np.cos(angle) * inverse_scale).astype(np.float32)
        sin = (np.sin(angle) * inverse_scale).astype(np.float32)
        # the inverse map: where in the bordered input each output pixel comes from
        src_y = cos * grid_y - sin * grid_x + np.float32(centre + 1) - dy
        src_x = sin * grid_y + cos * grid_x + np.float32(centre + 1) - dx
        if elastic:
            field = smooth @ rng.uniform(-1, 1, (2, n, side, side)).astype(np.float32) @ smooth
            src_y = src_y + elastic * field[0].reshape(n, -1)
            src_x = src_x + elastic * field[1].reshape(n, -1)
        # clipped to [0, side + 1], a point has four neighbours in the bordered image; off the image it reads zeros
        src_y, src_x = np.clip(src_y, 0, side + 1), np.clip(src_x, 0, side + 1)
        y0, x0 = np.floor(src_y), np.floor(src_x)
        wy, wx = src_y - y0, src_x - x0
        flat = np.pad(x.reshape(n, side, side).astype(np.float32, copy=False), ((0, 0), (1, 2), (1, 2))).ravel()
        corner = (y0 * width + x0).astype(np.intp) + np.arange(0, n * width * width, width * width)[:, None]
        top = flat[corner] + (flat[corner + 1] - flat[corner]) * wx
        bottom = flat[corner + width] + (flat[corner + width + 1] - flat[corner + width]) * wx
        return (top + (bottom - top) * wy).astype(x.dtype, copy=False)
    return augment

AFFINE_KEYS = ("max_degrees", "max_scale", "elastic")  # any of them non-zero: the bilinear map, not whole-pixel shifts

def augmentation_kind(hp):
    """What make_augment does to the training images: "distorted", "shifted" or "" (nothing)."""
    return "distorted" if any(hp.get(key) for key in AFFINE_KEYS) else "shifted" if hp.get("max_shift") else ""

def make_augment(hp):
    kind = augmentation_kind(hp)
    if kind == "distorted":
        return random_affine(hp["max_degrees"], hp["max_scale"], hp["max_shift"], hp.get("elastic", 0))
    return random_shift(hp["max_shift"]) if kind else None

# ---- MNIST in the assignment's CSV layout: a label, then 784 pixels 0..255 per row; no header.
CSV_URLS = ("https://www.python-course.eu/data/mnist/mnist_train.csv",
            "https://www.python-course.eu/data/mnist/mnist_test.csv")
GET_DATA_HINT = (f"download {CSV_URLS[0]} and {CSV_URLS[1]} (or from a mirror, "
                 "https://pjreddie.com/media/files/mnist_train.csv and .../mnist_test.csv) into the folder holding "
                 "p1.py, or set MNIST_DIR to the folder holding them")
ROW_LAYOUT = "each row must be a label 0..9 and 784 pixel values 0..255, comma-separated, no header"
VALIDATION_ROWS = 10000  # the last rows of mnist_train.csv: the template's 50,000 / 10,000 split
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MNIST_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "data", "mnist"))

def mnist_places():
    """[(folder, its name)] to look in: $MNIST_DIR alone when set, else beside p1.py, the working folder, data/mnist."""
    if os.environ.get("MNIST_DIR"):
        return [(os.path.expanduser(os.environ["MNIST_DIR"]), "MNIST_DIR")]  # zsh leaves ~ in MNIST_DIR=~/x
    return [(HERE, "the folder holding p1.py"), (os.getcwd(), "the working folder"),
            (DEFAULT_MNIST_DIR, "data/mnist two folders above p1.py")]

def find_mnist_dir():
    tried = []
    for folder, what in mnist_places():
        missing = [n for n in ("mnist_train.csv", "mnist_test.csv") if not os.path.isfile(os.path.join(folder, n))]
        if not missing:
            return folder
        why = "a file, not a folder" if os.path.isfile(folder) else f"no {' or '.join(missing)}"
        tried.append(f"{what} {folder} ({why})")
    raise MnistDataError(f"the MNIST CSVs were not found; tried {'; '.join(tried)}. To get them, {GET_DATA_HINT}")

def load_mnist_csv(path, min_rows=1):
    """(pixels uint8 (n, 784), labels int64 (n,)); a malformed file is one MnistDataError naming its first bad row."""
    with open(path, "rb") as f:  # stops at the first line holding anything; NumPy would only warn of no data
        if all(not line.strip() for line in f):
            raise MnistDataError(f"{path}: the file is empty (no rows); {GET_DATA_HINT}")
    try:  # read as numbers, then held to whole numbers 0..255 (an older NumPy, 2.2 for one, reads -1 as 255 in uint8)
        try:  # as integers: up to 9x faster than as floats, which remain for a file holding "7.0" or "7e0"
            table = np.loadtxt(path, delimiter=",", dtype=np.int32, ndmin=2)
        except ValueError:
            table = np.loadtxt(path, delimiter=",", dtype=np.float32, ndmin=2)
        with np.errstate(invalid="ignore"):  # a value out of range warns in the cast; the comparison finds it instead
            whole = table.astype(np.uint8)
        valid = table.shape[1] == 785 and np.array_equal(whole, table) and whole[:, 0].max() <= 9
    except ValueError:
        valid = False
    if not valid:  # any bad row, found again by its line in the file (blank lines counted)
        raise MnistDataError(f"{path}, {_first_bad_row(path)}; {ROW_LAYOUT}. To replace the file, {GET_DATA_HINT}")
    if len(whole) < min_rows:
        raise MnistDataError(f"{path}: {len(whole)} rows, but at least {min_rows} are needed; {GET_DATA_HINT}")
    return np.ascontiguousarray(whole[:, 1:]), whole[:, 0].astype(np.int64)

def _first_bad_row(path):
    """The first malformed row, as "row N: what is wrong"; read only once load_mnist_csv has found one."""
    with open(path, encoding="ascii", errors="replace") as f:
        for row, line in enumerate(f, 1):
            if row == 1 and line.startswith("\ufffd" * 3):
                return "row 1: the file starts with a byte-order mark (some editors add one); save it without one"
            if not line.strip("\r\n"):
                continue  # the parser skips empty lines too (not a line of spaces)
            values = line.strip().split(",")
            if len(values) != 785:
                return f"row {row}: {len(values)} values, expected 785"
            for column, value in enumerate(values, 1):
                name, high = ("label", 9) if column == 1 else ("pixel", 255)
                try:  # the rule the reader applies: a number, whole, in range ("7", "7.0" and "7e0" all pass)
                    number = float(value if "_" not in value else "nan")  # float() takes 1_0, NumPy's reader not
                except ValueError:
                    number = float("nan")
                if not (number.is_integer() and 0 <= number <= high):
                    problem = "is negative" if number < 0 else f"is not a whole number 0..{high}"
                    return f"row {row}: {name} {value.strip()!r} (column {column}) {problem}"
    return "row 1: not readable as comma-separated whole numbers"

def preprocess(pixels):
    return np.asarray(pixels, dtype=np.float32) * np.float32(1 / 255)

# ---- Running from the command line: settings, one line per failure, outputs replaced as one set.
OUTPUTS = ("p1_model.npz", "p1_training.png", "p1_report.pdf")

class SettingError(ValueError): """A setting cannot work: P1_PRESET, P1_OUT, the hyper-parameter block."""
class MnistDataError(Exception): """An MNIST CSV is missing or malformed."""
class TrainingDiverged(RuntimeError): """The training loss became NaN, infinite or enormous."""

def choose_preset(presets):
    name = os.environ.get("P1_PRESET") or "default"
    if name not in presets:
        raise SettingError(f"unknown P1_PRESET {name!r}; choose one of {', '.join(presets)}")
    hp = presets[name]
    integer = lambda v, low=0: isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= low  # noqa
    number = lambda v: isinstance(v, (int, float, np.number)) and not isinstance(v, bool) and np.isfinite(v)  # noqa
    missing = [key for key in HYPERPARAMETER_NOTES if key not in hp]
    if missing:
        raise SettingError(f"hyper-parameter block: the {name} preset has no {', '.join(missing)}; give each a value")
    rules = [(["lr"], lambda v: number(v) and v > 0, "a number > 0"),
             (["num_epochs", "batch_size"], lambda v: integer(v, 1), "a whole number >= 1"),
             (["hiddens"], lambda v: isinstance(v, (list, tuple)) and all(integer(h, 1) for h in v),
              "a list of whole numbers >= 1"),
             (["momentum", "warmup", "max_scale"], lambda v: number(v) and 0 <= v < 1, "a number in [0, 1)"),
             (["max_shift"], integer, "a whole number >= 0"),
             (["max_degrees", "elastic"], lambda v: number(v) and v >= 0, "a number >= 0"),
             (["seed"], lambda v: integer(v) and v < 2**32, "a whole number from 0 to 4294967295")]
    bad = [f"{key} = {hp[key]!r} (must be {rule})" for keys, ok, rule in rules for key in keys if not ok(hp[key])]
    if bad:
        raise SettingError(f"hyper-parameter block: {'; '.join(bad)}")
    return hp

def output_dir():
    """P1_OUT, or the folder holding p1.py; refused at once if it could not be made and written after training: it is
    made for the test, its missing folders removed again, and a file made in it (Windows' os.access says yes to all)."""
    folder = os.path.expanduser(os.environ.get("P1_OUT") or HERE)
    chain = [os.path.abspath(folder)]   # chain: from `folder` up to the first name that exists (a broken link is one)
    while not os.path.lexists(chain[-1]) and os.path.dirname(chain[-1]) != chain[-1]:   # or a drive that is not there
        chain.append(os.path.dirname(chain[-1]))
    try:
        os.makedirs(chain[0], exist_ok=True)
        probe = os.path.join(chain[0], f".p1_write_test{os.getpid()}")
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        os.remove(probe)
    except OSError:
        raise SettingError(f"the output folder {folder} cannot be written; set P1_OUT to a folder you can write")
    finally:
        for path in filter(os.path.isdir, chain[:-1]):   # the folders that were missing, deepest first
            os.rmdir(path)
    taken = [name for name in OUTPUTS if os.path.isdir(os.path.join(folder, name))]
    if taken:  # it would be moved aside and hidden, not replaced
        raise SettingError(f"{taken[0]} in {folder} is a folder; move it away or set P1_OUT to another folder")
    return folder

def write_outputs(folder, writers):
    """Each writers[name](file) writes a file opened under a temporary name; then the old files move aside and the new
    ones in, each move undone if one fails (Windows will not move a file another program has open)."""
    os.makedirs(folder, exist_ok=True)
    final, new, old = ({name: os.path.join(folder, f"{tag}{name}") for name in writers}
                       for tag in ("", f".tmp{os.getpid()}.", f".old{os.getpid()}."))
    moves = [(final[n], old[n]) for n in writers if os.path.exists(final[n])] + [(new[n], final[n]) for n in writers]
    done = []
    try:
        for name, write in writers.items():
            try:
                with open(new[name], "wb") as file:
                    write(file)
            except OSError as e:  # a full disk, say: the cause without the temporary file's name
                raise OSError(f"writing {name} in {folder} failed ({e.strerror or e}); the old outputs were left as "
                              "they were") from None
        for source, target in moves:
            try:
                os.replace(source, target)
            except OSError as e:
                raise OSError(f"{e.filename} cannot be replaced ({e.strerror}); if another program has it open, close "
                              "it and run again") from None
            done.append((source, target))
    except BaseException:  # not only errors: Ctrl-C (KeyboardInterrupt) keeps the old set too
        for source, target in reversed(done):
            os.replace(target, source)
        raise
    finally:
        for path in filter(os.path.exists, new.values()):
            os.remove(path)
    for path in old.values():
        try:  # Windows moves a read-only file but will not remove it: it stays, hidden
            os.remove(path)
        except OSError:
            pass

def run(main):
    """main() with every failure as one line on stderr. Returns the exit status: 0 done, 1 data, training or
    writing failed, 2 a setting cannot work, 130 interrupted (Ctrl-C); the old outputs stay in every failure."""
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is reported by MLP.step instead
            main()
        return 0
    except (SettingError, MnistDataError, TrainingDiverged, OSError) as e:
        line, status = f"error: {e}", 2 if isinstance(e, SettingError) else 1
    except KeyboardInterrupt:
        line, status = f"interrupted: {', '.join(OUTPUTS)} were left as they were", 130
    say(line, fd=2)
    return status

def say(line, fd=1):
    """One line on stdout (fd 1) or stderr (2). Without sys (not an allowed import), stderr and a line print() cannot
    encode (a redirected Windows console) go to the descriptor in the console's code page, missing letters replaced."""
    try:
        if fd == 1:
            return print(line, flush=True)
    except UnicodeEncodeError:
        pass
    print(end="", flush=True)  # what print() holds comes first
    os.write(fd, (line + "\n").encode(os.device_encoding(fd) or "utf-8", "replace"))

def wall_clock():
    """Seconds since a fixed moment; os.times().elapsed is 0 on Windows, where NumPy's clock (whole seconds) serves."""
    return os.times().elapsed or np.datetime64("now", "s").astype(np.int64).item()

# ---- Loading a model saved by MLP.save_model, as data only (never a pickle, which can run code); lr 0: to evaluate.
def load_model(path):
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {key: z[key] for key in z.files}
        sizes = [int(s) for s in data["sizes"]]
        arrays = iter([data[f"{kind}{i}"] for kind in "Wb" for i in range(len(sizes) - 1)])  # MLP's order: W, then b
        known = {cls.__name__: cls for cls in (Identity, Sigmoid, Tanh, ReLU)}
        mlp = MLP(sizes[0], sizes[-1], sizes[1:-1], [known[str(name)]() for name in data["activations"]],
                  lambda d0, d1: next(arrays), lambda d: next(arrays), SoftmaxCrossEntropy(), lr=0.0)
        if [w.shape for w in mlp.W] != list(zip(sizes[:-1], sizes[1:])) or [b.size for b in mlp.b] != sizes[1:]:
            raise ValueError("arrays that do not fit the layer sizes")
    except OSError:  # a file that is missing or cannot be read: the system's own words say which
        raise
    except Exception:  # a cut or empty file, a missing array, a pickle (refused, never run), an unknown activation
        raise ValueError(f"{path} is not a model file load_model can read: MLP.save_model's arrays, each layer's "
                         "activation Identity, Sigmoid, Tanh or ReLU (read as plain arrays only)") from None
    mlp.metadata = {key[5:]: data[key].item() for key in data if key.startswith("meta_") and data[key].ndim == 0}
    mlp.eval()
    return mlp

# ---- The report: training curves (PNG); a PDF with the model, hyper-parameters, results and errors.
HYPERPARAMETER_NOTES = {  # why each value; the report prints them beside the values ({name}: filled by _report_text)
    "hiddens": "units of each hidden layer; wide layers give capacity, yet an epoch takes seconds",
    "activations": "after each hidden layer{relu}",
    "lr": "peak learning rate; then a cosine decay to 0 (Loshchilov & Hutter, 2017)",
    "num_epochs": "passes over the {n_train:,d} training images",
    "batch_size": "images per SGD step",
    "momentum": "keeps {momentum:g} of each step (Polyak, 1964){gain}",
    "warmup": "share of steps rising linearly to lr (Goyal et al., 2017)",
    "max_shift": "random shift of each training image, pixels",
    "max_degrees": "random rotation of each training image, degrees",
    "max_scale": "random rescaling of each training image by 1 +- this",
    "elastic": "random elastic bend of each training image (Simard et al., 2003)",
    "seed": "seeds the initialisation, the shuffling and any augmentation",
}

def plot_training(stats, path):
    """Loss and error vs epoch, training and validation, side by side (the assignment's Fig. 7), as PNG."""
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    _draw_curves(fig.subplots(1, 2), stats)
    fig.savefig(path, dpi=100, format="png")

def _draw_curves(axes, stats):
    epochs = np.arange(1, len(stats[0]) + 1)  # stats: training losses, errors; validation losses, errors
    for ax, train, val, name, scale in zip(axes, stats[:2], stats[2:], ("loss", "error (%)"), (1, 100)):
        ax.plot(epochs, np.multiply(train, scale), "o-", ms=3, label="training")
        ax.plot(epochs, np.multiply(val, scale), "s-", ms=3, label="validation")
        ax.set(xlabel="epoch", ylabel=name, yscale="log", title=f"{name.split()[0]} vs epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # whole epochs, even for one
        ax.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))  # ticks at 1, 2, 5 x 10^k, written as plain numbers
        ax.yaxis.set_major_formatter("{x:g}")
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()

def write_report(results, path):
    page = Figure(figsize=(8.5, 11))
    page.text(0.07, 0.955, "24789 HW1 problem 1: a NumPy MLP on MNIST", fontsize=16, weight="bold")
    page.text(0.07, 0.93, f"Test error {100 * results['test_error']:.2f} % ({100 - 100 * results['test_error']:.2f} % "
              f"accuracy) on the {len(results['test_labels']):,d} MNIST test images", fontsize=11)
    text = _report_text(results)   # above the curves; a longer one (more layers or settings) in a smaller font
    page.text(0.07, 0.905, text, fontsize=min(7.5, 280 / (text.count("\n") + 1)), family="monospace", va="top")
    _draw_curves([page.add_axes([left, 0.305, 0.38, 0.155]) for left in (0.08, 0.58)], results["stats"])
    confusion = np.bincount(10 * results["test_labels"] + results["predicted"], minlength=100).reshape(10, 10)
    ax = page.add_axes([0.32, 0.045, 0.36, 0.195])
    ax.imshow(np.log1p(confusion), cmap="Blues")
    for i, j in zip(*np.nonzero(confusion)):
        ax.text(j, i, str(confusion[i, j]), ha="center", va="center", fontsize=6, color="white" if i == j else "black")
    wrong = np.flatnonzero(results["predicted"] != results["test_labels"])[:8]   # the first mistakes, 4 each side
    ax.set(xticks=range(10), yticks=range(10), xlabel="predicted digit", ylabel="true digit",
           title=f"Test set: {confusion.sum() - np.trace(confusion):,d} errors of {confusion.sum():,d}"
                 + (f"; the first {len(wrong)} beside it" if len(wrong) else ""))
    for k, i in enumerate(wrong):
        ax = page.add_axes([0.07 + 0.11 * (k % 2) + 0.65 * (k // 4), 0.15 - 0.1 * (k // 2 % 2), 0.07, 0.07 * 8.5 / 11])
        ax.imshow(results["test_imgs"][i].reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"a {results['test_labels'][i]} read as {results['predicted'][i]}", fontsize=7)
        ax.set(xticks=[], yticks=[])
    page.savefig(path, format="pdf", metadata={"CreationDate": None})

def _report_text(results):
    hp, mlp, t, sizes = results["hp"], results["mlp"], results["times"], results["mlp"].nn_dim
    train_losses, train_errors, val_losses, val_errors = results["stats"]
    # Windows names its processor in PROCESSOR_IDENTIFIER, Linux in /proc/cpuinfo; macOS gives its architecture
    cpu = os.environ.get("PROCESSOR_IDENTIFIER") or (os.uname().machine if hasattr(os, "uname") else "")
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    layers = [f"  layer {i + 1}: {sizes[i]:4d} -> {sizes[i + 1]:4d}  {type(act).__name__:8s}  "
              f"{sizes[i] * sizes[i + 1] + sizes[i + 1]:9,d} parameters" for i, act in enumerate(mlp.layer_activations)]
    kind = augmentation_kind(hp)
    unused = {key for key in ("momentum", "warmup", "max_shift") + AFFINE_KEYS if not hp.get(key)}
    seen, distortions = {"distorted": ("distorted images, ", "; training images distorted as in Simard et al., 2003"),
                         "shifted": ("shifted images, ", "; training images randomly shifted")}.get(kind, ("", ""))
    m, relu = hp["momentum"], any(isinstance(a, ReLU) for a in hp["activations"])
    notes = dict(hp, gain=f": a steady slope moves 1 / (1 - {m:g}) = {1 / (1 - m):.4g}x as far" if m else "",
                 relu="; ReLU passes gradient 1 where a unit is on (a sigmoid's fades)" if relu else "",
                 n_train=results["n_train"])
    hyper = [f"  {key:12s} {', '.join(type(v).__name__ for v in value) if key == 'activations' else value!s:>12}   "
             f"{HYPERPARAMETER_NOTES.get(key, '').format(**notes)}{'; 0: off in this run' * (key in unused)}"
             for key, value in hp.items()]
    return "\n".join(
        ["MODEL (x @ W + b per layer; softmax cross-entropy on the last layer's outputs)"] + layers +
        [f"  total parameters: {sum(w.size + b.size for w, b in zip(mlp.W, mlp.b)):,d}",
         "  initial weights: He et al. (2015), normal with variance 2 / fan-in (he_weight_init); zero biases",
         "  saved by save_model as plain arrays W0, b0, W1, b1, ... (NumPy 1.24 and newer cannot store the",
         "  template's lists of W and b when layers differ in shape)",
         "  code: the course's p1_template.py, completed; its get_training_stats loop trains and tests unchanged",
         "", f"HYPER-PARAMETERS ({'momentum ' if m else ''}SGD on the batch-mean loss{distortions})"] + hyper +
        ["", "RESULTS (error = share of wrong predictions)",
         f"  training   {results['n_train']:6,d} images   error {100 * train_errors[-1]:6.2f} %   loss "
         f"{train_losses[-1]:.4f}   (last epoch, {kind or 'unchanged'} images, as the curves)",
         f"  validation {VALIDATION_ROWS:6,d} images   error {100 * val_errors[-1]:6.2f} %   loss "
         f"{val_losses[-1]:.4f}   (the last rows of mnist_train.csv)",
         f"  test       {len(results['test_labels']):6,d} images   error {100 * results['test_error']:6.2f} %   loss "
         f"{results['test_loss']:.4f}   (mnist_test.csv; the figure get_training_stats printed)",
         "", "TIME AND MACHINE",
         f"  data loading {t['data']:.1f} s, training and evaluation {t['train']:.1f} s "
         f"({t['train'] / hp['num_epochs']:.1f} s an epoch), {t['total']:.1f} s in all before writing the outputs",
         f"  {os.cpu_count()} CPUs: {cpu}; NumPy {np.__version__}",
         "", "CURVES (log scales): loss and error per image, as get_training_stats computes them. Training values are",
         f"means over the {results['n_train']:,d} images of each epoch, each scored just before its batch's step",
         f"({seen}weights still changing); validation is measured after the epoch."]
        + ["An error of exactly 0 has no place on a log scale: the epochs that reached it are not drawn."]
        * (min(train_errors + val_errors) == 0))

if __name__ == "__main__":
    raise SystemExit(run(main))
