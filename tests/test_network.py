"""The torch NB201 network: NB201's exact layer layout, parameter count and reproducible initialisation."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from surrogate.costmodel import DATASET_CLASSES, params_m
from surrogate.errors import NasscoutError
from surrogate.network import Cell, NB201Network, build_network, count_parameters
from surrogate.spaces.nb201 import EDGES, NB201Space

SPACE = NB201Space()


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Two contending threads on a shared 2-core machine run several times slower than one."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _n_params(index: int, **kw) -> int:
    return count_parameters(NB201Network(int(index), **kw))


def test_parameter_count_matches_costmodel_for_hundreds_of_cells():
    cells = np.random.default_rng(0).choice(SPACE.N_CELLS, size=250, replace=False)
    cells = np.concatenate([cells, [0, 15624, 11472, 6111]])  # extremes and the ResNet-like cell
    for ds, n_classes in DATASET_CLASSES.items():
        if ds != "cifar10":
            cells = cells[::6]  # other heads: a sample is enough
        expected = np.rint(params_m(cells, n_classes=n_classes) * 1e6).astype(np.int64)
        got = np.array([_n_params(c, n_classes=n_classes) for c in cells])
        assert np.array_equal(got, expected), ds


@pytest.mark.parametrize("C,N,n_classes", [(8, 1, 7), (24, 3, 100), (16, 2, 120)])
def test_parameter_count_matches_costmodel_for_other_sizes(C, N, n_classes):
    cells = np.random.default_rng(C).choice(SPACE.N_CELLS, size=25, replace=False)
    expected = np.rint(params_m(cells, n_classes=n_classes, C=C, N=N) * 1e6).astype(np.int64)
    got = [_n_params(c, C=C, N=N, n_classes=n_classes) for c in cells]
    assert list(got) == list(expected)


def test_real_build_has_the_same_count_and_nb201_layout():
    net = build_network(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|"
        "nor_conv_3x3~1|skip_connect~2|",
        dataset="cifar100",
    )
    assert count_parameters(net) == round(params_m([net.arch.index], n_classes=100)[0] * 1e6)
    cells = [m for m in net.cells if isinstance(m, Cell)]
    assert len(cells) == 15 and len(net.cells) == 17  # 3 stages x 5 cells + 2 reduction blocks
    widths = [m.edges[0][1].in_channels for m in cells]
    assert widths == [16] * 5 + [32] * 5 + [64] * 5
    assert net.classifier.out_features == 100 and net.stem[0].in_channels == 3


@pytest.mark.parametrize("dataset,hw", [("cifar10", 32), ("ImageNet16-120", 16)])
def test_forward_shapes(dataset, hw):
    net = build_network(11472, dataset=dataset, C=4, N=1)
    out = net(torch.randn(3, 3, hw, hw, generator=torch.Generator().manual_seed(0)))
    assert out.shape == (3, DATASET_CLASSES[dataset])
    assert torch.isfinite(out).all()


def _naive_forward(net: NB201Network, x: torch.Tensor) -> torch.Tensor:
    """Every edge computed, `none` as x * 0: the textbook definition the fast forward must equal."""
    x = net.stem(x)
    for layer in net.cells:
        if isinstance(layer, Cell):
            nodes = [x]
            for j in (1, 2, 3):
                terms = []
                for e, (src, dst) in enumerate(EDGES):
                    if dst == j:
                        op = layer.ops[e]
                        terms.append(nodes[src] * 0 if op == 0 else layer.edges[e](nodes[src]))
                total = terms[0]
                for t in terms[1:]:
                    total = total + t
                nodes.append(total)
            x = nodes[3]
        else:
            x = layer(x)
    return net.classifier(net.pool(net.lastact(x)).flatten(1))


@pytest.mark.parametrize("train", [True, False])
def test_skipping_dead_edges_gives_the_same_output(train):
    x = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    cells = [104, 105, 101, 6111, 0, 15624] + list(
        np.random.default_rng(2).choice(SPACE.N_CELLS, size=6, replace=False)
    )
    for c in cells:
        net = build_network(int(c), C=4, N=2, seed=3).train(train)
        fast, slow = net(x), _naive_forward(net, x)
        assert torch.allclose(fast, slow, rtol=1e-5, atol=1e-6), SPACE.format(int(c))


def test_seeded_initialisation_is_reproducible_and_seed_dependent():
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    a = build_network(6111, C=4, N=1, seed=7)(x)
    b = build_network(6111, C=4, N=1, seed=7)(x)
    c = build_network(6111, C=4, N=1, seed=8)(x)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_bn_false_drops_batch_norm_but_keeps_convolutions():
    with_bn = build_network(11472, C=4, N=1)
    without = build_network(11472, C=4, N=1, bn=False)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in with_bn.modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in without.modules())
    convs = [m.weight.shape for m in with_bn.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs == [m.weight.shape for m in without.modules() if isinstance(m, torch.nn.Conv2d)]


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        ({"C": 0}, "C=0"),
        ({"N": -1}, "N=-1"),
        ({"dataset": "mnist"}, "'mnist'"),
        ({"seed": -3}, "seed=-3"),
        ({"n_classes": 2.5}, "n_classes=2.5"),
    ],
)
def test_bad_options_fail_with_one_line(kwargs, needle):
    with pytest.raises(NasscoutError, match=needle) as err:
        build_network(0, **kwargs)
    assert "\n" not in str(err.value)


def test_bad_arch_fails_clearly():
    with pytest.raises(NasscoutError, match="unknown op"):
        build_network("|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|")


def test_torch_stays_out_of_light_imports():
    code = (
        "import sys, surrogate.space, surrogate.costmodel, surrogate.registry, predictors.zerocost, "
        "predictors.evaluation, predictors.io, strategies.cli.predictors\n"
        "heavy = [m for m in ('torch', 'xgboost', 'sklearn', 'pandas', 'matplotlib') if m in sys.modules]\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
