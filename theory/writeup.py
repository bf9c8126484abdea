"""The hand-in PDF: each problem's question, answer and working, rendered from the computed results only."""
import matplotlib.style
import numpy as np

from theory import backprop, cnn, figures, fingerprint, gelu_gd
from theory.pdf import (USABLE_H, Document, FigureBlock, Formula, Heading, Matrices, PageBreak, Paragraph, Table,
                        format_number)


def num(value, digits=6):
    """A number with a fixed count of decimals, for tables and text, with a minus sign rather than a hyphen."""
    return f"{float(value):.{digits}f}".replace("-", "\u2212")


# ----------------------------------------------------------------------------------------------------------------
# Problem 1
# ----------------------------------------------------------------------------------------------------------------

G = r"\mathrm{GELU}"  # mathtext for the function's name, upright like other operator names


def _iterate_table(xs):
    """t, x_t, GELU'(x_t), GELU(x_t) for a run."""
    rows = [[str(t), num(x, 7), num(gelu_gd.gelu_grad(x), 7), num(gelu_gd.gelu(x), 7)] for t, x in enumerate(xs)]
    return Table(["t", "$x_t$", f"${G}'(x_t)$", f"${G}(x_t)$"], rows)


def _comparison_table(gd, mom, mom_v, lag):
    """c): GD and both momentum readings side by side."""
    header = ["t", "GD $x_t$", f"GD ${G}(x_t)$", "mom. $v_t$", "mom. $x_t$", f"mom. ${G}(x_t)$",
              "$v_t$ rdg. $x_t$", f"$v_t$ rdg. ${G}(x_t)$"]
    rows = [[str(t), num(gd[t], 7), num(gelu_gd.gelu(gd[t]), 7), num(mom_v[t], 7), num(mom[t], 7),
             num(gelu_gd.gelu(mom[t]), 7), num(lag[t], 7), num(gelu_gd.gelu(lag[t]), 7)] for t in range(len(gd))]
    return Table(header, rows)


def _three(xs):
    """'x1, x2, x3 (GELU g1, g2, g3)' for the answer line."""
    return ", ".join(num(x) for x in xs[1:]) + " (GELU " + ", ".join(num(gelu_gd.gelu(x)) for x in xs[1:]) + ")"


def _p1_derivative(doc, r, max_curv):
    x_star, f_star, curv = r["minimum"]["x"], r["minimum"]["gelu"], r["minimum"]["curvature"]
    doc.add(Heading("Derivative and minimum", 2))
    doc.add(Paragraph(r"With $\sigma' = \sigma(1-\sigma)$, the product rule gives"))
    doc.add(Formula(f"${G}'(x) = " + r"\sigma(1.702x) + 1.702\,x\,\sigma(1.702x)\,(1 - \sigma(1.702x))$"))
    doc.add(Paragraph(
        f"Written as ${G}'(x) = " + r"\sigma(z)\,(1 + z\,\sigma(-z))$ with $z = 1.702x$; the bracket is positive for "
        r"$z \geq 0$, increasing for $z < 0$ (its derivative is $\sigma(-z)(1 - z\sigma(z)) > 0$) and tends to "
        r"$-\infty$ as $z \to -\infty$, so "
        f"${G}'$ changes sign exactly once: bisection gives $x^* = {num(x_star, 8)}$, ${G}(x^*) = {num(f_star, 8)}$, "
        r"the global minimum (GELU falls to it from 0 at $-\infty$ and rises after it). There "
        f"${G}''(x^*) = {num(curv, 4)}$; for every $x$, $|{G}''(x)| \\leq {G}''(0) = {num(max_curv, 3)}$."))


