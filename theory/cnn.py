"""Problem 4: convolution and pooling arithmetic on the feature map and filters of Fig. 5.

"Convolution" means cross-correlation (no kernel flip), as CNN layers and torch.nn.functional.conv2d compute it.
conv2d and avg_pool2d take an int or a (rows, columns) pair for size, stride and padding; the part_* answers take
ints and work per axis, so F and the filters may be any rectangular shape.
"""
import hashlib
import json
import os
from fractions import Fraction

import numpy as np

# F, Filter1, Filter2 and a "source" field naming where the values come from (make zip prints it, to be compared
# with the student's own handout; the PDF says only that the values are the handout's Fig. 5).
FIG5_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fig5.json")
# Fig. 5 is a small drawing: its numbers are small and its matrices a few rows. The limits keep every answer a
# finite, printable number (1e308 squared is not) and the PDF's matrices on the page.
MAX_ABS_VALUE = 1e6
MAX_SIDE = 32


class Fig5Error(ValueError):
    """fig5.json is missing, unreadable or holds something other than three numeric matrices."""


def _pair(value, name):
    """(rows, columns) from an int or a pair of ints."""
    pair = (value, value) if np.isscalar(value) else tuple(value)
    if len(pair) != 2 or any(int(v) != v for v in pair):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return int(pair[0]), int(pair[1])


def output_size(n, k, stride=1, padding=0):
    """floor((n + 2p - k) / s) + 1: the number of kernel positions along one axis."""
    return (n + 2 * padding - k) // stride + 1


def conv2d(x, k, stride=1, padding=0):
    """One-channel 2-D cross-correlation of x with kernel k after zero padding."""
    x, k = np.asarray(x, np.float64), np.asarray(k, np.float64)
    (sr, sc), (pr, pc) = _pair(stride, "stride"), _pair(padding, "padding")
    if min(sr, sc) < 1 or min(pr, pc) < 0:
        raise ValueError(f"stride must be >= 1 and padding >= 0, got stride {stride}, padding {padding}")
    padded = np.pad(x, ((pr, pr), (pc, pc)))
    if padded.shape[0] < k.shape[0] or padded.shape[1] < k.shape[1]:
        raise ValueError(f"kernel {k.shape} is larger than the padded input {padded.shape}")
    windows = np.lib.stride_tricks.sliding_window_view(padded, k.shape)[::sr, ::sc]
    return np.einsum("ijkl,kl->ij", windows, k)


def avg_pool2d(x, size, stride=None):
    """Average pooling without padding; the window positions follow output_size, like torch (floor mode)."""
    rows, cols = _pair(size, "size")
    box = np.full((rows, cols), 1.0 / (rows * cols))
    return conv2d(x, box, stride=size if stride is None else stride)


def load_fig5(path=FIG5_PATH):
    """F, Filter1, Filter2 and their source from a Fig. 5 JSON file, each matrix checked to be numeric and
    rectangular; the source is optional ("" when absent)."""
    try:
        with open(path, encoding="utf-8-sig") as handle:   # -sig: a byte-order mark (Notepad's) is read past
            data = json.load(handle)
    except OSError as error:
        raise Fig5Error(f"cannot read {path}: {error.strerror}; restore theory/fig5.json, or pass a readable file "
                        "with --fig5") from None
    except json.JSONDecodeError as error:
        raise Fig5Error(f"{path}, line {error.lineno}: not valid JSON ({error.msg}); fix the file") from None
    except UnicodeDecodeError:
        raise Fig5Error(f"{path}: not UTF-8 text; save it as plain JSON") from None
    except ValueError as error:   # an integer of more digits than Python converts (4300)
        raise Fig5Error(f"{path}: not usable JSON ({error}); fix the file") from None
    if not isinstance(data, dict):
        raise Fig5Error(f"{path}: expected an object with keys F, Filter1, Filter2")
    matrices = {key: _matrix_from_rows(data, key, path) for key in ("F", "Filter1", "Filter2")}
    source = data.get("source", "")
    if not isinstance(source, str):
        raise Fig5Error(f"{path}: 'source' must be text naming where the values come from")
    matrices["source"] = " ".join(source.split())
    matrices["path"] = path
    matrices["digest"] = fig5_digest(matrices)
    return matrices


def fig5_digest(fig5):
    """A short fingerprint of the three matrices: the theory PDF records it, so a hand-in check can tell whether
    the PDF answers the values fig5.json holds now (dates alone cannot: a checkout or a copy changes them)."""
    values = {key: np.asarray(fig5[key], np.float64).tolist() for key in ("F", "Filter1", "Filter2")}
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]


def fig5_subject(digest):
    """The theory PDF's Subject: the fingerprint of the Fig. 5 values it answers (tools/bundle.py reads it)."""
    return f"Fig. 5 values {digest}"


