import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from surrogate.errors import NasscoutError
from surrogate.spaces import nb201 as iso
from surrogate.spaces.nb201 import OPS, Arch, NB201Space

space = NB201Space()
NONE, SKIP, CONV1, CONV3, POOL = range(5)
op = st.integers(0, len(OPS) - 1)
# arch-string edge positions
E01, E02, E12, E03, E13, E23 = range(6)


def cls(ops) -> int:
    return int(iso.canonical_codes(space.indices_from_ops(np.array([ops])))[0])


def test_exactly_6466_classes():
    codes = iso.canonical_codes(space.all_indices)
    assert iso.n_classes() == 6466
    assert np.unique(codes).size == 6466
    assert codes.min() == 0 and codes.max() == 6465


def test_representative_is_smallest_index_of_its_class():
    all_ = space.all_indices
    codes = iso.canonical_codes(all_)
    reps = iso.canonical_indices(all_)
    smallest = np.full(iso.n_classes(), np.iinfo(np.int64).max)
    np.minimum.at(smallest, codes, all_)
    assert np.array_equal(reps, smallest[codes])
    # class ids are numbered in order of their representative
    assert np.all(np.diff(smallest) > 0)
    assert iso.canonical_index(int(reps[1234])) == reps[1234]


@given(a=op, b=op, e02=op, e12=op, e23=op)
def test_swapping_inputs_of_node3_from_equal_nodes(a, b, e02, e12, e23):
    # with e(0->1) = skip, node 1 equals node 0, so the ops on e(0->3) and e(1->3) may trade places
    left = [SKIP, e02, e12, a, b, e23]
    right = [SKIP, e02, e12, b, a, e23]
    assert cls(left) == cls(right)


@given(dead=op, other=op, e02=op, e03=op, e23=op)
def test_ops_on_a_disconnected_node_do_not_matter(dead, other, e02, e03, e23):
    # node 1 feeds nothing (e(1->2) = e(1->3) = none): the op on e(0->1) is irrelevant
    assert cls([dead, e02, NONE, e03, NONE, e23]) == cls([other, e02, NONE, e03, NONE, e23])


@given(a=op, b=op, c=op, d=op, e01=op, e03=op, e13=op)
def test_ops_feeding_a_node_that_cannot_reach_the_output_do_not_matter(a, b, c, d, e01, e03, e13):
    assert cls([e01, a, b, e03, e13, NONE]) == cls([e01, c, d, e03, e13, NONE])


@given(a=op, b=op, c=op, d=op, e02=op, e03=op, e23=op)
def test_ops_leaving_a_node_without_input_do_not_matter(a, b, c, d, e02, e03, e23):
    assert cls([NONE, e02, a, e03, b, e23]) == cls([NONE, e02, c, e03, d, e23])


def test_non_isomorphic_cells_differ():
    assert cls([CONV3] * 6) != cls([CONV1] * 6)
    # the swap of node 3's inputs is not allowed when node 1 differs from node 0
    assert cls([CONV3, NONE, NONE, CONV1, POOL, NONE]) != cls(
        [CONV3, NONE, NONE, POOL, CONV1, NONE]
    )
    # same ops, different wiring: conv after conv vs two parallel convs
    assert cls([CONV3, NONE, NONE, NONE, CONV3, NONE]) != cls(
        [CONV3, NONE, NONE, CONV3, NONE, NONE]
    )


def test_follows_nb201_zero_placeholder_convention():
    # node 2 fed only by none edges is '#+#', not '#': an op leaving it still counts (NB201's rule)
    base = [SKIP, NONE, NONE, SKIP, NONE, NONE]
    assert cls(base) != cls(base[:5] + [CONV3])
    # while an op leaving node 1 without input does not
    assert cls([NONE, NONE, CONV3, SKIP, NONE, CONV3]) == cls([NONE, NONE, POOL, SKIP, NONE, CONV3])


def test_space_canonical_delegates():
    arch = space.arch("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
    rep = space.canonical(arch)
    assert isinstance(rep, Arch)
    assert rep.index == iso.canonical_index(arch.index) <= arch.index
    assert rep.index in iso.class_members(arch.index)


def test_bad_index_raises():
    with pytest.raises(NasscoutError, match="15625 out of range; accepted 0..15624"):
        iso.canonical_index(15625)


def test_bad_index_in_array_raises():
    with pytest.raises(NasscoutError, match="-1 out of range"):
        iso.canonical_codes(np.array([0, -1]))


def test_array_passed_to_canonical_index_raises():
    with pytest.raises(NasscoutError, match="use canonical_indices"):
        iso.canonical_index(np.array([1, 2]))
