"""The PNAS LSTM predictor: its token sequence, any search space, and a quality floor on real NB201 data."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import kendalltau

from predictors.base import member_rows
from predictors.lstm import LSTMPredictor, token_sequence, token_vocabulary
from predictors.lstm_parts import path_order, ridge_base
from predictors.registry import make_predictor
from surrogate.encodings import PATHS
from surrogate.errors import NasscoutError
from surrogate.space import SearchSpace
from surrogate.spaces.nb201 import NB201Space

FAST = {"epochs": 3, "min_steps": 0, "hidden_size": 16, "embedding_dim": 8}


class ToySpace(SearchSpace):
    """A small product space unlike NB201: 4 positions with different choice sets (no 's->d' names)."""

    name = "toy"
    positions = ("link", "layer1", "layer2", "layer3")
    choices = (("a", "b", "c"), ("gcn", "gat"), ("gcn", "gat", "sage", "mlp"), ("gcn", "sage"))
    arch_format = "an index"

    def _cell_ops(self) -> np.ndarray:
        return np.array(list(itertools.product(*(range(len(c)) for c in self.choices))))

    def _parse_string(self, text: str) -> int:
        raise NasscoutError(f"cannot read {text!r}; accepted: {self.arch_format}")

    def _format(self, index: int) -> str:
        return str(index)


def test_nb201_tokens_follow_pnas_order():
    space = NB201Space()
    ops, inputs, vocab = token_vocabulary(space)
    assert vocab == 5 + 3  # 5 op names, source nodes 0, 1, 2
    cell = space.index(
        "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|"
    )
    seq = token_sequence(space, np.array([cell]))[0]
    src = [int(p.split("->")[0]) for p in space.positions]
    np.testing.assert_array_equal(seq[0::2], 5 + np.array(src))  # input token, then ...
    np.testing.assert_array_equal(seq[1::2], ops[np.arange(6), space.ops([cell])[0]])  # ... its op
    np.testing.assert_array_equal(token_sequence(space, np.array([cell]), "ops")[0], seq[1::2])
    pairs = token_sequence(space, np.array([cell]), "pairs")[0]  # one step per edge: (input, op)
    assert pairs.shape == (6, 2)
    np.testing.assert_array_equal(pairs.reshape(-1), seq)


def test_paths_read_every_input_output_path_longest_first():
    space = NB201Space()
    order = path_order(space)
    edges = [p.split("->") for p in space.positions]
    walks = np.split(order, np.flatnonzero([edges[p][0] == "0" for p in order])[1:])
    assert [len(w) for w in walks] == [3, 2, 2, 1]  # NB201's 4 paths, longest first
    assert order.tolist() == [
        e for p in PATHS[::-1] for e in p
    ]  # the path encoding's paths, reversed
    for walk in walks:  # each a chain from node 0 to node 3
        nodes = [edges[walk[0]][0]] + [edges[p][1] for p in walk]
        assert nodes[0] == "0" and nodes[-1] == "3"
        assert all(edges[a][1] == edges[b][0] for a, b in itertools.pairwise(walk))
    cells = np.array([0, 777, 15624])
    paths = token_sequence(space, cells, "paths")
    np.testing.assert_array_equal(paths, token_sequence(space, cells, "pairs")[:, order])
    assert path_order(ToySpace()) is None  # no 's->d' positions: read as "pairs"
    for positions in (
        ("in->a", "a->out"),
        ("0->1", "1->0"),
        ("0->2", "1->2"),
    ):  # names, cycle, dead edge
        assert path_order(type("S", (), {"positions": positions})()) is None
    toy = ToySpace()
    np.testing.assert_array_equal(
        token_sequence(toy, np.arange(5), "paths"), token_sequence(toy, np.arange(5), "pairs")
    )


def test_ridge_base_fits_each_member_on_its_own_rows_only():
    rng = np.random.default_rng(0)
    side = rng.normal(size=(40, 3))
    z = side @ np.array([1.0, -2.0, 0.5]) + 3.0
    rows = member_rows(40, 5, "kfold", np.random.default_rng(1))
    w = ridge_base(side, z, rows, 1e-9)
    np.testing.assert_allclose(w, np.tile([1.0, -2.0, 0.5, 3.0], (5, 1)), atol=1e-6)
    out = np.setdiff1d(np.arange(40), rows[0])[0]  # a cell member 0 holds out
    z2 = z.copy()
    z2[out] += 100.0
    w2 = ridge_base(side, z2, rows, 1.0)
    np.testing.assert_array_equal(w2[0], ridge_base(side, z, rows, 1.0)[0])
    assert not np.allclose(w2[1], ridge_base(side, z, rows, 1.0)[1])  # a member that saw it moves


def test_warm_refit_refits_the_ridge_base_on_all_known_cells(nb201):
    y = np.linspace(80.0, 90.0, 40)
    model = LSTMPredictor(**FAST, pretrain_epochs=0, warm_start=True, warm_epochs=1)
    cells = np.arange(40) * 7
    first = model.fit(cells[:30], y[:30]).params_["R_w"].copy()
    again = model.fit(cells, y).params_["R_w"][:, :, 0]
    rows = member_rows(40, 5, "kfold", np.random.default_rng(model.seed))
    side = model._inputs(cells)[1]
    want = ridge_base(side, model.target_.forward(y), rows, 1.0)  # the first fit's standardisation
    assert not np.allclose(first[:, :, 0], again)
    np.testing.assert_allclose(again, want[:, :-1], rtol=1e-4, atol=1e-5)


def test_runs_on_another_space_with_its_own_features():
    space = ToySpace()
    ops, inputs, vocab = token_vocabulary(space)
    assert (
        vocab == 3 + 4 + 4
    )  # names a, b, c, gcn, gat, sage, mlp, then one input token per position
    assert ops[2, 0] == ops[1, 0] == ops[3, 0]  # 'gcn' shares one embedding across positions
    rng = np.random.default_rng(0)
    cells = space.all_indices
    y = 50 + 10 * space.cell_ops[:, 2] + rng.normal(0, 1, len(cells))
    feats = space.cell_ops[:, 2:3].astype(float) + rng.normal(0, 0.5, (len(cells), 1))
    model = make_predictor("lstm", space=space, cell_features=feats, **FAST)
    mean, std = model.fit(cells[:30], y[:30]).predict(cells[30:], return_std=True)
    assert mean.shape == (len(cells) - 30,) and np.all(np.isfinite(mean)) and np.all(std >= 0)
    with pytest.raises(NasscoutError, match=r"cell_features has shape \(15625, 1\)"):
        make_predictor("lstm", space=space, cell_features=np.ones((15625, 1)), **FAST).fit(
            cells[:30], y[:30]
        )


def test_bad_options_are_refused(nb201):
    y = np.linspace(80, 90, 30)
    for bad, match in (
        ({"checkpoints": (0.5,)}, "checkpoints="),
        ({"sequence": "tree"}, "sequence="),
        ({"loss": "rank"}, "loss="),
        ({"condition": "tail"}, "condition="),
        ({"base": "linear"}, "base="),
        ({"ridge": -1.0}, "ridge="),
        ({"schedule": "step"}, "schedule="),
    ):
        with pytest.raises(NasscoutError, match=match):
            LSTMPredictor(**{**FAST, **bad}).fit(np.arange(30), y)


@pytest.mark.slow
def test_lstm_ranks_well_at_56_cells_with_free_features(nb201):
    """Quality floor (default settings): tau 0.72 +- 0.02 at 56 cells (CIFAR-10, README); floor with margin."""
    cells = nb201.space.all_indices
    q = nb201.query(cells, dataset="cifar10")
    zen = nb201.extra(cells, dataset="cifar10", field="zen")
    feats = np.column_stack([np.log(q.params_m), np.log(q.flops_m), zen])
    perm = np.random.default_rng(2024).permutation(len(cells))
    train, test = perm[200:256], perm[:200]
    model = make_predictor("lstm", cell_features=feats).fit(train, q.valid_acc[train])
    tau = kendalltau(model.predict(test), q.valid_acc[test]).statistic
    params_tau = kendalltau(q.params_m[test], q.valid_acc[test]).statistic
    assert tau >= 0.55 and tau >= params_tau + 0.05