def _p1_ab(doc, r, max_curv):
    a, b, x_star, f_star = r["a"], r["b"], r["minimum"]["x"], r["minimum"]["gelu"]
    curv = r["minimum"]["curvature"]
    doc.add(Heading(r"a), b) $x_0 = 0$ with $\eta = 0.1$ and with $\eta = 1$", 2))
    doc.add(Paragraph(f"$x_{{t+1}} = x_t - \\eta\\, {G}'(x_t)$; ${G}'(0) = \\sigma(0) = 0.5$, so "
                      r"$x_1 = -0.5\,\eta$."))
    doc.add(Paragraph(r"a) $\eta = 0.1$:", weight="bold", keep_with_next=True))
    doc.add(_iterate_table(a))
    doc.add(Paragraph(r"b) $\eta = 1$:", weight="bold", keep_with_next=True))
    doc.add(_iterate_table(b))
    approach = ("the iterates approach $x^*$ from the right and never overshoot it." if np.all(b[1:] > x_star)
                else "the iterates cross $x^*$ but still descend.")
    # Mean value theorem: x_{t+1} - x* = (1 - eta G''(xi)) (x_t - x*) for some xi between x_t and x*; a factor in
    # (0, 1) means no overshoot. That needs eta G'' in (0, 1) between x* and the start, not just below 2.
    between = gelu_gd.gelu_second_derivative(np.linspace(x_star, 0.0, 401))
    if 0 < between.min() and gelu_gd.ETA_B * max_curv < 1:
        why = (f"$\\eta \\cdot \\max|{G}''| = {num(max_curv, 3)} < 1$ and ${G}'' > 0$ between $x^*$ and 0, so each "
               f"step multiplies the distance to $x^*$ by $1 - \\eta\\, {G}''(\\xi) \\in (0, 1)$ for some $\\xi$ in "
               "between (mean value theorem)")
    else:
        why = f"$\\eta \\cdot \\max|{G}''| = {num(max_curv, 3)} < 2$"
    doc.add(Paragraph(
        f"With $\\eta = 1$ a step is ten times longer for the same slope: after three steps it is at {num(b[3], 4)}, "
        f"{num(b[3] - x_star, 4)} from $x^*$ with GELU {num(gelu_gd.gelu(b[3]) - f_star, 5)} above the minimum, while "
        f"$\\eta = 0.1$ is still at {num(a[3], 4)} ({num(gelu_gd.gelu(a[3]) - f_star, 5)} above). The long step is "
        f"safe here because {why}: {approach} Near $x^*$ the error "
        f"shrinks by about $1 - \\eta\\, {G}''(x^*)$ per step: {num(1 - gelu_gd.ETA_B * curv, 3)} for $\\eta = 1$ and "
        f"{num(1 - gelu_gd.ETA_A * curv, 3)} for $\\eta = 0.1$.", lead="Comparison."))


