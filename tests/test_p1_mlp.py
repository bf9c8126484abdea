"""p1 MLP against PyTorch autograd and torch.optim.SGD (float64), and the template's seeded-init contract."""
import numpy as np
import pytest
import torch

import p1

ACTS = {"Sigmoid": torch.sigmoid, "Tanh": torch.tanh, "ReLU": torch.relu, "Identity": lambda z: z}


def make_mlp(names, hiddens, num_bn_layers=0, lr=0.1, momentum=0.0, bias_shape=lambda d: (d,)):
    """Seeded float64 MLP; biases random (not zero) so their gradients matter, in the shape bias_shape gives."""
    np.random.seed(3)
    rng = np.random.default_rng(4)
    return p1.MLP(6, 4, hiddens, [getattr(p1, n)() for n in names], p1.random_normal_weight_init,
                  lambda d: rng.normal(size=bias_shape(d)), p1.SoftmaxCrossEntropy(), lr, momentum, num_bn_layers)


def torch_forward(mlp, x, params, bn_params=()):
    h = torch.as_tensor(x)
    for i in range(mlp.nlayers):
        W, b = params[2 * i], params[2 * i + 1]
        z = h @ W + b
        if i < mlp.num_bn_layers:
            gamma, beta = bn_params[2 * i], bn_params[2 * i + 1]
            mean, var = z.mean(0, keepdim=True), z.var(0, unbiased=False, keepdim=True)
            z = gamma * (z - mean) / torch.sqrt(var + mlp.bn_layers[i].eps) + beta
        h = ACTS[type(mlp.activations[i]).__name__](z)
    return h


def leaf(a):
    return torch.tensor(np.array(a), dtype=torch.float64, requires_grad=True)


@pytest.mark.parametrize("names,bn,bias_shape", [
    (["ReLU", "Identity"], 0, lambda d: (d,)),
    (["Sigmoid", "Tanh", "Identity"], 0, lambda d: (1, d)),
    (["ReLU", "Tanh", "Identity"], 2, lambda d: (d,)),
])
def test_forward_loss_and_gradients_match_autograd(names, bn, bias_shape):
    hiddens = [5, 7][:len(names) - 1]
    mlp = make_mlp(names, hiddens, bn, bias_shape=bias_shape)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(9, 6))
    labels = rng.integers(0, 4, 9)
    y = p1.one_hot(labels, 4)
    for i, layer in enumerate(mlp.bn_layers):
        layer.gamma, layer.beta = rng.normal(size=(1, hiddens[i])), rng.normal(size=(1, hiddens[i]))

    params = [leaf(p) for pair in zip(mlp.W, mlp.b) for p in pair]
    bn_params = [leaf(p) for layer in mlp.bn_layers for p in (layer.gamma, layer.beta)]
    logits = torch_forward(mlp, x, params, bn_params)
    loss = torch.nn.functional.cross_entropy(logits, torch.as_tensor(labels))
    loss.backward()

    out = mlp.forward(x)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, logits.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert mlp.get_loss(y) == pytest.approx(loss.item(), rel=1e-10)
    assert mlp.get_error(y) == mlp.get_error(labels) == int((out.argmax(1) != labels).sum())
    mlp.zero_grads()
    mlp.backward(y)
    for i in range(mlp.nlayers):
        assert mlp.dW[i].shape == mlp.W[i].shape and mlp.db[i].shape == mlp.b[i].shape
        np.testing.assert_allclose(mlp.dW[i], params[2 * i].grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(mlp.db[i], params[2 * i + 1].grad.numpy(), rtol=1e-9, atol=1e-12)
    for i, layer in enumerate(mlp.bn_layers):
        np.testing.assert_allclose(layer.dgamma, bn_params[2 * i].grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(layer.dbeta, bn_params[2 * i + 1].grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("bn", [0, 1])
def test_momentum_steps_match_torch_sgd(bn):
    lr, momentum = 0.05, 0.9
    mlp = make_mlp(["ReLU", "Sigmoid", "Identity"], [5, 3], bn, lr=lr, momentum=momentum)
    params = [leaf(p) for pair in zip(mlp.W, mlp.b) for p in pair]
    bn_params = [leaf(p) for layer in mlp.bn_layers for p in (layer.gamma, layer.beta)]
    # torch: v = m v + g; p -= lr v. Template: d = m d - lr g; p += d. The same for a constant lr (d = -lr v).
    optimizer = torch.optim.SGD(params + bn_params, lr=lr, momentum=momentum)
    rng = np.random.default_rng(6)
    for _ in range(4):
        x = rng.normal(size=(8, 6))
        labels = rng.integers(0, 4, 8)
        mlp.zero_grads()
        mlp.forward(x)
        mlp.backward(p1.one_hot(labels, 4))
        mlp.step()
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(torch_forward(mlp, x, params, bn_params),
                                          torch.as_tensor(labels)).backward()
        optimizer.step()
    for i in range(mlp.nlayers):
        np.testing.assert_allclose(mlp.W[i], params[2 * i].detach().numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(mlp.b[i], params[2 * i + 1].detach().numpy(), rtol=1e-9, atol=1e-12)
    for i, layer in enumerate(mlp.bn_layers):
        np.testing.assert_allclose(layer.gamma, bn_params[2 * i].detach().numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(layer.beta, bn_params[2 * i + 1].detach().numpy(), rtol=1e-9, atol=1e-12)


def test_constructor_draws_one_weight_matrix_per_layer_in_order():
    np.random.seed(11785)
    mlp = p1.MLP(784, 10, [64, 32], [p1.Sigmoid(), p1.Sigmoid(), p1.Identity()], p1.random_normal_weight_init,
                 p1.zeros_bias_init, p1.SoftmaxCrossEntropy(), 0.008, momentum=0.856, num_bn_layers=1)
    after = np.random.randn()
    np.random.seed(11785)
    expected = [np.random.randn(784, 64), np.random.randn(64, 32), np.random.randn(32, 10)]
    assert np.random.randn() == after  # nothing else was drawn
    for w, e in zip(mlp.W, expected):
        np.testing.assert_array_equal(w, e)
    for b, d in zip(mlp.b, (64, 32, 10)):
        np.testing.assert_array_equal(b, np.zeros(d))
    assert [dw.shape for dw in mlp.dW] == [w.shape for w in mlp.W]
    assert len(mlp.bn_layers) == 1 and mlp.bn_layers[0].gamma.shape == (1, 64)


def test_eval_mode_uses_running_statistics():
    mlp = make_mlp(["ReLU", "Identity"], [5], num_bn_layers=1)
    x = np.random.default_rng(7).normal(size=(10, 6))
    mlp.train()
    mlp.forward(x)
    mlp.eval()
    single = mlp(x[:1])
    np.testing.assert_allclose(single, mlp(x)[:1])  # in eval mode a sample's output ignores its batch


def test_float32_path_stays_float32():
    np.random.seed(0)
    mlp = p1.build_mlp(dict(hiddens=(8,), activation="ReLU", lr=0.1, momentum=0.9))
    x = np.random.default_rng(0).random((5, 784))  # float64 input is cast to the weights' dtype
    mlp.forward(x)
    mlp.backward(p1.one_hot([1, 2, 3, 4, 5], 10, np.float32))
    mlp.lr = np.float64(0.1)  # a numpy float64 learning rate must not promote the update
    mlp.step()
    assert {a.dtype for a in mlp.W + mlp.b + mlp.dW + mlp.db + [mlp.output]} == {np.dtype(np.float32)}
