"""The supernet's single path is the stand-alone NB201 network; SharedWeights resumes and scores exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from surrogate.errors import NasscoutError
from surrogate.network import count_parameters
from surrogate.spaces.nb201 import NB201Space
from surrogate.training.presets import get_preset
from surrogate.training.supernet import SharedWeights, build_supernet, cell_ops, inherit

SPACE = NB201Space()
SMALL = get_preset("cpu-mini", {"n_train": 256, "n_valid": 128, "n_test": 128, "batch_size": 64})


def _trained_supernet(seed: int = 0):
    net = build_supernet(C=4, N=1, n_classes=10, in_channels=1, seed=seed)
    gen = torch.Generator().manual_seed(1)
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    rng = np.random.default_rng(0)
    for _ in range(6):  # move weights and BN statistics away from their initial values
        x = torch.randn(8, 1, 16, 16, generator=gen)
        y = torch.randint(0, 10, (8,), generator=gen)
        cell = cell_ops(int(rng.integers(0, 15625)))
        loss = torch.nn.functional.cross_entropy(net(x, cell), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net


@pytest.mark.parametrize(
    "cell", [0, 1234, 15624, "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"]
)
def test_single_path_equals_inherited_standalone_network(cell):
    net = _trained_supernet().eval()
    sub = inherit(net, cell).eval()
    x = torch.randn(5, 1, 16, 16, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert torch.equal(net(x, cell), sub(x))
    assert count_parameters(sub) < count_parameters(net)


def test_mixed_forward_with_one_hot_weights_is_the_single_path():
    net = _trained_supernet().eval()
    cell = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
    w = torch.zeros(6, 5)
    w[torch.arange(6), torch.tensor(cell_ops(cell))] = 1.0
    x = torch.randn(3, 1, 16, 16, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert torch.allclose(net.forward_mixed(x, w), net(x, cell), atol=1e-6)
    with pytest.raises(NasscoutError, match=r"\(6, 5\)"):
        net.forward_mixed(x, torch.zeros(5, 5))


def test_cell_outside_the_space_is_one_clear_error():
    with pytest.raises(NasscoutError):
        cell_ops(15625)


def _run(sw: SharedWeights, steps: int, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed + sw.step)
    return [
        sw.train_step(*sw.next_batch(), cell_ops(int(rng.integers(0, 15625)))) for _ in range(steps)
    ]


def test_shared_weights_resume_is_bit_identical():
    full = SharedWeights("fashion-mnist", SMALL, seed=3, epochs=2)
    losses = _run(full, 3) + _run(full, 4)
    half = SharedWeights("fashion-mnist", SMALL, seed=3, epochs=2)
    first = _run(half, 3)
    state = half.state_dict()
    resumed = SharedWeights("fashion-mnist", SMALL, seed=3, epochs=2)
    resumed.load_state_dict(state)
    assert first + _run(resumed, 4) == losses
    for a, b in zip(full.net.state_dict().values(), resumed.net.state_dict().values()):
        assert torch.equal(a, b)
    other = SharedWeights("fashion-mnist", SMALL, seed=4, epochs=2)
    with pytest.raises(NasscoutError, match="seed"):
        other.load_state_dict(state)


def test_score_is_deterministic_and_leaves_training_state_alone():
    sw = SharedWeights("fashion-mnist", SMALL, seed=0, epochs=1)
    _run(sw, 4)
    before = {k: v.clone() for k, v in sw.net.state_dict().items()}
    a = sw.score([0, 100, 9000], recal_batches=2)
    b = sw.score([0, 100, 9000], recal_batches=2)
    assert np.array_equal(a, b) and a.shape == (3,) and ((a >= 0) & (a <= 100)).all()
    for k, v in sw.net.state_dict().items():
        assert torch.equal(v, before[k]), k
    with pytest.raises(NasscoutError, match="split"):
        sw.score([0], split="train")