def _p1_c(doc, r):
    gd, mom, lag, x_star, long = r["c_gd"], r["c_momentum"], r["c_momentum_lagged"], r["minimum"]["x"], r["long"]
    v_gap = np.abs(r["c_momentum_v"] - r["c_momentum_lagged_v"]).max()
    doc.add(Heading(r"c) $x_0 = -3$, $\eta = 0.1$: GD and momentum ($\beta = 0.9$)", 2))
    doc.add(Paragraph(
        f"The handout's Eq. 5: $v_0 = {G}'(x_0)$, $v_{{t+1}} = \\beta v_t + (1-\\beta)\\,{G}'(x_t)$, "
        r"$x_{t+1} = x_t - \eta\, v_{t+1}$. Eq. 5 can also be read with $v_t$ in the update, "
        r"$x_{t+1} = x_t - \eta\, v_t$ (same $v$ recursion), "
        r"called the $v_t$ reading below ('$v_t$ rdg.' in the table); both are tabulated next to GD. "
        f"The $v_t$ column belongs to the first reading; the velocities of the $v_t$ reading differ from it by at most "
        f"{v_gap:.1e} here.", keep_with_next=True))
    doc.add(_comparison_table(gd, mom, r["c_momentum_v"], lag))
    g0, z0 = r["grad_x0"]["-3"], gelu_gd.SCALE * gelu_gd.X0_C
    doc.add(Paragraph(
        f"At $x_0 = -3$ the slope is only {num(g0, 5)} ($\\sigma({z0:g}) = {num(gelu_gd.sigmoid(z0), 5)}$): the left "
        f"tail of GELU is nearly flat, so every method moves about {num(abs(gelu_gd.ETA_C * g0), 5)} per step. The "
        f"first step is identical for GD and both momentum readings, since "
        f"$v_1 = \\beta v_0 + (1-\\beta)\\,{G}'(x_0) = v_0$. After three steps momentum is behind GD by "
        f"{abs(mom[3] - gd[3]):.2e} ($v_t$ reading {abs(lag[3] - gd[3]):.2e}): with the $(1-\\beta)$ factor $v$ is an "
        f"average of past gradients, and as $x$ moves right $|{G}'|$ grows, so the average lags the current slope. In "
        "three steps neither method gets anywhere near the minimum.", lead="Comparison."))
    steps = len(long["gd"]) - 1
    closer = int(np.flatnonzero(np.abs(long["momentum"] - x_star) < np.abs(long["gd"] - x_star))[0])
    passes = int(np.flatnonzero(long["momentum"] > x_star)[0])
    doc.add(Paragraph(
        f"Over {steps} steps (figure below) GD is closer to $x^*$ through step {closer - 1}; from step {closer} on "
        f"momentum, which keeps its speed while the slope fades near the minimum, is the closer one. It passes $x^*$ "
        f"at step {passes}, overshoots it by at most {num(long['overshoot_momentum'], 5)} (at step "
        f"{int(np.argmax(long['momentum']))}) and stays within {long['tol']:g} of $x^*$ from step "
        f"{long['settle_momentum']} on, against {long['settle_gd']} for GD ({long['settle_momentum_lagged']} for the "
        "$v_t$ reading). Both reach the same minimum. Momentum in this averaged form does not enlarge the step (in "
        f"steady state it moves by $\\eta\\,{G}'$, like GD), so most of the time is spent crossing the flat tail at "
        "the same pace, and it gains only on the last stretch.", lead="Many more steps."))
    doc.add(FigureBlock(figures.gelu_runs(r), 4.6,
                        caption=f"Figure 1. Top left: the iterates of a) and b) on GELU. Top right and bottom right: "
                                f"c) over {steps} steps, GD against both momentum readings; bottom left: GD and "
                                "momentum on the GELU curve. The stars and the dotted line mark the minimum. Gaps "
                                "under $10^{-16}$, below what float64 resolves near GELU($x^*$), are drawn at "
                                "$10^{-16}$."))


def problem1(doc, r):
    grid = np.linspace(-10, 10, 20001)
    max_curv = float(np.abs(gelu_gd.gelu_second_derivative(grid)).max())
    doc.add(Heading("Problem 1: gradient descent on GELU"))
    doc.add(Paragraph(f"GD on the handout's ${G}(x) \\approx x\\,\\sigma(1.702x)$ (the sigmoid approximation of "
                      "Hendrycks & Gimpel, 2016): derivative; "
                      r"a) $x_0=0,\ \eta=0.1$; b) $\eta=1$; c) $x_0=-3,\ \eta=0.1$, GD vs momentum "
                      r"($\beta=0.9$, the handout's Eq. 5); where is the minimum?", lead="Question."))
    doc.add(Paragraph(
        f"${G}'(x) = " + r"\sigma(1.702x)\,(1 + 1.702x\,\sigma(-1.702x))$.  "
        f"a) $x_{{1,2,3}}$ = {_three(r['a'])}.  b) $x_{{1,2,3}}$ = {_three(r['b'])}.  c) GD: "
        f"{_three(r['c_gd'])}; momentum: {_three(r['c_momentum'])}; momentum, $v_t$ reading: "
        f"{_three(r['c_momentum_lagged'])}.  The minimum is at "
        f"$x^* = {num(r['minimum']['x'])}$, ${G}(x^*) = {num(r['minimum']['gelu'])}$.", lead="Answer."))
    _p1_derivative(doc, r, max_curv)
    _p1_ab(doc, r, max_curv)
    _p1_c(doc, r)


