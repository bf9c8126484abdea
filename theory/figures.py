"""The write-up's figures: each is a draw(fig, rect) callback for theory.pdf.FigureBlock that draws into
rect = [left, bottom, width, height] of an A4 page (figure fractions)."""
import numpy as np
from matplotlib.patches import Circle, FancyBboxPatch

from theory import gelu_gd, logic_gates

COLORS = {"gd": "tab:blue", "momentum": "tab:red", "momentum_lagged": "tab:orange", "a": "tab:green",
          "b": "tab:purple"}


def split_rect(rect, rows, cols, gap_x=0.09, gap_y=0.12, left=0.07, bottom=0.1, top=0.06):
    """Sub-rectangles (figure fractions) of a block's rect, row-major, leaving room for titles and tick labels."""
    x0, y0, w, h = rect
    x0, y0, w, h = x0 + left * w, y0 + bottom * h, w * (1 - left), h * (1 - bottom - top)
    cell_w, cell_h = (w - gap_x * w * (cols - 1)) / cols, (h - gap_y * h * (rows - 1)) / rows
    return [[x0 + c * (cell_w + gap_x * w), y0 + (rows - 1 - r) * (cell_h + gap_y * h), cell_w, cell_h]
            for r in range(rows) for c in range(cols)]


def axes_style(ax, title):
    ax.set_title(title, fontsize=8.5)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3, linewidth=0.5)


def gelu_runs(r):
    """Problem 1: a), b) on the curve; c) x_t, the trajectories on GELU and the loss gap, over the long run."""
    x_star, f_star = r["minimum"]["x"], r["minimum"]["gelu"]
    long = r["long"]
    steps = np.arange(len(long["gd"]))

    def draw(fig, rect):
        cells = split_rect(rect, 2, 2, gap_x=0.13, gap_y=0.2)  # room for the long label at right
        ax = fig.add_axes(cells[0])
        grid = np.linspace(-1.2, 0.3, 300)
        ax.plot(grid, gelu_gd.gelu(grid), color="0.4", linewidth=1)
        for key, label in (("a", r"a) $\eta=0.1$"), ("b", r"b) $\eta=1$")):
            ax.plot(r[key], gelu_gd.gelu(r[key]), "o-", color=COLORS[key], markersize=3.5, linewidth=0.8, label=label)
        ax.plot([x_star], [f_star], "k*", markersize=8, label="minimum")
        ax.set_xlabel("x", fontsize=7.5)
        ax.set_ylabel("GELU(x)", fontsize=7.5)
        ax.legend(fontsize=7)
        axes_style(ax, r"a), b): $x_0 = 0$, three steps on GELU")

        runs = (("gd", "GD"), ("momentum", "momentum"), ("momentum_lagged", r"momentum, $v_t$ reading"))
        ax = fig.add_axes(cells[1])
        for key, label in runs:
            ax.plot(steps, long[key], color=COLORS[key], linewidth=1, label=label)
        ax.axhline(x_star, color="k", linestyle=":", linewidth=0.8, label="$x^*$, the minimum")
        ax.set_xlabel("step t", fontsize=7.5)
        ax.set_ylabel("$x_t$", fontsize=7.5)
        ax.legend(fontsize=6.5)
        axes_style(ax, r"c) $x_0 = -3$, $\eta = 0.1$: $x_t$ vs step")

        ax = fig.add_axes(cells[2])
        grid = np.linspace(-3.2, 0.4, 400)
        ax.plot(grid, gelu_gd.gelu(grid), color="0.4", linewidth=1)
        for (key, label), style in zip(runs[:2], (dict(marker="o", markersize=5, markerfacecolor="none"),
                                                  dict(marker=".", markersize=4))):
            xs = long[key][::20]
            ax.plot(xs, gelu_gd.gelu(xs), linestyle="none", color=COLORS[key], label=label + ", every 20th step",
                    **style)
        ax.plot([x_star], [f_star], "k*", markersize=8)
        ax.set_xlabel("x", fontsize=7.5)
        ax.set_ylabel("GELU(x)", fontsize=7.5)
        ax.legend(fontsize=6.5, loc="upper right")
        axes_style(ax, "c) trajectories on the GELU curve")

        ax = fig.add_axes(cells[3])
        for key, label in runs:
            # Below ~1e-16 float64 cannot resolve the difference of GELU values near -0.16, so the plot stops there.
            ax.semilogy(steps, np.maximum(gelu_gd.gelu(long[key]) - f_star, 1e-16), color=COLORS[key],
                        linewidth=1, label=label)
        ax.set_ylim(1e-16, 1)
        ax.set_xlabel("step t", fontsize=7.5)
        ax.set_ylabel(r"$\mathrm{GELU}(x_t) - \mathrm{GELU}(x^*)$", fontsize=7.5)
        ax.legend(fontsize=6.5)
        axes_style(ax, "c) loss above the minimum vs step")
    return draw