def _matrix_from_rows(data, key, path):
    """data[key] as a float matrix: a non-empty list of equal-length rows of finite numbers of sane size."""
    if key not in data:
        raise Fig5Error(f"{path}: key {key!r} is missing; add it as a list of rows of numbers")
    rows = data[key]
    if (not isinstance(rows, list) or not rows or not all(isinstance(r, list) and r for r in rows)
            or len({len(r) for r in rows}) != 1):
        raise Fig5Error(f"{path}: {key!r} must be a non-empty list of rows of equal length")
    if len(rows) > MAX_SIDE or len(rows[0]) > MAX_SIDE:
        raise Fig5Error(f"{path}: {key!r} is {len(rows)}x{len(rows[0])}; Fig. 5's matrices have at most "
                        f"{MAX_SIDE} rows and columns")
    for i, row in enumerate(rows):
        for value in row:
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise Fig5Error(f"{path}: {key!r} row {i + 1} holds {value!r}, which is not a number")
            # abs(), not math.isfinite, which cannot convert a huge JSON integer; "not <=" refuses NaN too (json.load
            # reads NaN and Infinity)
            if not abs(value) <= MAX_ABS_VALUE:
                raise Fig5Error(f"{path}: {key!r} row {i + 1} holds {value!r}; Fig. 5's values are finite numbers of "
                                f"magnitude at most {MAX_ABS_VALUE:g}")
    return np.array(rows, dtype=np.float64)


def same_size_padding(k):
    """The padding p with n + 2p - k + 1 = n at stride 1, i.e. p = (k - 1) / 2 whatever n, or None when k is even."""
    return (k - 1) // 2 if k % 2 == 1 else None


def strides_keeping_size(n, k, padding):
    """The strides s in 1 .. n + 2p - k + 1 with floor((n + 2p - k) / s) + 1 = n, smallest first; a larger stride
    gives size 1 like the last one, so it adds nothing new."""
    span = n + 2 * padding - k
    if span < 0:
        return []
    return [s for s in range(1, span + 2) if output_size(n, k, s, padding) == n]


def _why_no_stride(n, k, padding, math=False):
    """Why no stride keeps size n along one axis: the sizes the formula gives, stride by stride. Plain text for
    the JSON answers and the text output, or with math=True the same sentence with mathtext for the PDF."""
    largest = n + 2 * padding - k + 1
    if largest < 1:
        if math:
            return f"the filter does not fit in the padded map at all: $n + 2p = {n + 2 * padding} < k = {k}$"
        return f"the filter does not fit in the padded map at all: n + 2p = {n + 2 * padding} < k = {k}"
    if largest < n:
        if math:
            return (f"even stride 1 gives only $n + 2p - k + 1 = {n} + {2 * padding} - {k} + 1 = {largest} < {n}$, "
                    "and a larger stride never gives more")
        return (f"even stride 1 gives only n + 2p - k + 1 = {n} + {2 * padding} - {k} + 1 = {largest} < {n}, "
                "and a larger stride never gives more")
    # Size n needs floor(span / s) = n - 1, i.e. span / n < s <= span / (n - 1); n >= 2 here, since for n = 1
    # the stride span + 1 would do.
    span = n + 2 * padding - k
    sizes, s = [], 1
    while not sizes or sizes[-1] > n:
        sizes.append(output_size(n, k, s, padding))
        s += 1
    if math:
        listed = ", ".join(f"stride {i} gives {size}" for i, size in enumerate(sizes, start=1))
        return (f"size {n} needs $\\lfloor ({n} + 2\\cdot {padding} - {k})/s \\rfloor = {n - 1}$, i.e. "
                f"${Fraction(span, n)} < s \\leq {Fraction(span, n - 1)}$, which no integer stride satisfies: "
                f"{listed}")
    listed = ", ".join(f"s = {i} gives {size}" for i, size in enumerate(sizes, start=1))
    return (f"size {n} needs floor(({n} + 2*{padding} - {k})/s) = {n - 1}, i.e. {span}/{n} < s <= {span}/{n - 1} "
            f"({span / n:.4g} < s <= {span / (n - 1):.4g}), which no integer stride satisfies: {listed}")


def _b_reason(shape, filter_shape, padding, options, math=False):
    """b)'s working per axis: the size formula at the stride found, or why no stride keeps the size (plain
    text, or mathtext with math=True)."""
    if all(options):
        if math:
            return "; ".join(f"{axis}: $\\lfloor ({n} + 2\\cdot {padding} - {k})/{found[0]} \\rfloor + 1 = {n}$"
                             for axis, n, k, found in zip(("rows", "columns"), shape, filter_shape, options))
        return "; ".join(f"{axis}: floor(({n} + 2*{padding} - {k})/{found[0]}) + 1 = {n}"
                         for axis, n, k, found in zip(("rows", "columns"), shape, filter_shape, options))
    reasons = {}
    for axis, n, k, found in zip(("rows", "columns"), shape, filter_shape, options):
        if not found:
            reasons.setdefault(_why_no_stride(n, k, padding, math), []).append(axis)
    return "; ".join(" and ".join(axes) + ": " + why for why, axes in reasons.items())


def _scalar_or_pair(pair):
    return pair[0] if pair[0] == pair[1] else list(pair)