# ----------------------------------------------------------------------------------------------------------------
# Problem 2
# ----------------------------------------------------------------------------------------------------------------

def bracketed(m):
    """A matrix as [[1, −2], [0.5, 3]], a vector as [1, −2]: one line, with minus signs."""
    m = np.asarray(m, dtype=float)
    return "[" + ", ".join(bracketed(row) if m.ndim > 1 else format_number(row) for row in m) + "]"


def _layer_text(layer):
    return bracketed(layer["W"]), bracketed(layer["b"])


def problem2(doc, r):
    doc.add(Heading("Problem 2: the smallest MLPs for logic gates"))
    doc.add(Paragraph("Smallest layered sigmoid networks (class 1 iff output $\\geq 0.5$) for AND, OR, XOR, XNOR; "
                      "show XOR/XNOR need a hidden layer; the NOT gate of the handout's Fig. 3.", lead="Question."))
    doc.add(Paragraph(r"Each layer computes $\sigma(x W + b)$ with $W$ of shape (inputs, outputs) and inputs ordered "
                      "(A, B). AND, OR and NOT are one neuron; XOR and XNOR are one hidden layer of two neurons and "
                      "one output neuron:", lead="Answer."))
    meaning = {("AND", 0): "A AND B", ("OR", 0): "A OR B", ("XOR", 0): "h1 = OR, h2 = NAND",
               ("XOR", 1): "AND(h1, h2)", ("XNOR", 0): "h1 = AND, h2 = NOR", ("XNOR", 1): "OR(h1, h2)"}
    rows = []
    for name, network in r["networks"].items():
        for i, layer in enumerate(network):
            kind = "output" if i == len(network) - 1 else "hidden"
            rows.append([name if i == 0 else "", kind, *_layer_text(layer), meaning[(name, i)]])
        if name == "OR":
            rows.append(["NOT", "output", *_layer_text(r["not"]["network"][0]), "NOT A (Fig. 3, input A)"])
    doc.add(Table(["gate", "layer", "W", "b", "computes"], rows, align=["left"] * 5))
    doc.add(FigureBlock(figures.gate_networks(r), 3.2,
                        caption="Figure 2. The networks drawn like the handout's Fig. 3: each weight on its edge "
                                "(blue), each neuron's bias next to it (red); a neuron outputs "
                                r"$\sigma(\Sigma_i\, w_i x_i + b)$ and the class is 1 iff the last output is "
                                r"$\geq 0.5$."))
    doc.add(Paragraph(
        "Every weight is $\\pm 20$ and every bias an odd multiple of 10, so each pre-activation is about 10 or more "
        "away from 0 (hidden outputs are within 0.0001 of 0 or 1) and each unit is a clean switch "
        "($\\sigma(10) = 0.99995$). AND, OR, NOT and XNOR (from AND, NOR and OR) use the values of the classic example "
        "in Andrew Ng's Machine Learning course (Coursera, \"Neural Networks: Examples and Intuitions\"); XOR is "
        "built from units of the same kind (OR and NAND, then AND). Each network's output and class on every input "
        "row:"))
    header = ["A", "B"] + [f"{name}: output \u2192 class" for name in r["networks"]]
    table_rows = []
    for i in range(4):
        row = [str(r["tables"]["AND"][i]["A"]), str(r["tables"]["AND"][i]["B"])]
        row += [f"{r['tables'][name][i]['output']:.5f} \u2192 {r['tables'][name][i]['class']}"
                for name in r["networks"]]
        table_rows.append(row)
    doc.add(Table(header, table_rows, align=["left", "left"] + ["right"] * 4))
    doc.add(Paragraph("Read down a column, the classes are that gate's truth table. "
                      "Hidden activations (h1, h2) for rows 00, 01, 10, 11: "
                      + "; ".join(f"{name}: " + ", ".join(f"({row['hidden'][0]:.4f}, {row['hidden'][1]:.4f})"
                                                          for row in r["tables"][name])
                                  for name in ("XOR", "XNOR")) + "."))
    doc.add(FigureBlock(figures.gate_regions(r), 1.9,
                        caption="Figure 3. Input plane: shaded where the network says 1; dashed lines are the "
                                "first-layer units' boundaries $w_1 A + w_2 B + b = 0$; filled dots are class 1. "
                                "XOR is 1 inside the strip between two lines, XNOR outside it."))

    doc.add(Heading("Why one neuron cannot do XOR or XNOR (so the sizes are minimal)", 2))
    doc.add(Paragraph(
        r"$\sigma$ is increasing and $\sigma(z) \geq 0.5 \Leftrightarrow z \geq 0$, so one neuron says 1 exactly on "
        r"the half-plane $w_1 A + w_2 B + b \geq 0$. For XOR the four rows demand $b < 0$, $w_2 + b \geq 0$, "
        r"$w_1 + b \geq 0$ and $w_1 + w_2 + b < 0$. Adding the middle two gives $w_1 + w_2 + b \geq -b > 0$, which "
        r"contradicts the last. XNOR flips every inequality ($b \geq 0$, $w_2 + b < 0$, $w_1 + b < 0$, "
        r"$w_1 + w_2 + b \geq 0$): then $w_1 + w_2 + b < -b \leq 0$, again a contradiction. "
        "A hidden layer of a single unit does not help: the output is then an "
        "increasing or decreasing function of one linear form $uA + vB + c$, so its class is still a half-plane. "
        "Hence one hidden layer needs at least two units: three neurons in all. (This counts layered networks, as the "
        "question does; if the inputs also fed the output neuron directly, two neurons would do, e.g. h = AND(A, B) "
        "and output $\\sigma(20A + 20B - 40h - 10)$ for XOR.)"))

    doc.add(Heading("The NOT gate of the handout's Fig. 3", 2))
    w, b = r["not"]["network"][0]["W"][0][0], r["not"]["network"][0]["b"][0]
    positive, negative = r["not"]["bias_check"][b], r["not"]["bias_check"][-b]
    doc.add(Paragraph(
        rf"With weight ${w:g}$, of the two biases $\pm {abs(b):g}$ only ${b:+g}$ gives NOT: A = 0 then gives "
        rf"$\sigma({b:g}) = {positive['output'][0]:.5f}$, class {positive['class'][0]}, and A = 1 gives "
        rf"$\sigma({w + b:g}) = {positive['output'][1]:.5f}$, class {positive['class'][1]}, which is NOT. With bias "
        rf"${-b:g}$ instead, A = 0 gives $\sigma({-b:g})$ and A = 1 gives $\sigma({w - b:g})$: class "
        rf"{negative['class'][0]} both times."))
    handout = r["not"]["handout_example"]
    hw, hb = handout["network"][0]["W"][0][0], handout["network"][0]["b"][0]
    weighted = {1: "A", -1: "-A"}.get(hw, f"{hw:g}\\,A")
    doc.add(Paragraph(
        rf"The handout also gives a NOT example other than Fig. 3's: weight ${hw:g}$ and offset ${hb:g}$. Read "
        rf"with ${hb:g}$ as its bias, it answers {handout['class'][0]} for A = 0 and {handout['class'][1]} for "
        rf"A = 1, which is not a NOT gate: at A = 0 the output is $\sigma(b)$ alone, here "
        rf"$\sigma({hb:g}) = {handout['output'][0]:.3f} < 0.5$, and class 1 there needs $b \geq 0$. Read as a "
        rf"threshold (class 1 iff ${weighted} > {hb:g}$), it is a correct NOT, the same as bias ${-hb:+g}$.",
        lead="Remark."))


