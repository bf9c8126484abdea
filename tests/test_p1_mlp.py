"""p1 MLP against finite differences, PyTorch autograd and torch.optim.SGD (float64), and the template's
seeded-init contract."""
import numpy as np
import pytest

import p1
from gradcheck import numeric_gradient
from torch_support import NEEDS_TORCH, torch


def make_mlp(names, hiddens, lr=0.1, momentum=0.0, bias_shape=lambda d: (d,)):
    """Seeded float64 MLP; biases random (not zero) so their gradients matter, in the shape bias_shape gives."""
    np.random.seed(3)
    rng = np.random.default_rng(4)
    return p1.MLP(6, 4, hiddens, [getattr(p1, n)() for n in names], p1.random_normal_weight_init,
                  lambda d: rng.normal(size=bias_shape(d)), p1.SoftmaxCrossEntropy(), lr, momentum)


def torch_forward(mlp, x, params):
    activation = {"Sigmoid": torch.sigmoid, "Tanh": torch.tanh, "ReLU": torch.relu, "Identity": lambda z: z}
    h = torch.as_tensor(x)
    for i in range(mlp.nlayers):
        h = activation[type(mlp.layer_activations[i]).__name__](h @ params[2 * i] + params[2 * i + 1])
    return h


def leaf(a):
    return torch.tensor(np.array(a), dtype=torch.float64, requires_grad=True)


NETWORKS = [  # (activations, hidden sizes, bias shape)
    (["ReLU", "Identity"], [5], lambda d: (d,)),
    (["Sigmoid", "Tanh", "Identity"], [5, 7], lambda d: (1, d)),
    (["ReLU", "Tanh", "Identity"], [5, 7], lambda d: (d,)),
    (["Sigmoid"], [5], lambda d: (d,)),                 # the template's form: one activation per hidden layer
    (["ReLU", "Sigmoid"], [5], lambda d: (d,)),         # a last layer that is not Identity
    ([], [], lambda d: (d,)),                           # no hidden layer: softmax regression
]


