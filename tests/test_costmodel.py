import json

import numpy as np
import pytest

from surrogate.convert import naslib_to_indices
from surrogate.costmodel import DATASET_CLASSES, DATASET_INPUT_HW, flops_m, params_m
from surrogate.errors import NasscoutError
from surrogate.spaces import nb201 as iso
from surrogate.spaces.nb201 import EDGES, OPS, NB201Space

space = NB201Space()
COLUMNS = {
    "cifar10": "cifar10_params_mb",
    "cifar100": "cifar100_params_mb",
    "ImageNet16-120": "imagenet_params_mb",
}
# NATS-Bench (the source of the merged table's params) disagrees with the network of the arch string for
# 150 cells; each disagreeing value is the parameter count of another cell of the same isomorphism class, and
# NASLib's independent numbers (5 of these cells are in its zero-cost file) agree with ours.
N_NATS_DISAGREEMENTS = 150


def six_significant(x: np.ndarray) -> np.ndarray:
    """The merged CSV stores 6 significant digits (1.07347, 0.129306)."""
    return np.array([float(f"{v:.6g}") for v in x])


def test_index_0_by_hand():
    assert params_m([0]).tolist() == [0.129306]
    assert params_m([0], n_classes=100).tolist() == [0.135156]


@pytest.mark.parametrize("dataset", list(COLUMNS))
def test_params_match_nats_bench_for_every_cell_but_isomorphic_copies(merged, dataset):
    idx = merged["index"].to_numpy()
    ours = params_m(idx, DATASET_CLASSES[dataset])
    want = merged[COLUMNS[dataset]].to_numpy()
    bad = six_significant(ours) != want
    assert bad.sum() == N_NATS_DISAGREEMENTS  # 15,475 of 15,625 cells match exactly
    for i in idx[bad]:
        others = iso.class_members(i)
        assert np.any(six_significant(ours[others]) == want[i]), f"cell {i}"


@pytest.fixture(scope="module")
def zero_cost(shared_data):
    with open(shared_data / "nb201" / "naslib_zc_nasbench201.json") as fh:
        return json.load(fh)["nasbench201"]


@pytest.mark.parametrize("dataset", list(COLUMNS))
def test_params_and_flops_match_naslib_zero_cost_file(zero_cost, dataset):
    table = zero_cost[dataset]
    idx = naslib_to_indices(
        np.array([json.loads(k.replace("(", "[").replace(")", "]")) for k in table])
    )
    assert len(idx) == 491
    n, hw = DATASET_CLASSES[dataset], DATASET_INPUT_HW[dataset]
    flops = flops_m(idx, n, input_hw=hw)
    want = np.array([v["flops"] for v in table.values()])
    assert np.max(np.abs(flops - want) / want) < 1e-12
    assert np.array_equal(np.round(params_m(idx, n), 6), [v["params"] for v in table.values()])


def test_costs_are_additive_in_op_counts():
    # the all-skip cell has no cell parameters; each conv3 edge adds N * sum(9c^2 + 2c) over the 3 stages
    skip, conv3 = OPS.index("skip_connect"), OPS.index("nor_conv_3x3")
    base = space.indices_from_ops(np.array([[skip] * 6]))
    one = space.indices_from_ops(np.array([[conv3] + [skip] * 5]))
    per_edge = 5 * sum(9 * c * c + 2 * c for c in (16, 32, 64)) / 1e6
    assert params_m(one)[0] - params_m(base)[0] == pytest.approx(per_edge, abs=1e-12)


# ---- an independent torch build of NB201's TinyNetwork, for widths, depths and sizes the data lacks -----


