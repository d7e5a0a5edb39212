import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from surrogate.errors import NasscoutError
from surrogate.spaces.nb201 import OPS, Arch, NB201Space

space = NB201Space()
EXAMPLE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
indices = st.integers(min_value=0, max_value=15624)


def test_index_order_matches_the_data_for_every_cell(merged):
    assert [space.format(i) for i in merged["index"]] == merged["arch_str"].tolist()
    assert np.array_equal(space.indices(merged["arch_str"].tolist()), merged["index"].to_numpy())


def test_ops_matrix_matches_ops_key(merged):
    keys = merged["ops_key"].astype(str).str.zfill(6)
    want = np.array([[int(c) for c in k] for k in keys])
    assert np.array_equal(space.ops(merged["index"].to_numpy()), want)


@given(indices)
def test_round_trip_index_string_arch(i):
    arch = space.from_index(i)
    assert space.arch(str(arch)) == arch and space.parse(str(arch)) == i
    assert space.index(str(arch)) == i == arch.index
    assert space.arch(str(i)) == arch and space.parse(str(i)) == i
    assert space.indices_from_ops(np.array([arch]))[0] == i


@given(indices, st.integers(0, 2**32 - 1))
def test_mutate_changes_exactly_one_edge(i, seed):
    rng = np.random.default_rng(seed)
    child = space.mutate(i, rng)
    assert space.edit_distance(i, child) == 1


@given(indices)
def test_neighbours_are_the_24_cells_at_distance_one(i):
    nb = space.neighbours(i)
    assert len(nb) == 24 and len(set(nb)) == 24
    assert all(space.edit_distance(i, a) == 1 for a in nb)


def test_sample_is_seeded():
    a = space.sample_indices(np.random.default_rng(3), 50)
    b = space.sample_indices(np.random.default_rng(3), 50)
    assert np.array_equal(a, b) and a.min() >= 0 and a.max() < 15625
    assert all(isinstance(x, Arch) for x in space.sample(np.random.default_rng(0), 3))


def test_example_cell():
    arch = space.arch(EXAMPLE)
    assert str(arch) == EXAMPLE and repr(arch) == f"Arch('{EXAMPLE}')"
    assert [OPS[o] for o in arch][0] == "nor_conv_3x3"


BAD = {
    "": "empty",
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|conv_5x5~2|": "conv_5x5",
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|": "2 nodes",
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|none~2|": "1 input edges",
    "|nor_conv_3x3~0|-|nor_conv_3x3~0|nor_conv_3x3~1|-|skip_connect~0|nor_conv_3x3~1|none~2|": "1 nodes",
    "|nor_conv_3x3:0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|": "lacks '~'",
    "|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|": "from node 0",
    " |nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|": "whitespace",
    "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2": "start and end",
    "-1": "out of range",
    "15625": "out of range",
}


@pytest.mark.parametrize("text,needle", BAD.items())
def test_malformed_arch_strings_give_one_clear_line(text, needle):
    with pytest.raises(NasscoutError) as err:
        space.parse(text)
    msg = str(err.value)
    assert needle in msg and "\n" not in msg


def test_unknown_op_lists_the_accepted_ops():
    with pytest.raises(NasscoutError, match="accepted ops: none, skip_connect, nor_conv_1x1"):
        space.parse(EXAMPLE.replace("skip_connect", "identity"))


def test_index_arrays_are_validated():
    with pytest.raises(NasscoutError, match="15625 out of range"):
        space.indices(np.array([0, 15625]))
    with pytest.raises(NasscoutError, match="cannot read"):
        space.parse(3.5)