# ----------------------------------------------------------------------------------------------------------------
# Problem 3
# ----------------------------------------------------------------------------------------------------------------

def problem3(doc, r):
    ex = r["example"]
    doc.add(Heading("Problem 3: backpropagation (sigmoid hidden layer, softmax, cross-entropy)"))
    doc.add(Paragraph(r"For $f_1 = xW_1 + b_1$, $a = \sigma(f_1)$, $f_2 = aW_2 + b_2$, $o = \mathrm{softmax}(f_2)$, "
                      r"$E = -{\Sigma}_k\, y_k \log o_k$ with one-hot $y$: derive $\partial E/\partial f_2$ and "
                      r"$\partial E/\partial x$.", lead="Question."))
    doc.add(Paragraph(r"$\partial E/\partial f_2 = o - y$ and "
                      r"$\partial E/\partial x = ((o - y)\,W_2^T \odot a \odot (1 - a))\,W_1^T$ "
                      r"(rows are samples: $x$ is 1 × d, $h$ hidden units, $K$ classes).", lead="Answer."))
    doc.add(FigureBlock(figures.backprop_chain, 1.3,
                        caption="Figure 4. The chain with the shape of every term. Forward (blue) computes each node; "
                                r"backward (red) turns $\partial E/\partial$(right node) into "
                                r"$\partial E/\partial$(left node), which has the left node's shape."))
    steps = [
        ("1. Loss.", r"$\frac{\partial E}{\partial o_k} = -\frac{y_k}{o_k}$", "a 1 × K row:"),
        ("2. Softmax Jacobian.", r"$o_k = \frac{e^{f_{2,k}}}{\sum_m e^{f_{2,m}}} \Rightarrow "
                                 r"\frac{\partial o_k}{\partial f_{2,j}} = o_k(\delta_{kj} - o_j)$, "
                                 r"i.e. $\partial o/\partial f_2 = \mathrm{diag}(o) - o^T o$",
         "by the quotient rule (the diagonal term comes from the numerator), a symmetric K × K matrix:"),
        ("3. Chain rule through softmax.", r"$\frac{\partial E}{\partial f_{2,j}} = \sum_k -\frac{y_k}{o_k}\,"
                                           r"o_k(\delta_{kj} - o_j) = -y_j + o_j \sum_k y_k = o_j - y_j$",
         r"the last step uses ${\Sigma}_k\, y_k = 1$ (one-hot, or any probability vector $y$), so "
         r"$\partial E/\partial f_2 = o - y$, 1 × K:"),
        ("4. Output layer.", r"$\frac{\partial E}{\partial W_2} = a^T (o - y),\ \ \frac{\partial E}{\partial b_2} "
                             r"= o - y,\ \ \frac{\partial E}{\partial a} = (o - y)\, W_2^T$",
         r"$f_2 = aW_2 + b_2$ is linear in each of $W_2$, $b_2$, $a$ (shapes h × K, 1 × K, 1 × h):"),
        ("5. Sigmoid.", r"$\sigma'(f) = \sigma(f)(1 - \sigma(f)) \Rightarrow \frac{\partial E}{\partial f_1} = "
                        r"\frac{\partial E}{\partial a} \odot a \odot (1 - a)$",
         r"its Jacobian $\mathrm{diag}(a \odot (1 - a))$ is diagonal, so it becomes an element-wise product, 1 × h:"),
        ("6. Input.", r"$\frac{\partial E}{\partial x} = \frac{\partial E}{\partial f_1} W_1^T = "
                      r"((o - y)\,W_2^T \odot a \odot (1 - a))\,W_1^T$",
         r"1 × d (and likewise $\partial E/\partial W_1 = x^T\, \partial E/\partial f_1$, d × h, "
         r"$\partial E/\partial b_1 = \partial E/\partial f_1$):"),
    ]
    for lead, formula, note in steps:
        doc.add(Paragraph(note[0].upper() + note[1:], lead=lead, keep_with_next=True))
        doc.add(Formula(formula.replace(r"\frac", r"\dfrac")))
    doc.add(Paragraph("The numbers below follow from these closed forms."))
    shapes = r["shapes_mathtext"]
    half = (len(shapes) + 1) // 2
    left, right = shapes[:half], shapes[half:] + [("", "")] * (2 * half - len(shapes))
    doc.add(Heading("Shapes of every term (one sample)", 2))
    doc.add(Table(["term", "shape", "term", "shape"],
                  [[lt, ls, rt, rs] for (lt, ls), (rt, rs) in zip(left, right)], align=["left"] * 4))
    doc.add(Heading("Worked example (d = 3, h = 2, K = 2)", 2))

    def vec(v):
        return "[" + ", ".join(num(x) for x in np.ravel(v)) + "]"

    inputs, fw, gr = ex["inputs"], ex["forward"], ex["grads"]
    names = {"x": "$x$", "W1": "$W_1$", "b1": "$b_1$", "W2": "$W_2$", "b2": "$b_2$", "y": "$y$"}
    doc.add(Paragraph(",  ".join(f"{names[name]} = {bracketed(np.atleast_2d(inputs[name]))}" for name in names)
                      + " (vectors as 1-row matrices).", keep_with_next=True))
    rows = [["$f_1$", vec(fw["f1"])], ["$a$", vec(fw["a"])], ["$f_2$", vec(fw["f2"])], ["$o$", vec(fw["o"])],
            ["$E$", num(fw["E"])], [r"$\partial E/\partial f_2 = o - y$", vec(gr["f2"])],
            [r"$\partial E/\partial a$", vec(gr["a"])], [r"$\partial E/\partial f_1$", vec(gr["f1"])],
            [r"$\partial E/\partial x$", vec(gr["x"])], [r"$\partial E/\partial W_2$ (rows)", vec(gr["W2"])],
            [r"$\partial E/\partial W_1$ (rows)", vec(gr["W1"])]]
    doc.add(Table(["term", "value"], rows, align=["left", "left"]))
    step = f"{backprop.FD_STEP:.0e}".replace("e-0", "e-")
    doc.add(Paragraph(f"Central finite differences of $E$ (step {step}) agree with every entry of "
                      r"$\partial E/\partial x$, $\partial E/\partial W_1$ and $\partial E/\partial W_2$ above: "
                      f"the largest difference is {ex['finite_difference_gap']:.1e}."))