def build_network(ops, C, N, n_classes):
    import torch
    from torch import nn

    def rcb(cin, cout, k, stride):
        return nn.Sequential(
            nn.ReLU(), nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout)
        )

    class Zero(nn.Module):
        def forward(self, x):
            return x.mul(0.0)

    def edge(op, c):
        name = OPS[op]
        if name == "none":
            return Zero()
        if name == "skip_connect":
            return nn.Identity()
        if name == "avg_pool_3x3":
            return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
        return rcb(c, c, int(name[-1]), 1)

    class Cell(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.edges = nn.ModuleList(edge(o, c) for o in ops)

        def forward(self, x):
            nodes = [x]
            for t in (1, 2, 3):
                nodes.append(
                    sum(self.edges[e](nodes[s]) for e, (s, d) in enumerate(EDGES) if d == t)
                )
            return nodes[3]

    class Reduction(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.a, self.b = rcb(cin, cout, 3, 2), rcb(cout, cout, 3, 1)
            self.down = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(cin, cout, 1, bias=False))

        def forward(self, x):
            return self.down(x) + self.b(self.a(x))

    layers = [nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C)]
    for stage, c in enumerate((C, 2 * C, 4 * C)):
        if stage:
            layers.append(Reduction(c // 2, c))
        layers += [Cell(c) for _ in range(N)]
    layers += [nn.BatchNorm2d(4 * C), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    layers.append(nn.Linear(4 * C, n_classes))
    return torch, nn, nn.Sequential(*layers)


def measure(ops, C, N, n_classes, hw):
    """(params, conv+linear MACs, torchstat-style FLOPs) of the torch build, counted with forward hooks."""
    torch, nn, net = build_network(ops, C, N, n_classes)
    macs, stat = [0], [0]

    def hook(module, inputs, output):
        x = inputs[0]
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1]
            n = k * module.in_channels * output.numel()
            macs[0] += n
            stat[0] += n
        elif isinstance(module, nn.Linear):
            macs[0] += module.in_features * module.out_features + module.out_features
            stat[0] += module.in_features * module.out_features
        elif isinstance(module, nn.BatchNorm2d):
            stat[0] += 2 * x.numel()
        elif isinstance(module, nn.ReLU):
            stat[0] += x.numel()
        elif isinstance(module, nn.AvgPool2d):
            k = module.kernel_size if isinstance(module.kernel_size, int) else module.kernel_size[0]
            stat[0] += k * k * output.numel()
        elif isinstance(module, nn.AdaptiveAvgPool2d):
            stat[0] += x.shape[1] * (x.shape[2] + 1) * (x.shape[3] + 1)

    for m in net.modules():
        m.register_forward_hook(hook)
    net.eval()
    with torch.no_grad():
        net(torch.zeros(1, 3, hw, hw))
    return sum(p.numel() for p in net.parameters()), macs[0], stat[0]


@pytest.mark.slow  # imports torch
@pytest.mark.parametrize(
    ("C", "N", "n_classes", "hw"), [(8, 2, 7, 16), (4, 1, 120, 8), (6, 3, 10, 4)]
)
def test_matches_a_torch_build(C, N, n_classes, hw):
    """The data pins C=16, N=5 (tests above); other sizes are checked against an actual network."""
    pytest.importorskip("torch")
    rng = np.random.default_rng(C + N)
    for index in [0, 11472, *rng.integers(0, space.N_CELLS, size=3)]:
        ops = space.from_index(int(index))
        params, macs, stat = measure(ops, C, N, n_classes, hw)
        assert params_m([index], n_classes, C, N)[0] * 1e6 == pytest.approx(params, abs=1e-6)
        got_macs = flops_m([index], n_classes, C, N, hw, counter="macs")[0] * 1e6
        got_stat = flops_m([index], n_classes, C, N, hw)[0] * 1e6
        assert got_macs == pytest.approx(macs, abs=1e-6)
        assert got_stat == pytest.approx(stat, abs=1e-6)


@pytest.mark.parametrize("kwargs", [{"n_classes": 0}, {"C": -16}, {"N": 2.5}, {"n_classes": True}])
def test_bad_size_raises(kwargs):
    name, value = next(iter(kwargs.items()))
    with pytest.raises(
        NasscoutError, match=f"{name}={value!r} is invalid; accepted: a positive integer"
    ):
        params_m([0], **kwargs)
    with pytest.raises(NasscoutError, match=f"{name}={value!r} is invalid"):
        flops_m([0], **kwargs)


def test_bad_input_size_raises():
    with pytest.raises(
        NasscoutError, match="input_hw=30 is invalid; accepted: a positive multiple of 4"
    ):
        flops_m([0], input_hw=30)


def test_bad_counter_raises():
    with pytest.raises(
        NasscoutError, match="unknown FLOP counter 'fvcore'; accepted: 'torchstat', 'macs'"
    ):
        flops_m([0], counter="fvcore")


def test_bad_index_raises():
    with pytest.raises(NasscoutError, match="-3 out of range"):
        params_m(np.array([-3]))
