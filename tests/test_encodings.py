import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from surrogate.errors import NasscoutError
from surrogate.spaces import nb201 as enc
from surrogate.spaces import nb201 as iso
from surrogate.spaces.nb201 import N_CELLS, OPS, NB201Space

space = NB201Space()
NONE = OPS.index("none")
op = st.integers(0, len(OPS) - 1)
index_batches = st.lists(st.integers(0, N_CELLS - 1), min_size=1, max_size=20).map(
    lambda xs: np.array(xs, dtype=np.int64)
)
SHAPES = {
    "onehot": ((30,), np.float32),
    "path": ((155,), np.float32),
    "tokens": ((6,), np.int64),
    "adjacency": ((8, 15), np.float32),
}


def test_every_kind_is_documented_here():
    assert set(enc.ENCODINGS) == set(SHAPES)


@pytest.mark.parametrize("kind", enc.ENCODINGS)
@given(idx=index_batches)
def test_shapes_dtypes_and_determinism(kind, idx):
    shape, dtype = SHAPES[kind]
    x = enc.encode(idx, kind)
    assert x.shape == (len(idx), *shape) and x.dtype == dtype
    assert np.array_equal(x, enc.encode(idx.copy(), kind))
    # rows do not depend on the batch they come in
    assert np.array_equal(x[-1], enc.encode(idx[-1:], kind)[0])


@given(idx=index_batches)
def test_onehot_and_tokens_are_the_ops(idx):
    ops = space.ops(idx)
    onehot = enc.encode(idx, "onehot").reshape(len(idx), 6, 5)
    assert np.all(onehot.sum(axis=2) == 1)
    assert np.array_equal(onehot.argmax(axis=2), ops)
    assert np.array_equal(enc.encode(idx, "tokens"), ops)


def test_onehot_is_injective():
    assert len(np.unique(enc.encode(space.all_indices, "onehot"), axis=0)) == N_CELLS


@given(idx=index_batches)
def test_path_sets_one_feature_per_distinct_live_op_sequence(idx):
    ops = space.ops(idx)
    for row, x in zip(ops, enc.encode(idx, "path"), strict=True):
        live = {tuple(row[list(p)]) for p in enc.PATHS if NONE not in row[list(p)]}
        assert x.sum() == len(live)


def test_path_example():
    # |nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|nor_conv_3x3~1|none~2| has two paths:
    # skip on e(0->3), and conv3 then conv3 through node 1
    x = enc.encode(
        [space.index("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|nor_conv_3x3~1|none~2|")],
        "path",
    )
    conv3, skip = OPS.index("nor_conv_3x3"), OPS.index("skip_connect")
    assert set(np.flatnonzero(x[0])) == {skip, 5 + conv3 + 5 * conv3}


def test_path_features_through_none_are_never_set():
    x = enc.encode(space.all_indices, "path")
    seqs = [(a,) for a in range(5)]
    seqs += [(a, b) for b in range(5) for a in range(5)]
    seqs += [(a, b, c) for c in range(5) for b in range(5) for a in range(5)]
    with_none = np.array([NONE in s for s in seqs])
    assert with_none.sum() == 1 + 9 + 61
    assert not x[:, with_none].any() and x[:, ~with_none].any(axis=0).all()


@given(dead=op, other=op, e02=op, e03=op, e23=op)
def test_path_equal_for_cells_isomorphic_through_a_dead_node(dead, other, e02, e03, e23):
    a, b = space.indices_from_ops(
        np.array([[dead, e02, 0, e03, 0, e23], [other, e02, 0, e03, 0, e23]])
    )
    assert iso.canonical_codes(np.array([a]))[0] == iso.canonical_codes(np.array([b]))[0]
    pa, pb = enc.encode(np.array([a, b]), "path")
    assert np.array_equal(pa, pb)


@given(a=op, b=op, c=op, d=op, e01=op, e03=op, e13=op)
def test_path_equal_for_cells_isomorphic_through_a_dead_output_edge(a, b, c, d, e01, e03, e13):
    x, y = space.indices_from_ops(np.array([[e01, a, b, e03, e13, 0], [e01, c, d, e03, e13, 0]]))
    assert iso.canonical_codes(np.array([x]))[0] == iso.canonical_codes(np.array([y]))[0]
    assert np.array_equal(*enc.encode(np.array([x, y]), "path"))


def test_adjacency_is_the_op_node_dag():
    adj, feats = enc.graph(space.all_indices[:50])
    assert adj.shape == (50, 8, 8) and feats.shape == (50, 8, 7)
    assert np.all(adj == adj[0])
    a = adj[0]
    assert np.array_equal(a, np.triu(a, k=1)) and a.sum() == 10  # acyclic, 3 + 4 + 3 edges
    assert np.array_equal(np.flatnonzero(a[0]), [1, 2, 4])  # input feeds e(0->1), e(0->2), e(0->3)
    # e(0->3), e(1->3), e(2->3) feed the output
    assert np.array_equal(np.flatnonzero(a[:, 7]), [4, 5, 6])
    assert np.all(feats.sum(axis=2) == 1)
    assert np.all(feats[:, 0, 0] == 1) and np.all(feats[:, 7, 6] == 1)
    assert np.array_equal(feats[:, 1:7].argmax(axis=2) - 1, space.ops(space.all_indices[:50]))


def test_returned_arrays_are_copies():
    x = enc.encode([7], "path")
    x[:] = 9
    assert enc.encode([7], "path").max() == 1


def test_accepts_archs_and_strings_and_space_delegates():
    arch = space.from_index(42)
    for kind in enc.ENCODINGS:
        want = enc.encode(np.array([42]), kind)
        assert np.array_equal(enc.encode([arch], kind), want)
        assert np.array_equal(enc.encode([str(arch)], kind), want)
        assert np.array_equal(space.encode([42], kind), want)


def test_unknown_kind_raises_one_line_with_choices():
    with pytest.raises(NasscoutError) as err:
        enc.encode([0], "adjacency_one_hot")
    msg = str(err.value)
    assert "\n" not in msg and "'adjacency_one_hot'" in msg
    assert all(repr(k) in msg for k in enc.ENCODINGS)


def test_bad_index_raises():
    with pytest.raises(NasscoutError, match="15625 out of range"):
        enc.encode(np.array([15625]), "onehot")
