"""Problem 4: conv2d / avg_pool2d against torch.nn.functional, the size formula, and every answer on small files."""
import json

import numpy as np
import pytest

from theory import cnn

torch = pytest.importorskip("torch")   # the reference for every answer here
F = torch.nn.functional


def torch_conv(x, k, stride, padding):
    out = F.conv2d(torch.tensor(x)[None, None], torch.tensor(k)[None, None], stride=stride, padding=padding)
    return out[0, 0].numpy()


def test_conv2d_matches_torch_on_random_cases():
    rng = np.random.default_rng(0)
    for _ in range(60):
        kr, kc = rng.integers(1, 5, size=2)
        pr, pc = rng.integers(0, 3, size=2)
        sr, sc = rng.integers(1, 4, size=2)
        xr, xc = kr + rng.integers(0, 7), kc + rng.integers(0, 7)
        x, k = rng.normal(size=(xr, xc)), rng.normal(size=(kr, kc))
        ours = cnn.conv2d(x, k, stride=(sr, sc), padding=(pr, pc))
        theirs = torch_conv(x, k, (int(sr), int(sc)), (int(pr), int(pc)))
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
        assert ours.shape == (cnn.output_size(xr, kr, sr, pr), cnn.output_size(xc, kc, sc, pc))


def test_conv2d_square_int_arguments():
    rng = np.random.default_rng(1)
    x, k = rng.normal(size=(7, 7)), rng.normal(size=(3, 3))
    np.testing.assert_allclose(cnn.conv2d(x, k, 2, 1), torch_conv(x, k, 2, 1), atol=1e-12)


def test_avg_pool2d_matches_torch():
    rng = np.random.default_rng(2)
    for _ in range(30):
        size, stride = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        x = rng.normal(size=(size + int(rng.integers(0, 6)), size + int(rng.integers(0, 6))))
        theirs = F.avg_pool2d(torch.tensor(x)[None, None], size, stride)[0, 0].numpy()
        np.testing.assert_allclose(cnn.avg_pool2d(x, size, stride), theirs, atol=1e-12)


def test_conv2d_rejects_a_kernel_larger_than_the_input():
    with pytest.raises(ValueError, match="larger than the padded input"):
        cnn.conv2d(np.zeros((2, 2)), np.zeros((3, 3)))


@pytest.mark.parametrize("kwargs, message", [
    (dict(stride=0), "stride must be >= 1 and padding >= 0, got stride 0"),
    (dict(padding=(0, -1)), "stride must be >= 1 and padding >= 0, got stride 1, padding \\(0, -1\\)"),
    (dict(stride=1.5), "stride must be an int or a pair of ints, got 1.5"),
    (dict(padding=(1, 2, 3)), "padding must be an int or a pair of ints"),
])
def test_conv2d_refuses_bad_strides_and_padding(kwargs, message):
    with pytest.raises(ValueError, match=message):
        cnn.conv2d(np.zeros((4, 4)), np.ones((2, 2)), **kwargs)


def test_strides_keeping_size_agrees_with_brute_force():
    # Strides past n + 2p - k + 1 all give size 1, the same as that one, so the search stops there.
    for n in range(1, 9):
        for k in range(1, 6):
            for p in range(0, 3):
                if n + 2 * p < k:
                    continue
                brute = [s for s in range(1, n + 2 * p - k + 2)
                         if torch_conv(np.zeros((n, n)), np.zeros((k, k)), s, p).shape[0] == n]
                assert cnn.strides_keeping_size(n, k, p) == brute, (n, k, p)


def write_fig5(tmp_path, F_, K1, K2, source="my handout"):
    path = tmp_path / "fig5.json"
    path.write_text(json.dumps({"source": source, "F": F_, "Filter1": K1, "Filter2": K2}))
    return str(path)


# Fig. 5 as the course's Spring 2020 handout prints it (its Problem 4 text is the same word for word).
HANDOUT_F = [[3, 5, 2, 3], [9, 1, 8, 4], [6, 4, 3, 7], [7, 0, 2, 4]]
HANDOUT_FILTER1 = [[-1, 0.5, -2], [2, 0, 1], [0, 1, 1.5]]
HANDOUT_FILTER2 = [[-1, 0.5], [2, 0]]


