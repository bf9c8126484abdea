"""Problem 2: the smallest sigmoid MLPs for AND, OR, XOR, XNOR, and the NOT gate of Fig. 3.

A network is a list of layers {"W": (inputs, outputs), "b": (outputs,)}; each layer computes sigmoid(x @ W + b)
and the output class is 1 iff the last output is >= 0.5, i.e. iff its pre-activation is >= 0.
"""
import itertools

import numpy as np

from theory.gelu_gd import sigmoid

# Weights of +-20 and biases that are odd multiples of 10 keep every pre-activation about 10 or more away from
# 0 (the sigmoid's 0.5 threshold), so each unit is a clean 0/1 switch (sigmoid(10) = 0.99995).
AND = [{"W": [[20.0], [20.0]], "b": [-30.0]}]
OR = [{"W": [[20.0], [20.0]], "b": [-10.0]}]
# XOR = AND(OR(A, B), NAND(A, B)): hidden unit 1 is OR, hidden unit 2 is NAND.
XOR = [{"W": [[20.0, -20.0], [20.0, -20.0]], "b": [-10.0, 30.0]},
       {"W": [[20.0], [20.0]], "b": [-30.0]}]
# XNOR = OR(AND(A, B), NOR(A, B)): hidden unit 1 is AND, hidden unit 2 is NOR.
XNOR = [{"W": [[20.0, -20.0], [20.0, -20.0]], "b": [-30.0, 10.0]},
        {"W": [[20.0], [20.0]], "b": [-10.0]}]
# Fig. 3: one input, weight -20, bias of magnitude 10; the bias must be +10 for NOT (see not_gate_bias_check).
NOT = [{"W": [[-20.0]], "b": [10.0]}]
# The NOT example printed in the handout: weight -1, bias -0.5.
HANDOUT_NOT = [{"W": [[-1.0]], "b": [-0.5]}]

NETWORKS = {"AND": AND, "OR": OR, "XOR": XOR, "XNOR": XNOR}

TRUTH_TABLES = {
    "AND": lambda a, b: a & b,
    "OR": lambda a, b: a | b,
    "XOR": lambda a, b: a ^ b,
    "XNOR": lambda a, b: 1 - (a ^ b),
}


def forward(network, x):
    """Output of the last layer for input rows x (shape (n, inputs)); also the hidden activations."""
    activations = [np.asarray(x, dtype=np.float64)]
    for layer in network:
        z = activations[-1] @ np.asarray(layer["W"], dtype=np.float64) + np.asarray(layer["b"], dtype=np.float64)
        activations.append(sigmoid(z))
    return activations[-1], activations[1:-1]


def classify(network, x):
    """Class 1 iff the output is >= 0.5 (the handout's rule)."""
    output, _ = forward(network, x)
    return (output[:, 0] >= 0.5).astype(int)


def truth_table_rows(n_inputs=2):
    """All 0/1 input rows, in the order (0,0), (0,1), (1,0), (1,1) for two inputs (A, B)."""
    return np.array(list(itertools.product([0, 1], repeat=n_inputs)))


def verify(name):
    """Each row of a gate's truth table: inputs, hidden activations, output, predicted and wanted class."""
    network = NETWORKS[name]
    rows = truth_table_rows()
    output, hidden = forward(network, rows)
    predicted = classify(network, rows)
    wanted = np.array([TRUTH_TABLES[name](int(a), int(b)) for a, b in rows])
    table = []
    for i, (a, b) in enumerate(rows):
        table.append({"A": int(a), "B": int(b),
                      "hidden": [float(h) for h in hidden[0][i]] if hidden else [],
                      "output": float(output[i, 0]), "class": int(predicted[i]), "target": int(wanted[i]),
                      "ok": bool(predicted[i] == wanted[i])})
    return table


def not_gate_bias_check():
    """Fig. 3's NOT neuron with its bias (+10) and with the opposite one (-10): which one matches NOT's truth
    table."""
    result = {}
    for bias in (NOT[0]["b"][0], -NOT[0]["b"][0]):
        network = [{"W": NOT[0]["W"], "b": [bias]}]
        rows = truth_table_rows(1)
        output, _ = forward(network, rows)
        predicted = classify(network, rows)
        result[bias] = {"output": [float(o) for o in output[:, 0]], "class": [int(c) for c in predicted],
                        "matches": bool(np.array_equal(predicted, 1 - rows[:, 0]))}
    return result


def handout_not_example():
    """The handout's NOT neuron (weight -1, bias -0.5) on A = 0 and A = 1, with the 0.5 threshold."""
    rows = truth_table_rows(1)
    output, _ = forward(HANDOUT_NOT, rows)
    predicted = classify(HANDOUT_NOT, rows)
    return {"network": HANDOUT_NOT, "output": [float(o) for o in output[:, 0]],
            "class": [int(c) for c in predicted], "matches": bool(np.array_equal(predicted, 1 - rows[:, 0]))}


def impossibility_certificate(name):
    """Multipliers lam >= 0 with sum_i lam_i s_i [A_i, B_i, 1] = 0, s_i = +1 for class-1 rows and -1 otherwise.

    With z_i = w1 A_i + w2 B_i + b, one neuron needs s_i z_i >= 0 on every row and > 0 on class-0 rows; then
    sum_i lam_i s_i z_i = (w1, w2, b) . sum_i lam_i s_i [A_i, B_i, 1] would be > 0 and = 0 at once. Such a
    certificate exists for XOR and XNOR (lam = 1 on all four rows), so no single neuron computes them.
    Returns (lam, signs, residual) where residual must be the zero vector, or None for AND and OR.
    """
    if name not in ("XOR", "XNOR"):
        return None
    rows = truth_table_rows()
    signs = np.array([1 if TRUTH_TABLES[name](int(a), int(b)) else -1 for a, b in rows])
    lam = np.ones(len(rows))
    augmented = np.hstack([rows, np.ones((len(rows), 1))])
    residual = (lam * signs) @ augmented
    return lam, signs, residual


def solve():
    """The four networks, every truth-table row checked, and the NOT bias check."""
    return {
        "networks": NETWORKS,
        "tables": {name: verify(name) for name in NETWORKS},
        "not": {"network": NOT, "bias_check": not_gate_bias_check(), "handout_example": handout_not_example()},
        "certificates": {name: impossibility_certificate(name) for name in ("XOR", "XNOR")},
    }


def to_json(result):
    """T2 with the key names of the JSON answers: per gate, the list of layers with W (inputs, outputs) and b."""
    return {name: [{"W": [list(map(float, row)) for row in layer["W"]], "b": [float(v) for v in layer["b"]]}
                   for layer in network]
            for name, network in result["networks"].items()}