@NEEDS_TORCH
@pytest.mark.parametrize("names,hiddens,bias_shape", NETWORKS)
def test_forward_loss_and_gradients_match_autograd(names, hiddens, bias_shape):
    mlp = make_mlp(names, hiddens, bias_shape=bias_shape)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(9, 6))
    labels = rng.integers(0, 4, 9)
    y = p1.get_one_hot(labels, 4)

    params = [leaf(p) for pair in zip(mlp.W, mlp.b) for p in pair]
    logits = torch_forward(mlp, x, params)
    loss = torch.nn.functional.cross_entropy(logits, torch.as_tensor(labels))
    loss.backward()

    out = mlp.forward(x)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, logits.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert mlp.get_loss(y) == pytest.approx(len(x) * loss.item(), rel=1e-10)  # the template's loss is a batch sum
    assert mlp.get_error(y) == mlp.get_error(labels) == int((out.argmax(1) != labels).sum())
    mlp.zero_grads()
    mlp.backward(y)
    for i in range(mlp.nlayers):
        assert mlp.dW[i].shape == mlp.W[i].shape and mlp.db[i].shape == mlp.b[i].shape
        np.testing.assert_allclose(mlp.dW[i], params[2 * i].grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(mlp.db[i], params[2 * i + 1].grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("names,hiddens,bias_shape", NETWORKS)
def test_gradients_match_finite_differences(names, hiddens, bias_shape):
    """dW and db against central differences of the batch-mean loss, every entry of every parameter (float64)."""
    mlp = make_mlp(names, hiddens, bias_shape=bias_shape)
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(5, 6)), p1.get_one_hot(rng.integers(0, 4, 5), 4)

    def mean_loss():
        mlp.forward(x)
        return mlp.get_loss(y) / len(x)

    mlp.forward(x)
    mlp.backward(y)
    analytic = [g.copy() for g in mlp.dW + mlp.db]
    for param, grad in zip(mlp.W + mlp.b, analytic):
        np.testing.assert_allclose(grad, numeric_gradient(param, mean_loss), rtol=1e-6, atol=1e-9)


def test_step_before_any_backward_uses_the_zeroed_gradients():
    mlp = make_mlp(["ReLU", "Identity"], [5])
    weights = [w.copy() for w in mlp.W]
    mlp.zero_grads()
    mlp.step()   # as a unit test of step() may call it: no loss computed yet, nothing to check
    assert all(np.array_equal(w, old) for w, old in zip(mlp.W, weights))


@NEEDS_TORCH
def test_momentum_steps_match_torch_sgd():
    lr, momentum = 0.05, 0.9
    mlp = make_mlp(["ReLU", "Sigmoid", "Identity"], [5, 3], lr=lr, momentum=momentum)
    params = [leaf(p) for pair in zip(mlp.W, mlp.b) for p in pair]
    # torch: v = m v + g; p -= lr v. Ours: d = m d - lr g; p += d. The same for a constant lr (d = -lr v).
    optimizer = torch.optim.SGD(params, lr=lr, momentum=momentum)
    rng = np.random.default_rng(6)
    for _ in range(4):
        x = rng.normal(size=(8, 6))
        labels = rng.integers(0, 4, 8)
        mlp.zero_grads()
        mlp.forward(x)
        mlp.backward(p1.get_one_hot(labels, 4))
        mlp.step()
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(torch_forward(mlp, x, params), torch.as_tensor(labels)).backward()
        optimizer.step()
    for i in range(mlp.nlayers):
        np.testing.assert_allclose(mlp.W[i], params[2 * i].detach().numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(mlp.b[i], params[2 * i + 1].detach().numpy(), rtol=1e-9, atol=1e-12)


def test_step_follows_the_learning_rate_schedule():
    mlp = make_mlp(["ReLU", "Identity"], [5], lr=1.0, momentum=0.0)
    mlp.lr_schedule = lambda step: [0.5, 0.0, 0.25][step]
    x, y = np.ones((2, 6)), p1.get_one_hot([0, 1], 4)
    for expected in (0.5, 0.0, 0.25):
        before = [w.copy() for w in mlp.W]
        mlp.forward(x)
        mlp.backward(y)
        mlp.step()
        assert mlp.lr == expected
        np.testing.assert_allclose(mlp.W[0], before[0] - expected * mlp.dW[0])
    assert mlp.steps_taken == 3


def test_constructor_draws_one_weight_matrix_per_layer_in_order():
    np.random.seed(11785)
    mlp = p1.MLP(784, 10, [64, 32], [p1.Sigmoid(), p1.Sigmoid(), p1.Identity()], p1.random_normal_weight_init,
                 p1.zeros_bias_init, p1.SoftmaxCrossEntropy(), 0.008, momentum=0.856)
    after = np.random.randn()
    np.random.seed(11785)
    expected = [np.random.randn(784, 64), np.random.randn(64, 32), np.random.randn(32, 10)]
    assert np.random.randn() == after  # nothing else was drawn
    for w, e in zip(mlp.W, expected):
        np.testing.assert_array_equal(w, e)
    for b, d in zip(mlp.b, (64, 32, 10)):
        np.testing.assert_array_equal(b, np.zeros(d))
    assert [dw.shape for dw in mlp.dW] == [w.shape for w in mlp.W]


def test_float32_path_stays_float32():
    np.random.seed(0)
    mlp = p1.MLP(784, 10, [8], [p1.ReLU()], p1.he_weight_init, p1.zeros_bias_init, p1.SoftmaxCrossEntropy(), 0.1,
                 momentum=0.9)
    x = np.random.default_rng(0).random((5, 784))  # float64 input is cast to the weights' dtype
    mlp.forward(x)
    mlp.backward(p1.get_one_hot([1, 2, 3, 4, 5], 10))  # float64 labels must not promote
    mlp.lr = np.float64(0.1)  # a numpy float64 learning rate must not promote the update
    mlp.step()
    assert {a.dtype for a in mlp.W + mlp.b + mlp.dW + mlp.db + [mlp.output]} == {np.dtype(np.float32)}


def test_template_example_takes_one_activation_per_hidden_layer():
    # the template's main(): hiddens=[128], activations=[Sigmoid()]; the output layer feeds the criterion directly
    np.random.seed(0)
    mlp = p1.MLP(784, 10, [128], [p1.Sigmoid()], p1.random_normal_weight_init, p1.zeros_bias_init,
                 p1.SoftmaxCrossEntropy(), 0.05)
    assert mlp.nn_dim == [784, 128, 10] and mlp.nlayers == 2 and len(mlp.activations) == 1
    assert [w.shape for w in mlp.W] == [(784, 128), (128, 10)] and [b.shape for b in mlp.b] == [(128,), (10,)]
    x = np.random.default_rng(0).random((4, 784))
    out = mlp(x)
    assert out.shape == (4, 10) and out.min() < 0  # raw logits: no activation after the output layer
    sigmoid_hidden = 1 / (1 + np.exp(-(x @ mlp.W[0])))
    np.testing.assert_allclose(out, sigmoid_hidden @ mlp.W[1], rtol=1e-10)


@pytest.mark.parametrize("labels", [np.array([[3.0], [7.0]]), np.array([3, 7])])
def test_class_numbers_instead_of_one_hot_rows_are_refused(labels):
    """The template's raw label column (or a flat array) would broadcast against the outputs into a wrong loss."""
    mlp = p1.MLP(6, 10, [5], [p1.ReLU()], p1.random_normal_weight_init, p1.zeros_bias_init, p1.SoftmaxCrossEntropy(),
                 0.1)
    predicted = mlp(np.ones((2, 6))).argmax(axis=1)
    with pytest.raises(ValueError, match="give one-hot rows \\(get_one_hot\\)"):
        mlp.backward(labels)
    # the error count takes class numbers, as documented
    assert mlp.get_error(labels) == int((predicted != [3, 7]).sum())


def test_one_activation_per_layer_gives_the_same_network():
    outputs = []
    for activations in ([p1.Tanh()], [p1.Tanh(), p1.Identity()]):
        np.random.seed(1)
        mlp = p1.MLP(6, 3, [5], activations, p1.random_normal_weight_init, p1.zeros_bias_init,
                     p1.SoftmaxCrossEntropy(), 0.1)
        outputs.append(mlp(np.ones((2, 6))))
    np.testing.assert_array_equal(*outputs)


def test_wrong_number_of_activations_is_one_clear_error():
    with pytest.raises(ValueError, match=r"^2 hidden layers need a list of 2 activation objects, e\.g\. \[ReLU"):
        p1.MLP(6, 3, [5, 4], [p1.ReLU()], p1.random_normal_weight_init, p1.zeros_bias_init,
               p1.SoftmaxCrossEntropy(), 0.1)


def test_one_activation_object_for_two_layers_is_refused():
    # each activation keeps its layer's state for backward(); a shared one would silently give wrong gradients
    sigmoid = p1.Sigmoid()
    with pytest.raises(ValueError, match="a new one for each hidden layer .it keeps that layer's state for backward"):
        p1.MLP(6, 3, [5, 4], [sigmoid, sigmoid], p1.random_normal_weight_init, p1.zeros_bias_init,
               p1.SoftmaxCrossEntropy(), 0.1)


def test_get_loss_is_the_batch_sum_and_get_error_the_count_in_eval_mode_too():
    mlp = make_mlp(["ReLU", "Identity"], [5])
    x = np.random.default_rng(8).normal(size=(7, 6))
    labels = np.array([0, 1, 2, 3, 0, 1, 2])
    y = p1.get_one_hot(labels, 4)
    mlp.eval()
    logits = mlp(x)  # no backward: get_loss computes the loss from the last forward and the given labels
    per_sample = -np.log(np.exp(logits[np.arange(7), labels]) / np.exp(logits).sum(axis=1))
    assert mlp.get_loss(y) == pytest.approx(per_sample.sum(), rel=1e-12)
    assert mlp.get_error(y) == int((logits.argmax(1) != labels).sum())
    assert isinstance(mlp.get_error(y), int)


@pytest.mark.parametrize("labels", [np.array([[3.0], [0.0], [9.0]]), np.array([3, 0, 9]), [3, 0, 9]])
def test_get_one_hot_takes_the_templates_float_column(labels):
    out = p1.get_one_hot(labels, 10)
    assert out.shape == (3, 10) and out.dtype == np.float64
    np.testing.assert_array_equal(out.argmax(axis=1), [3, 0, 9])
    np.testing.assert_array_equal(out.sum(axis=1), [1, 1, 1])


@pytest.mark.parametrize("labels", [[[1.5]], [[10.0]], [[-1.0]], [[1.0, 2.0]]])
def test_get_one_hot_refuses_labels_that_are_not_classes(labels):
    with pytest.raises(ValueError, match="get_one_hot"):
        p1.get_one_hot(np.array(labels), 10)


def test_a_mean_loss_over_ten_thousand_nats_is_divergence():
    mlp = p1.MLP(2, 2, [], [], p1.random_normal_weight_init, p1.zeros_bias_init, p1.SoftmaxCrossEntropy(), 0.1)
    mlp.criterion.loss = np.full(4, 2e4)     # finite, but from weights that have run away
    with pytest.raises(p1.TrainingDiverged):
        mlp.step()
    mlp.criterion.loss = np.full(4, 5e3)
    mlp.step()


def test_get_error_takes_a_column_of_class_numbers():
    mlp = p1.MLP(3, 4, [], [], p1.random_normal_weight_init, p1.zeros_bias_init, p1.SoftmaxCrossEntropy(), 0.1)
    out = mlp(np.random.default_rng(0).normal(size=(20, 3)))
    labels = np.arange(20) % 4
    assert mlp.get_error(labels.reshape(-1, 1)) == mlp.get_error(labels) == int((out.argmax(1) != labels).sum())
