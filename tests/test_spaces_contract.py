"""One shared contract over every search space, plus property tests of each space's arch string."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surrogate.errors import NasscoutError
from surrogate.space import SearchSpace
from surrogate.spaces import SPACES, get_space

NAMES = list(SPACES)
# spaces where every choice vector is its own cell: a neighbour differs in exactly one position
NO_COLLAPSE = {"nb201", "transnas-micro"}
EXPECTED_CELLS = {"nb201": 15625, "transnas-micro": 4096, "nasbench-graph": 26206}


@pytest.fixture(params=NAMES)
def space(request) -> SearchSpace:
    return get_space(request.param)


def test_names_and_sizes(space):
    assert isinstance(space, SearchSpace) and type(space) is SPACES[space.name]
    assert space.n_cells == EXPECTED_CELLS[space.name]
    assert space.cell_ops.shape == (space.n_cells, len(space.positions))
    assert np.all(space.cell_ops < space.cardinalities) and space.cell_ops.min() >= 0
    # cells are distinct choice vectors
    assert len(np.unique(space.cell_ops.astype(np.int64) @ space._place)) == space.n_cells


def test_unknown_space_lists_the_accepted():
    with pytest.raises(NasscoutError, match="accepted: nb201, transnas-micro, nasbench-graph"):
        get_space("nb101")


def test_indices_from_ops_inverts_ops(space):
    idx = np.random.default_rng(0).integers(0, space.n_cells, 500)
    assert np.array_equal(space.indices_from_ops(space.ops(idx)), idx)
    assert np.array_equal(space.indices_from_ops(space.cell_ops), space.all_indices)


def test_raw_index_maps_every_vector_onto_a_cell_or_minus_one(space):
    table = space.raw_index
    assert table.shape == (int(np.prod(space.cardinalities)),)
    assert table.min() >= -1 and table.max() == space.n_cells - 1
    assert set(np.unique(table[table >= 0])) == set(range(space.n_cells))


def test_sample_mutate_neighbours_stay_in_the_space(space):
    rng = np.random.default_rng(1)
    cells = space.sample_indices(rng, 200)
    assert cells.min() >= 0 and cells.max() < space.n_cells
    assert np.array_equal(cells, space.sample_indices(np.random.default_rng(1), 200))
    for i in cells[:40]:
        child = space.mutate_index(int(i), rng)
        assert 0 <= child < space.n_cells and child != i
        nb = space.neighbour_indices(int(i))
        assert len(nb) and len(set(nb.tolist())) == len(nb) and int(i) not in nb
        assert nb.min() >= 0 and nb.max() < space.n_cells
        if space.name in NO_COLLAPSE:
            assert child in nb
            assert np.all(space.edit_distances(int(i), nb) == 1)
            assert len(nb) == int((space.cardinalities - 1).sum())


def test_nbgraph_neighbours_are_one_choice_away_before_collapsing():
    space = get_space("nasbench-graph")
    for i in np.random.default_rng(2).integers(0, space.n_cells, 30):
        ops = space.cell_ops[i].astype(np.int64)
        for j in space.neighbour_indices(int(i)):
            # some spelling of j differs from i's representative in exactly one position
            diff = (space.raw_index == j).nonzero()[0]
            vectors = (diff[:, None] // space._place) % space.cardinalities
            assert np.any(np.sum(vectors != ops, axis=1) == 1)


def test_canonical_is_idempotent_and_a_class_member(space):
    idx = np.random.default_rng(3).integers(0, space.n_cells, 1000)
    canon = space.canonical_indices(idx)
    assert np.array_equal(space.canonical_indices(canon), canon)
    assert np.all(canon <= idx)
    assert np.array_equal(space.class_ids[canon], space.class_ids[idx])
    assert space.n_classes == len(np.unique(space.class_ids))


def test_class_counts():
    assert get_space("nb201").n_classes == 6466
    assert get_space("transnas-micro").n_classes == 1236
    assert get_space("nasbench-graph").n_classes == 26206  # valid_hash already merged isomorphs


@pytest.mark.parametrize("name", NAMES)
def test_encodings_one_row_per_cell_fixed_width(name):
    space = get_space(name)
    idx = np.array([0, 7, space.n_cells - 1])
    for kind in space.encodings:
        x = space.encode(idx, kind)
        assert x.shape[0] == 3
        full = space.encode(space.all_indices, kind)
        assert full.shape[0] == space.n_cells and full.shape[1:] == x.shape[1:]
        assert np.array_equal(full[idx], x)
    onehot = space.encode(space.all_indices, "onehot")
    assert onehot.shape[1] == int(space.cardinalities.sum())
    assert len(np.unique(onehot, axis=0)) == space.n_cells
    with pytest.raises(NasscoutError, match="accepted: onehot"):
        space.encode(idx, "no-such-encoding")


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_format_parse_round_trip(name, data):
    space = get_space(name)
    i = data.draw(st.integers(0, space.n_cells - 1))
    text = space.format(i)
    assert space.parse(text) == i and space.format(text) == text
    assert space.parse(str(i)) == i and space.parse(np.int64(i)) == i


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=60) | st.from_regex(r"[a-z_|~+0-9,]{0,50}", fullmatch=True))
def test_garbage_gives_nasscout_error_only(name, text):
    space = get_space(name)
    try:
        i = space.parse(text)
    except NasscoutError as exc:
        assert "\n" not in str(exc)
    else:
        assert 0 <= i < space.n_cells and space.parse(space.format(i)) == i


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("text", ["١٢", "12٣", "1e3", "0x10", "+5", "3.0", ".5"])
def test_only_ascii_decimal_digits_are_an_index(name, text):
    space = get_space(name)
    with pytest.raises(NasscoutError) as err:
        space.parse(text)
    msg = str(err.value)
    assert f"0..{space.n_cells - 1}" in msg and "arch string" in msg and "\n" not in msg


def test_huge_bad_input_is_echoed_shortened():
    text = "|" + "x" * 100_000
    with pytest.raises(NasscoutError) as err:
        get_space("nb201").parse(text)
    assert len(str(err.value)) < 400 and "100,001 chars" in str(err.value)


def test_arch_of_one_space_given_to_another_names_the_owner():
    nb201, tn, ng = (get_space(n) for n in NAMES)
    with pytest.raises(
        NasscoutError, match="'avg_pool_3x3' \\(it exists only in nb201, not"
    ) as err:
        tn.parse("|avg_pool_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    assert "accepted ops: none, skip_connect, nor_conv_1x1, nor_conv_3x3" in str(err.value)
    with pytest.raises(NasscoutError, match="'gcn' exists only in nasbench-graph, not in nb201"):
        nb201.parse("gcn~0|gin~0|fc~1|cheb~2")
    with pytest.raises(NasscoutError, match="exists only in nb201, transnas-micro"):
        ng.parse(nb201.format(100))
    # the 4 shared ops mean the same cell text in both 4-node-cell spaces
    text = tn.format(1234)
    assert nb201.format(nb201.parse(text)) == text


def test_transnas_index_is_the_base4_code_of_naslib_tuple():
    from surrogate.spaces.transnas import indices_to_naslib, naslib_to_indices

    tn = get_space("transnas-micro")
    assert tn.format(0) == "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    t = (2, 3, 2, 3, 2, 3)
    i = int("".join(map(str, t)), 4)
    assert naslib_to_indices([t])[0] == i and tuple(indices_to_naslib([i])[0]) == t
    assert tn.format(i).startswith("|nor_conv_1x1~0|+|nor_conv_3x3~0|")


def test_nbgraph_string_spells_links_and_ops():
    ng = get_space("nasbench-graph")
    i = ng.parse("gcn~0|gin~0|fc~1|cheb~2")
    assert ng.cell_ops[i].tolist() == [3, 1, 2, 7, 3]  # link (0,0,1,2); gcn, gin, fc, cheb
    # an isomorphic spelling (the two branches from the input swapped) is the same cell
    assert ng.parse("gin~0|gcn~0|cheb~1|fc~2") == i
    assert ng.format(ng.parse("gin~0|gcn~0|cheb~1|fc~2")) == ng.format(i)
    for bad, needle in [
        ("gcn~0|gin~0|fc~2|cheb~2", "link pattern 0,0,2,2 is not one of"),
        ("skip~0|skip~0|skip~1|skip~2", "no all-skip cell"),
        ("gcn~0|gin~0|fc~1", "3 layers"),
        ("gcn~0|gin~5|fc~1|cheb~2", "layer 2 input '5' must be 0..1"),
        ("gcn~0|gat2~0|fc~1|cheb~2", "unknown op 'gat2' in layer 2"),
        ("gcn~0|skip_connect~0|fc~1|cheb~2", "'skip_connect' \\(it exists only in nb201, transnas"),
    ]:
        with pytest.raises(NasscoutError, match=needle):
            ng.parse(bad)


def test_nbgraph_hash_table_matches_the_package():
    import importlib.util
    from pathlib import Path

    pytest.importorskip("nas_bench_graph")
    from surrogate.spaces.nbgraph import _hash_table

    recipe = Path(__file__).resolve().parents[1] / "datasets" / "recipes" / "make_nbgraph_hash.py"
    spec = importlib.util.spec_from_file_location("make_nbgraph_hash", recipe)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert np.array_equal(module.compute(), _hash_table())  # the package's own valid_hash


@pytest.mark.parametrize("name", ["nb201", "transnas-micro"])
def test_class_ids_equal_the_nb201_string_rule_cell_by_cell(name):
    from surrogate.isomorphism import cell_class_ids, cell_key

    space = get_space(name)
    ops = space.cell_ops.astype(np.int64)
    names = space.choices[0]
    seen: dict[str, int] = {}
    want = np.array([seen.setdefault(cell_key(c, names), len(seen)) for c in ops.tolist()])
    assert np.array_equal(cell_class_ids(ops, names), want)


@pytest.mark.parametrize("name", NAMES)
def test_graph_is_a_dag_with_one_hot_nodes(name):
    space = get_space(name)
    adj, feats = space.graph(space.all_indices[:300])
    n = adj.shape[1]
    assert adj.shape == (300, n, n) and feats.shape[:2] == (300, n)
    assert np.all(np.triu(adj, 1) == adj)  # edges only go forward: input first, output last
    assert np.all(feats.sum(axis=2) == 1)
    assert np.all(adj[:, :, -1].sum(axis=1) >= 1) and np.all(adj[:, -1, :] == 0)