def test_shipped_values_are_the_handouts_with_their_source():
    fig5 = cnn.load_fig5()
    for key, values in (("F", HANDOUT_F), ("Filter1", HANDOUT_FILTER1), ("Filter2", HANDOUT_FILTER2)):
        np.testing.assert_array_equal(fig5[key], values)
    assert "Spring 2020" in fig5["source"] and "Fig. 5" in fig5["source"]


def test_shipped_answers():
    result = cnn.solve()
    t4 = cnn.to_json(result)
    fig5 = result["fig5"]
    assert t4["a"]["padding"] == 1
    # F' worked by hand at one corner: the padded window [[0,0,0],[0,3,5],[0,9,1]] meets 1*5 + 1*9 + 1.5*1.
    assert t4["a"]["map"][0][0] == 15.5
    np.testing.assert_allclose(t4["a"]["map"], torch_conv(fig5["F"], fig5["Filter1"], 1, 1))
    assert t4["c"]["map"] == [[17.75, 16.75], [2.0, 3.5]]
    # b): floor(4/s) + 1 = 4 needs 1 < s <= 4/3; s = 1 gives 5 and s = 2 gives 3.
    assert t4["b"]["possible"] is False and t4["b"]["stride"] is None
    assert "(1 < s <= 1.333)" in t4["b"]["reason"] and "s = 1 gives 5, s = 2 gives 3" in t4["b"]["reason"]
    for s in range(1, 8):
        assert torch_conv(fig5["F"], fig5["Filter2"], s, 1).shape != (4, 4)
    pooled = F.avg_pool2d(torch.tensor(t4["a"]["map"])[None, None], 2, 2)[0, 0].numpy()
    np.testing.assert_allclose(t4["c"]["map"], pooled)
    np.testing.assert_allclose(torch_conv(np.array(t4["a"]["map"]), np.array(t4["d"]["filter"]), t4["d"]["stride"],
                                          t4["d"]["padding"]), pooled)
    on_f = t4["d"]["on_F"]
    np.testing.assert_allclose(torch_conv(fig5["F"], np.array(on_f["filter"]), on_f["stride"], on_f["padding"]),
                               pooled, atol=1e-12)


def test_b_possible_case(tmp_path):
    rng = np.random.default_rng(3)
    F_ = rng.integers(-3, 4, size=(5, 5)).tolist()
    K1 = rng.integers(-1, 2, size=(3, 3)).tolist()
    K2 = rng.integers(-1, 2, size=(3, 3)).tolist()
    result = cnn.solve(write_fig5(tmp_path, F_, K1, K2))
    assert result["fig5"]["source"] == "my handout"
    b = cnn.to_json(result)["b"]
    assert b["possible"] is True and b["stride"] == 1
    np.testing.assert_allclose(b["map"], torch_conv(np.array(F_, float), np.array(K2, float), 1, 1))


def test_any_sizes_rectangular_and_larger_filters(tmp_path):
    rng = np.random.default_rng(4)
    F_ = rng.integers(0, 9, size=(7, 6)).tolist()
    K1 = rng.integers(-2, 3, size=(5, 3)).tolist()
    K2 = rng.integers(-2, 3, size=(2, 4)).tolist()
    t4 = cnn.to_json(cnn.solve(write_fig5(tmp_path, F_, K1, K2)))
    assert t4["a"]["padding"] == [2, 1]
    assert np.shape(t4["a"]["map"]) == (7, 6)
    pooled = F.avg_pool2d(torch.tensor(t4["a"]["map"])[None, None], 2, 2)[0, 0].numpy()
    np.testing.assert_allclose(t4["c"]["map"], pooled)
    on_f = t4["d"]["on_F"]
    np.testing.assert_allclose(torch_conv(np.array(F_, float), np.array(on_f["filter"]), on_f["stride"],
                                          tuple(on_f["padding"])), pooled, atol=1e-12)


def test_even_filter1_has_no_same_padding(tmp_path):
    t4 = cnn.to_json(cnn.solve(write_fig5(tmp_path, [[1, 2, 3]] * 3, [[1, 0], [0, 1]], [[1]])))
    assert t4["a"]["padding"] is None and "even" in t4["a"]["reason"]
    assert t4["c"]["map"] is None and t4["d"]["filter"] is None