def part_a(F, filter1):
    """Padding that keeps F's size with Filter1 at stride 1, and the map it gives."""
    pads = [same_size_padding(k) for k in filter1.shape]
    if None in pads:
        return {"padding": None, "map": None,
                "reason": f"Filter1 is {filter1.shape[0]}x{filter1.shape[1]}: n + 2p - k + 1 = n needs "
                          "p = (k - 1)/2, not an integer for an even k, so no symmetric zero padding keeps the size"}
    return {"padding": _scalar_or_pair(pads), "map": conv2d(F, filter1, 1, tuple(pads))}


def part_b(F, filter2, padding=1):
    """Whether some stride keeps F's size with Filter2 and the given padding; the smallest such stride per axis.
    The reason comes twice: plain ("reason", for the JSON answers) and in mathtext ("reason_math", for the PDF)."""
    options = [strides_keeping_size(n, k, padding) for n, k in zip(F.shape, filter2.shape)]
    reasons = {"reason": _b_reason(F.shape, filter2.shape, padding, options),
               "reason_math": _b_reason(F.shape, filter2.shape, padding, options, math=True)}
    if all(options):
        stride = (options[0][0], options[1][0])
        return {"possible": True, "stride": _scalar_or_pair(stride), "map": conv2d(F, filter2, stride, padding),
                **reasons}
    return {"possible": False, "stride": None, "map": None, **reasons}


def part_c(feature_map, size=2, stride=2):
    """size x size average pooling with the given stride."""
    return {"map": avg_pool2d(feature_map, size, stride), "size": size, "stride": stride}


def part_d(F, filter1, padding_a, size=2, stride=2):
    """A convolution that reproduces c): on a)'s map, the uniform 1/size^2 filter at stride = pool stride.

    Because both steps are linear, c) is also one convolution of F itself: Filter1 spread over the pooling
    window, a kernel of (rows + size - 1) x (columns + size - 1), with pool stride and a)'s padding; both are
    returned and checked.
    """
    box = np.full((size, size), 1.0 / (size * size))
    merged = np.zeros((filter1.shape[0] + size - 1, filter1.shape[1] + size - 1))
    for i in range(size):
        for j in range(size):
            merged[i:i + filter1.shape[0], j:j + filter1.shape[1]] += filter1 / (size * size)
    return {"filter": box, "stride": stride, "padding": 0, "input": "the map of a)",
            "on_F": {"filter": merged, "stride": stride, "padding": padding_a}}


def solve(path=FIG5_PATH):
    """Every Problem 4 answer from the Fig. 5 file, with c) reproduced by both convolutions of d)."""
    fig5 = load_fig5(path)
    F, filter1, filter2 = fig5["F"], fig5["Filter1"], fig5["Filter2"]
    a = part_a(F, filter1)
    b = part_b(F, filter2)
    result = {"fig5": fig5, "a": a, "b": b, "c": None, "d": None}
    if a["map"] is None:
        result["c"] = result["d"] = {"reason": "c) and d) pool the map of a), which does not exist: " + a["reason"]}
        return result
    if a["map"].shape[0] < 2 or a["map"].shape[1] < 2:
        result["c"] = result["d"] = {"reason": f"the map of a) is {a['map'].shape[0]}x{a['map'].shape[1]}, smaller "
                                               "than the 2x2 pooling window"}
        return result
    c = part_c(a["map"])
    d = part_d(F, filter1, a["padding"], c["size"], c["stride"])
    d["check"] = conv2d(a["map"], d["filter"], d["stride"], d["padding"])
    d["on_F"]["check"] = conv2d(F, d["on_F"]["filter"], d["on_F"]["stride"], d["on_F"]["padding"])
    d["matches"] = bool(np.allclose(d["check"], c["map"]) and np.allclose(d["on_F"]["check"], c["map"]))
    result["c"], result["d"] = c, d
    return result


def _matrix(value):
    return None if value is None else np.asarray(value).tolist()


def to_json(result):
    """T4 with the key names of the JSON answers (plus the reasons, and d)'s one-step alternative on F)."""
    a, b, c, d = result["a"], result["b"], result["c"], result["d"]
    out = {"a": {"padding": a["padding"], "map": _matrix(a["map"])},
           "b": {"possible": b["possible"], "stride": b["stride"], "map": _matrix(b["map"]), "reason": b["reason"]}}
    if "reason" in a:
        out["a"]["reason"] = a["reason"]
    if "map" not in c:
        out["c"] = {"map": None, "reason": c["reason"]}
        out["d"] = {"filter": None, "stride": None, "padding": None, "reason": d["reason"]}
        return out
    out["c"] = {"map": _matrix(c["map"])}
    out["d"] = {"filter": _matrix(d["filter"]), "stride": d["stride"], "padding": d["padding"],
                "input": d["input"],
                "on_F": {"filter": _matrix(d["on_F"]["filter"]), "stride": d["on_F"]["stride"],
                         "padding": d["on_F"]["padding"]}}
    return out