def gate_regions(r):
    """Problem 2: each gate's class-1 region in the input plane, with its first-layer boundaries."""
    def draw(fig, rect):
        names = list(r["networks"])
        cells = split_rect(rect, 1, len(names), gap_x=0.06, left=0.04, bottom=0.16)
        grid = np.linspace(-0.4, 1.4, 181)
        A, B = np.meshgrid(grid, grid)
        points = np.column_stack([A.ravel(), B.ravel()])
        rows = logic_gates.truth_table_rows()
        for cell, name in zip(cells, names):
            ax = fig.add_axes(cell)
            network = r["networks"][name]
            region = logic_gates.classify(network, points).reshape(A.shape)
            ax.contourf(A, B, region, levels=[-0.5, 0.5, 1.5], colors=["#f3f3f3", "#cfe3f7"])
            first = network[0]
            for j in range(len(first["b"])):
                w1, w2, b0 = first["W"][0][j], first["W"][1][j], first["b"][j]
                ax.plot(grid, -(w1 * grid + b0) / w2, "--", color="0.35", linewidth=0.8)
            classes = logic_gates.classify(network, rows)
            for (a, bb), c in zip(rows, classes):
                ax.plot(a, bb, "o", markersize=7, markeredgecolor="k",
                        markerfacecolor="tab:blue" if c else "white")
            ax.set_xlim(-0.4, 1.4)
            ax.set_ylim(-0.4, 1.4)
            ax.set_aspect("equal")
            ax.set_xticks([0, 1])
            ax.set_yticks([0, 1])
            ax.set_xlabel("A", fontsize=7.5)
            ax.set_ylabel("B", fontsize=7.5, labelpad=1)
            axes_style(ax, name)
    return draw


def backprop_chain(fig, rect):
    """Problem 3: the forward and backward chain with the shape of every node."""
    ax = fig.add_axes(rect)
    ax.set_xlim(0, 12)
    ax.set_ylim(0.5, 2.7)
    ax.axis("off")
    nodes = [("$x$", "1 × d"), ("$f_1$", "1 × h"), ("$a$", "1 × h"), ("$f_2$", "1 × K"), ("$o$", "1 × K"),
             ("$E$", "1 × 1")]
    forward = [r"$\cdot W_1 + b_1$" + "\n(d × h)", r"$\sigma$", r"$\cdot W_2 + b_2$" + "\n(h × K)",
               "softmax", "CE with $y$"]
    backward = [r"$\partial E/\partial f_1\; W_1^T$", r"$\partial E/\partial a \odot a \odot (1-a)$",
                r"$(o-y)\, W_2^T$", "$o - y$", r"$-y/o$"]
    xs = np.linspace(0.6, 11.4, len(nodes))
    for x, (name, shape) in zip(xs, nodes):
        ax.add_patch(FancyBboxPatch((x - 0.45, 1.15), 0.9, 0.7, boxstyle="round,pad=0.05", facecolor="#e8f0fa",
                                    edgecolor="0.3"))
        ax.text(x, 1.62, name, ha="center", va="center", fontsize=10)
        ax.text(x, 1.3, shape, ha="center", va="center", fontsize=6.5)
    for i in range(len(nodes) - 1):
        ax.annotate("", xy=(xs[i + 1] - 0.52, 1.72), xytext=(xs[i] + 0.52, 1.72),
                    arrowprops=dict(arrowstyle="->", color="tab:blue"))
        ax.text((xs[i] + xs[i + 1]) / 2, 2.05, forward[i], ha="center", va="bottom", fontsize=7, color="tab:blue")
        ax.annotate("", xy=(xs[i] + 0.52, 1.28), xytext=(xs[i + 1] - 0.52, 1.28),
                    arrowprops=dict(arrowstyle="->", color="tab:red"))
        ax.text((xs[i] + xs[i + 1]) / 2, 0.95, backward[i], ha="center", va="top", fontsize=7.5, color="tab:red")