# ----------------------------------------------------------------------------------------------------------------
# Problem 4
# ----------------------------------------------------------------------------------------------------------------

def problem4(doc, r):
    fig5 = r["fig5"]
    F, K1, K2 = fig5["F"], fig5["Filter1"], fig5["Filter2"]
    a, b, c, d = r["a"], r["b"], r["c"], r["d"]
    doc.add(Heading("Problem 4: CNN arithmetic"))
    doc.add(Paragraph("With the feature map F and filters of the handout's Fig. 5: a) padding that keeps the size "
                      "with Filter1 (stride 1); b) Filter2, padding 1: can any stride keep the size? c) 2x2 average "
                      "pooling, stride 2, of a); d) a convolution that reproduces c).", lead="Question."))
    doc.add(Paragraph("F, Filter1 and Filter2 as the handout's Fig. 5 gives them:", lead="Input."))
    doc.add(Matrices([("F", F), ("Filter1", K1), ("Filter2", K2)]))
    doc.add(Paragraph("Here \"convolution\" means cross-correlation, as CNN layers compute it: the filter slides "
                      "over the map without being flipped, and each output is the sum of the products of the filter "
                      "with the patch under it. Along each axis the output size is"))
    doc.add(Formula(r"$n_{\mathrm{out}} = \lfloor (n + 2p - k)\,/\,s \rfloor + 1$"))
    n, k1 = F.shape, K1.shape
    if a["map"] is None:
        doc.add(Paragraph(a["reason"] + ".", lead="a)"))
    else:
        doc.add(Paragraph(
            f"At s = 1, $n + 2p - k + 1 = n$ gives $p = (k - 1)/2$ = {a['padding']} for the "
            f"{k1[0]}x{k1[1]} Filter1 (F is {n[0]}x{n[1]}, the output stays {n[0]}x{n[1]}). "
            f"Answer: padding {a['padding']}, feature map F':", lead="a)", keep_with_next=True))
        doc.add(Matrices([("F' = conv(F, Filter1), s = 1, p = " + str(a["padding"]), a["map"])]))
    answer_b = (f"yes, stride {b['stride']}" if b["possible"] else "no stride keeps the size")
    working = b["reason_math"][0].upper() + b["reason_math"][1:]
    doc.add(Paragraph(f"Filter2 is {K2.shape[0]}x{K2.shape[1]}, p = 1. The output side is "
                      f"$\\lfloor (n + 2p - k)/s \\rfloor + 1$, solved for each axis. {working}. Answer: {answer_b}.",
                      lead="b)", keep_with_next=b["possible"]))
    # at stride 1 a side of 3 keeps the size with one zero on each side; a side of 2 needs that one zero on one side
    if not b["possible"] and all(k in (2, 3) for k in K2.shape):
        doc.add(Paragraph("Padding 1 is read here as one row or column of zeros on every side. Padded on one side "
                          "only (as \"same\" padding does for an even filter), stride 1 would keep the size."))
    if b["possible"]:
        doc.add(Matrices([(f"conv(F, Filter2), s = {b['stride']}, p = 1", b["map"])]))
    if "map" not in c:
        doc.add(Paragraph(c["reason"] + ".", lead="c), d)"))
        return
    doc.add(Paragraph("Each output is the mean of a 2x2 block of F'; blocks do not overlap at stride 2.",
                      lead="c)", keep_with_next=True))
    doc.add(Matrices([("avgpool(F'), 2x2, s = 2", c["map"])]))
    doc.add(Paragraph(
        f"Average pooling is a convolution with a uniform kernel: on F', the 2x2 filter below with stride "
        f"{d['stride']} and padding {d['padding']} gives exactly the map of c). Because both steps are convolutions "
        f"(the same weights at every position), their composition is a single convolution of F itself: Filter1 "
        f"spread over the 2x2 window (the sum of its four shifts, divided by 4), with stride "
        f"{d['on_F']['stride']} and padding {d['on_F']['padding']}.", lead="d)",
        keep_with_next=True))
    doc.add(Matrices([(f"filter on F', s = {d['stride']}, p = {d['padding']}", d["filter"]),
                      (f"or: filter on F, s = {d['on_F']['stride']}, p = {d['on_F']['padding']}",
                       d["on_F"]["filter"])]))


