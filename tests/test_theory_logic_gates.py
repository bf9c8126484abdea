"""Problem 2: every gate network on every truth-table row, recomputed with torch, and the minimality argument."""
import numpy as np
import pytest

from theory import logic_gates

torch = pytest.importorskip("torch")   # the reference for every answer here

ROWS = [(0, 0), (0, 1), (1, 0), (1, 1)]
TRUTH = {"AND": [0, 0, 0, 1], "OR": [0, 1, 1, 1], "XOR": [0, 1, 1, 0], "XNOR": [1, 0, 0, 1]}


def torch_forward(network, rows):
    """The network as torch Linear + sigmoid layers, W taken as (inputs, outputs)."""
    h = torch.tensor(rows, dtype=torch.float64)
    for layer in network:
        W = torch.tensor(layer["W"], dtype=torch.float64)
        linear = torch.nn.Linear(W.shape[0], W.shape[1], dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(W.T)
            linear.bias.copy_(torch.tensor(layer["b"], dtype=torch.float64))
            h = torch.sigmoid(linear(h))
    return h[:, 0].numpy()


@pytest.mark.parametrize("name", list(TRUTH))
def test_every_row_of_every_gate(name):
    t2 = logic_gates.to_json(logic_gates.solve())
    output = torch_forward(t2[name], ROWS)
    assert list((output >= 0.5).astype(int)) == TRUTH[name]
    # A clear margin from the threshold, so the answer does not hinge on rounding.
    assert np.all(np.abs(output - 0.5) > 0.49)
    assert all(row["ok"] for row in logic_gates.verify(name))


def test_sizes_and_json_shapes():
    t2 = logic_gates.to_json(logic_gates.solve())
    assert set(t2) == {"AND", "OR", "XOR", "XNOR"}
    for name in ("AND", "OR"):
        assert len(t2[name]) == 1 and np.shape(t2[name][0]["W"]) == (2, 1) and len(t2[name][0]["b"]) == 1
    for name in ("XOR", "XNOR"):
        hidden, out = t2[name]
        assert np.shape(hidden["W"]) == (2, 2) and len(hidden["b"]) == 2
        assert np.shape(out["W"]) == (2, 1) and len(out["b"]) == 1


def test_not_gate_needs_a_positive_bias():
    check = logic_gates.not_gate_bias_check()
    assert check[10.0]["matches"] and check[10.0]["class"] == [1, 0]
    assert not check[-10.0]["matches"]


@pytest.mark.parametrize("name", ["XOR", "XNOR"])
def test_certificate_rules_out_one_neuron(name):
    lam, signs, residual = logic_gates.impossibility_certificate(name)
    assert np.all(lam >= 0) and np.any(lam > 0)
    np.testing.assert_array_equal(residual, 0.0)
    # And an empirical cross-check: no random half-plane gets all four rows right.
    rng = np.random.default_rng(0)
    w = rng.normal(size=(200000, 3)) * rng.choice([0.1, 1, 10, 100], size=(200000, 1))
    rows = np.array(ROWS, dtype=float)
    classes = (rows @ w[:, :2].T + w[:, 2] >= 0).astype(int).T
    assert not np.any(np.all(classes == np.array(TRUTH[name]), axis=1))


def test_and_or_have_no_certificate():
    assert logic_gates.impossibility_certificate("AND") is None
    assert logic_gates.impossibility_certificate("OR") is None


def test_the_handouts_not_example_answers_0_for_0():
    example = logic_gates.handout_not_example()
    assert example["network"] == [{"W": [[-1.0]], "b": [-0.5]}]
    assert example["class"] == [0, 0] and not example["matches"]
    assert example["output"][0] == pytest.approx(1 / (1 + np.exp(0.5)))


def test_a_wrong_network_shows_its_own_classes_and_is_flagged(monkeypatch):
    monkeypatch.setitem(logic_gates.NETWORKS, "AND", logic_gates.OR)
    table = logic_gates.verify("AND")
    assert [row["class"] for row in table] == [0, 1, 1, 1]
    assert [row["ok"] for row in table] == [True, False, False, True]