@pytest.mark.parametrize("content,message", [
    ("{not json", "not valid JSON"),
    (json.dumps({"F": [[1]], "Filter1": [[1]]}), "'Filter2' is missing"),
    (json.dumps({"F": [[1, 2], [3]], "Filter1": [[1]], "Filter2": [[1]]}), "rows of equal length"),
    (json.dumps({"F": [[1, "a"]], "Filter1": [[1]], "Filter2": [[1]]}), "row 1 holds 'a', which is not a number"),
    (json.dumps([1, 2]), "expected an object"),
    (json.dumps({"source": 5, "F": [[1]], "Filter1": [[1]], "Filter2": [[1]]}), "'source' must be text"),
    (json.dumps({"F": [[0] * 33], "Filter1": [[1]], "Filter2": [[1]]}),
     "'F' is 1x33; Fig. 5's matrices have at most 32 rows"),
    (b'{"F": [[1]], "source": "\xff"}', "not UTF-8 text; save it as plain JSON"),
    ('{"F": [[' + "9" * 5000 + "]]}", "not usable JSON"),   # more digits than Python converts to an int
])
def test_bad_fig5_files_raise_a_clear_error(tmp_path, content, message):
    path = tmp_path / "fig5.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(cnn.Fig5Error, match=message) as info:
        cnn.load_fig5(str(path))
    assert str(path) in str(info.value)


def test_a_byte_order_mark_is_read_past(tmp_path):
    path = tmp_path / "fig5.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"F": [[1]], "Filter1": [[1]], "Filter2": [[2]]}).encode())
    assert cnn.load_fig5(str(path))["Filter2"].tolist() == [[2.0]]


def test_the_source_is_optional(tmp_path):
    path = tmp_path / "fig5.json"
    path.write_text(json.dumps({"F": [[1]], "Filter1": [[1]], "Filter2": [[1]]}))
    assert cnn.load_fig5(str(path))["source"] == ""


def test_missing_fig5_file(tmp_path):
    with pytest.raises(cnn.Fig5Error, match="cannot read"):
        cnn.load_fig5(str(tmp_path / "nope.json"))


def test_tiny_map_explains_instead_of_failing(tmp_path):
    t4 = cnn.to_json(cnn.solve(write_fig5(tmp_path, [[5]], [[1, 2, 3]] * 3, [[1] * 4] * 4)))
    assert t4["a"] == {"padding": 1, "map": [[10.0]]}  # only the centre weight 2 meets the value 5
    assert t4["b"]["possible"] is False and "does not fit" in t4["b"]["reason"]
    assert t4["c"]["map"] is None and "smaller than the 2x2" in t4["c"]["reason"]


def test_b_reason_states_the_floor_equation_and_its_bounds():
    reason = cnn.solve()["b"]["reason"]
    assert "floor((4 + 2*1 - 2)/s) = 3, i.e. 4/4 < s <= 4/3 (1 < s <= 1.333)" in reason


def test_a_one_row_map_explains_the_pooling_instead_of_failing(tmp_path):
    path = tmp_path / "fig5.json"
    path.write_text(json.dumps({"F": [[1, 2, 3]], "Filter1": [[1]], "Filter2": [[1]]}))
    t4 = cnn.to_json(cnn.solve(str(path)))
    assert t4["c"]["map"] is None and "smaller than the 2x2 pooling window" in t4["c"]["reason"]


def test_fig5_refuses_booleans_and_accepts_the_largest_allowed_value(tmp_path):
    path = tmp_path / "fig5.json"
    path.write_text('{"F": [[1, true]], "Filter1": [[1]], "Filter2": [[1]]}')
    with pytest.raises(cnn.Fig5Error, match="holds True, which is not a number"):
        cnn.load_fig5(str(path))
    path.write_text('{"F": [[1, 1000000]], "Filter1": [[1]], "Filter2": [[-1e6]]}')
    assert cnn.load_fig5(str(path))["F"].tolist() == [[1.0, 1e6]]


def test_fig5_source_is_one_line_of_single_spaces(tmp_path):
    path = tmp_path / "fig5.json"
    source = " Fig. 5 of\n  my   handout "
    path.write_text(json.dumps({"source": source, "F": [[1]], "Filter1": [[1]], "Filter2": [[1]]}))
    assert cnn.load_fig5(str(path))["source"] == "Fig. 5 of my handout"


def test_avg_pool2d_default_stride_is_the_window():
    x = np.arange(16.0).reshape(4, 4)
    np.testing.assert_allclose(cnn.avg_pool2d(x, 2), [[2.5, 4.5], [10.5, 12.5]])