def _node(ax, x, y, text, fill, size=7.5):
    ax.add_patch(Circle((x, y), 0.17, facecolor=fill, edgecolor="0.2", linewidth=0.8, zorder=3))
    ax.text(x, y, text, ha="center", va="center", fontsize=size, zorder=4)


def draw_network(ax, network, inputs, title):
    """One network in the style of the handout's Fig. 3: input nodes, sigmoid neurons with their bias written
    beside them (above the upper neurons, below the others), each weight on its edge, and the output thresholded
    at 0.5."""
    layers = [len(inputs)] + [len(layer["b"]) for layer in network]
    gap = 1.25  # between layers; room for a weight label between a node and the point where edges cross
    positions = [[(gap * k, (n - 1) / 2 - i) for i in range(n)] for k, n in enumerate(layers)]
    for k, layer in enumerate(network):
        W = np.asarray(layer["W"])
        for i, (x0, y0) in enumerate(positions[k]):
            for j, (x1, y1) in enumerate(positions[k + 1]):
                ax.plot([x0, x1], [y0, y1], color="0.35", linewidth=0.8, zorder=1)
                t = 0.3  # weight labels sit near the source node, where crossing edges are still apart
                # signed, with a true minus, and padded clear of the edge: a line touching "20" reads as "-20"
                ax.text(x0 + t * (x1 - x0), y0 + t * (y1 - y0), f"{W[i, j]:+g}".replace("-", "\u2212"),
                        ha="center", va="center", fontsize=6.5, color="tab:blue", zorder=2,
                        bbox=dict(boxstyle="round,pad=0.25", facecolor="white", edgecolor="none"))
        for j, (x, y) in enumerate(positions[k + 1]):
            _node(ax, x, y, r"$\sigma$", "#e8f0fa")
            # Upper neurons carry their bias above, the others below: clear of the edges that cross between layers.
            above = y > 0
            ax.text(x, y + (0.22 if above else -0.22), f"b = {layer['b'][j]:+g}".replace("-", "\u2212"), ha="center",
                    va="bottom" if above else "top", fontsize=6.5, color="tab:red")
    for (x, y), name in zip(positions[0], inputs):
        _node(ax, x, y, name, "#f3f3f3")
    x, y = positions[-1][0]
    ax.annotate("", xy=(x + 0.55, y), xytext=(x + 0.19, y), arrowprops=dict(arrowstyle="->", color="0.35"))
    ax.text(x + 0.58, y, r"$\geq 0.5 \Rightarrow 1$", ha="left", va="center", fontsize=6.5)
    ax.set_xlim(-0.35, x + 1.3)
    ax.set_ylim(-0.95, 0.95)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=8.5)


def gate_networks(r):
    """Problem 2: every network drawn as nodes and edges; one-neuron gates on top, two-layer gates below."""
    def draw(fig, rect):
        x0, y0, w, h = rect
        top = [x0, y0 + h / 2, w, h / 2]
        bottom = [x0, y0, w, h / 2]
        small = [("AND", r["networks"]["AND"], ["A", "B"]), ("OR", r["networks"]["OR"], ["A", "B"]),
                 ("NOT", r["not"]["network"], ["A"])]
        for cell, (name, network, inputs) in zip(split_rect(top, 1, 3, left=0.0, bottom=0.0, top=0.12), small):
            draw_network(fig.add_axes(cell), network, inputs, name)
        for cell, name in zip(split_rect(bottom, 1, 2, left=0.0, bottom=0.0, top=0.12), ("XOR", "XNOR")):
            draw_network(fig.add_axes(cell), r["networks"][name], ["A", "B"], name)
    return draw
