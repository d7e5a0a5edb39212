import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from surrogate import convert
from surrogate.errors import NasscoutError
from surrogate.spaces.nb201 import N_CELLS, OPS, Arch, NB201Space

space = NB201Space()
indices = st.integers(0, N_CELLS - 1)
EXAMPLE = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"


@given(indices)
def test_naslib_round_trip(i):
    t = convert.arch_to_naslib(i)
    assert convert.naslib_to_index(t) == i
    assert convert.naslib_to_arch(t) == space.from_index(i)
    assert convert.naslib_to_index(str(t)) == i  # NASLib's JSON files key cells by str(tuple)


@given(st.lists(indices, min_size=1, max_size=30))
def test_naslib_vectorised_matches_scalar(xs):
    idx = np.array(xs, dtype=np.int64)
    arr = convert.indices_to_naslib(idx)
    assert [tuple(r) for r in arr.tolist()] == [convert.arch_to_naslib(i) for i in xs]
    assert np.array_equal(convert.naslib_to_indices(arr), idx)


def test_naslib_example_from_source_md():
    # index 0 of the merged table has naslib_tuple (4, 3, 3, 0, 0, 0)
    assert convert.arch_to_naslib(EXAMPLE) == (4, 3, 3, 0, 0, 0)
    assert convert.naslib_to_index("(4, 3, 3, 0, 0, 0)") == 0


def test_naslib_matches_data_for_every_cell(merged):
    want = np.array([[int(v) for v in t.strip("()").split(",")] for t in merged["naslib_tuple"]])
    idx = merged["index"].to_numpy()
    assert np.array_equal(convert.indices_to_naslib(idx), want)
    assert np.array_equal(convert.naslib_to_indices(want), idx)


@given(indices)
def test_syne_tune_round_trip(i):
    config = convert.arch_to_syne_tune(i)
    assert list(config) == [f"hp_x{k}" for k in range(6)]
    assert convert.syne_tune_to_arch(config).index == i


@given(indices)
def test_syne_tune_keys_follow_arch_string_order(i):
    # Syne Tune's importer reads the ops of the NATS arch string left to right into hp_x0..hp_x5
    ops_in_string = re.findall(r"([a-z0-9_]+)~\d", str(space.from_index(i)))
    assert list(convert.arch_to_syne_tune(i).values()) == ops_in_string


def test_syne_tune_ignores_non_architecture_keys():
    config = {**convert.arch_to_syne_tune(EXAMPLE), "hp_epoch": 200}
    assert convert.syne_tune_to_arch(config) == space.arch(EXAMPLE)
    assert isinstance(convert.syne_tune_to_arch(config), Arch)


@pytest.mark.parametrize(
    ("bad", "shown"),
    [
        ((0, 1, 2), r"\(0, 1, 2\)"),
        ([0, 1, 2, 3, 4, 5, 0], r"\[0, 1, 2, 3, 4, 5, 0\]"),
        ("(0, 1, x, 3, 4, 0)", "'\\(0, 1, x, 3, 4, 0\\)'"),
        (None, "None"),
    ],
)
def test_naslib_wrong_shape_raises(bad, shown):
    with pytest.raises(
        NasscoutError, match=f"cannot read NASLib op indices {shown}; accepted: 6 ints"
    ):
        convert.naslib_to_arch(bad)


@pytest.mark.parametrize("value", [5, -1, 1.0, True])
def test_naslib_bad_value_raises(value):
    with pytest.raises(
        NasscoutError, match=f"NASLib op index {value!r} in .* is invalid; accepted"
    ):
        convert.naslib_to_arch((0, 1, value, 3, 4, 0))


def test_naslib_array_wrong_shape_raises():
    with pytest.raises(
        NasscoutError, match=r"shape \(3, 5\).*accepted: an integer array of shape \(n, 6\)"
    ):
        convert.naslib_to_indices(np.zeros((3, 5), dtype=int))


def test_naslib_array_bad_value_raises():
    bad = np.zeros((2, 6), dtype=int)
    bad[1, 4] = 7
    with pytest.raises(NasscoutError, match="NASLib op index 7 is invalid; accepted: values 0..4"):
        convert.naslib_to_indices(bad)


def test_syne_tune_not_a_mapping_raises():
    with pytest.raises(NasscoutError, match="is not a mapping; accepted: a dict with keys hp_x0"):
        convert.syne_tune_to_arch(["none"] * 6)


def test_syne_tune_missing_key_raises():
    config = convert.arch_to_syne_tune(0)
    del config["hp_x3"]
    with pytest.raises(NasscoutError, match="lacks 'hp_x3'; accepted: a dict with keys hp_x0"):
        convert.syne_tune_to_arch(config)


def test_syne_tune_bad_op_raises():
    config = {**convert.arch_to_syne_tune(0), "hp_x2": "max_pool_3x3"}
    with pytest.raises(
        NasscoutError,
        match=f"hp_x2='max_pool_3x3' is not an NB201 op; accepted ops: {', '.join(OPS)}",
    ):
        convert.syne_tune_to_arch(config)


def test_syne_tune_unknown_architecture_key_raises():
    config = {**convert.arch_to_syne_tune(0), "hp_x6": "none"}
    with pytest.raises(NasscoutError, match="unknown Syne Tune key 'hp_x6'; accepted keys: hp_x0"):
        convert.syne_tune_to_arch(config)


def test_bad_arch_raises():
    with pytest.raises(NasscoutError, match="out of range"):
        convert.arch_to_syne_tune(N_CELLS)