def _add_problem(doc, problem, result):
    """Add one problem, starting it on a new page unless it fits whole in what is left of the page (or, for a
    problem longer than a page, unless at least 4 in, about 40 % of a page, is left)."""
    start = len(doc.blocks)
    problem(doc, result)
    height = sum(block.height() + block.space_after for block in doc.blocks[start:])
    doc.blocks.insert(start, PageBreak(room=height if height <= USABLE_H else 4.0))


def build(results, andrew_id=None):
    """The whole write-up as a Document; its Subject names the Fig. 5 values it answers, its Keywords the
    fingerprint of the sources it was made from. `andrew_id`: the student's, in the title and on every page."""
    fig5 = results["T4"]["fig5"]
    by = f", Andrew ID {andrew_id}" if andrew_id else ""
    doc = Document(f"24789 HW1 - theory part{by}", subject=cnn.fig5_subject(fig5["digest"]),
                   keywords=fingerprint.keywords(fingerprint.sources_digest(fig5["path"])))
    doc.add(Heading(f"24789 HW1: theory part{by}", 0))
    doc.add(Paragraph("Every number in this document is computed from the handout's equations and values "
                      "(Eq. 5, Fig. 3, Fig. 5), from the classic weights of Problem 2 (their source is given there) "
                      "and from the example of Problem 3, whose values are chosen here.", color="0.25"))
    problem1(doc, results["T1"])
    for problem, key in ((problem2, "T2"), (problem3, "T3"), (problem4, "T4")):
        _add_problem(doc, problem, results[key])
    return doc


def write_pdf(results, path, andrew_id=None):
    """Lay out and write the PDF with matplotlib's own defaults, not the user's matplotlibrc, so the same sources
    give the same bytes on every machine with this matplotlib version whose vector maths rounds alike (fingerprint)."""
    with matplotlib.style.context("default"):
        build(results, andrew_id).save(path)
