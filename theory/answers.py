"""All four problems solved together: the JSON answers and a readable text version."""
import numpy as np

from theory import backprop, cnn, gelu_gd, logic_gates


def solve_all(fig5_path=cnn.FIG5_PATH):
    """Every problem's full result (arrays and working), keyed T1..T4."""
    return {"T1": gelu_gd.solve(), "T2": logic_gates.solve(), "T3": backprop.solve(), "T4": cnn.solve(fig5_path)}


def to_json(results):
    """The machine-readable answers, keyed T1..T4."""
    return {"T1": gelu_gd.to_json(results["T1"]), "T2": logic_gates.to_json(results["T2"]),
            "T3": backprop.to_json(results["T3"]), "T4": cnn.to_json(results["T4"])}


def _row(values, digits=6):
    return ", ".join(f"{v:.{digits}f}" for v in values)


def _matrix_text(m, indent="      "):
    if m is None:
        return indent + "(none)"
    rows = [[f"{v:g}" for v in row] for row in np.asarray(m)]
    width = max(len(c) for row in rows for c in row)
    return "\n".join(indent + "[" + " ".join(c.rjust(width) for c in row) + "]" for row in rows)


def _text_t1(r):
    lines = ["Problem 1: gradient descent on GELU(x) ~ x*sigmoid(1.702x)",
             "  GELU'(x) = s(1.702x) + 1.702 x s(1.702x)(1 - s(1.702x))",
             f"  minimum: x* = {r['minimum']['x']:.6f}, GELU(x*) = {r['minimum']['gelu']:.6f}"]
    runs = [("a) x0 = 0, eta = 0.1", r["a"]), ("b) x0 = 0, eta = 1", r["b"]),
            ("c) x0 = -3, eta = 0.1, GD", r["c_gd"]),
            ("c) momentum beta = 0.9, x_{t+1} = x_t - eta v_{t+1}", r["c_momentum"]),
            ("c) momentum, v_t reading x_{t+1} = x_t - eta v_t", r["c_momentum_lagged"])]
    for title, xs in runs:
        lines += [f"  {title}", f"      x1..x3       = {_row(xs[1:])}",
                  f"      GELU(x1..x3) = {_row(gelu_gd.gelu(xs[1:]))}"]
    long = r["long"]
    lines.append(f"  long run ({len(long['gd']) - 1} steps): |x_t - x*| < {long['tol']:g} for good from step "
                 f"{long['settle_gd']} (GD), {long['settle_momentum']} (momentum), "
                 f"{long['settle_momentum_lagged']} (v_t reading)")
    return lines


def _text_t2(r):
    lines = ["Problem 2: smallest sigmoid MLPs (class 1 iff output >= 0.5), layers sigmoid(x @ W + b), x = (A, B)"]
    for name, network in r["networks"].items():
        lines.append(f"  {name}: " + "; ".join(f"W = {layer['W']}, b = {layer['b']}" for layer in network))
        checks = " ".join(f"{row['A']}{row['B']}->{row['class']}{'' if row['ok'] else '(WRONG)'}"
                          for row in r["tables"][name])
        lines.append(f"      truth table: {checks}")
    bias, (layer,) = r["not"]["bias_check"], r["not"]["network"]
    b = layer["b"][0]
    lines.append(f"  NOT (Fig. 3): W = {layer['W']}, b = [{b:+g}] matches NOT: {bias[b]['matches']}; with "
                 f"b = {-b:+g}: {bias[-b]['matches']}")
    lines.append("  XOR/XNOR need a hidden layer: the four row inequalities of one neuron add up to a contradiction")
    return lines


def _text_t3(r):
    lines = ["Problem 3: backprop, sigmoid hidden layer, softmax + cross-entropy",
             "  dE/df2 = o - y;  dE/dx = ((o - y) W2^T * a * (1 - a)) W1^T", "  shapes:"]
    lines += [f"      {term:<32} {shape}" for term, shape in r["shapes"]]
    example = r["example"]
    lines.append(f"  worked example: E = {example['forward']['E']:.6f}, o = {_row(example['forward']['o'][0])}")
    lines.append(f"      dE/df2 = {_row(example['grads']['f2'][0])}, dE/dx = {_row(example['grads']['x'][0])}")
    lines.append(f"      central finite differences of E: largest difference from dE/dx, dE/dW1, dE/dW2 = "
                 f"{example['finite_difference_gap']:.1e}")
    return lines


def _text_t4(r):
    fig5 = r["fig5"]
    lines = [f"Problem 4: CNN arithmetic on {fig5['path']}",
             f"  values: {fig5['source'] or '(no source given)'}",
             "  output size = floor((n + 2p - k) / s) + 1",
             "  F =", _matrix_text(fig5["F"]), "  Filter1 =", _matrix_text(fig5["Filter1"]),
             "  Filter2 =", _matrix_text(fig5["Filter2"])]
    a, b, c, d = r["a"], r["b"], r["c"], r["d"]
    lines += [f"  a) padding = {a['padding']}" + (f" ({a['reason']})" if "reason" in a else ""),
              _matrix_text(a["map"])]
    lines += [f"  b) possible = {b['possible']}, stride = {b['stride']}: {b['reason']}"]
    if b["map"] is not None:
        lines.append(_matrix_text(b["map"]))
    if "map" not in c:
        lines.append(f"  c), d): {c['reason']}")
        return lines
    lines += ["  c) 2x2 average pooling, stride 2:", _matrix_text(c["map"]),
              f"  d) filter (stride {d['stride']}, padding {d['padding']}, on the map of a)):",
              _matrix_text(d["filter"]),
              f"     or on F directly (stride {d['on_F']['stride']}, padding {d['on_F']['padding']}):",
              _matrix_text(d["on_F"]["filter"]), f"     both reproduce c): {d['matches']}"]
    return lines


def format_text(results):
    """Every answer as plain text, one problem after the other."""
    parts = [_text_t1(results["T1"]), _text_t2(results["T2"]), _text_t3(results["T3"]), _text_t4(results["T4"])]
    return "\n\n".join("\n".join(p) for p in parts)
