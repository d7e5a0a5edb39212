"""The LSTM controller (strategies/controller.py) and `reinforce` with ``controller=lstm`` (Zoph & Le's NAS)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from strategies.controller import LSTMController
from strategies.reinforce import Reinforce
from surrogate.errors import NasscoutError
from surrogate.spaces.nb201 import NB201Space

SPACE = NB201Space()


def test_sampling_is_a_pure_function_of_the_seed():
    a = LSTMController([5] * 6, seed=4).sample(32)[0]
    b = LSTMController([5] * 6, seed=4).sample(32)[0]
    c = LSTMController([5] * 6, seed=5).sample(32)[0]
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == (32, 6) and int(a.min()) >= 0 and int(a.max()) <= 4


def test_positions_of_different_cardinality_never_draw_a_missing_choice():
    ctl = LSTMController([2, 7, 3], seed=0, tanh_constant=None, temperature=None)
    a = ctl.sample(2000)[0].numpy()
    assert [set(np.unique(a[:, p])) for p in range(3)] == [
        set(range(2)),
        set(range(7)),
        set(range(3)),
    ]


def test_teacher_forced_log_prob_matches_the_sampling_distribution():
    ctl = LSTMController([5] * 6, seed=1)
    actions, logp, ent = ctl.sample(8)
    logp2, ent2 = ctl.log_prob(actions)
    assert torch.allclose(logp, logp2) and torch.allclose(ent, ent2)
    # tanh constant 2.5: each choice's logit lies in [-2.5, 2.5], so no probability is below e^-5 / 5
    assert float(logp.min()) > 6 * np.log(np.exp(-5.0) / 5)


def test_reinforce_concentrates_on_the_rewarded_op_and_resumes_exactly():
    conv3 = SPACE.OPS.index("nor_conv_3x3")
    ctl = LSTMController([5] * 6, seed=0, lr=0.05)
    baseline, saved = 0.0, None
    for step in range(60):
        actions = ctl.sample(10)[0]
        reward = (actions == conv3).float().mean(1)  # toy: the share of conv3x3 edges
        baseline = 0.9 * baseline + 0.1 * float(reward.mean())
        ctl.reinforce(actions, reward - baseline, entropy_weight=1e-4)
        if step == 29:
            saved = (ctl.full_state(), baseline)
    share = float((ctl.sample(500)[0] == conv3).float().mean())
    assert share > 0.6, share  # uniform: 0.2
    assert SPACE.ops(SPACE.indices_from_ops(np.array(ctl.argmax())))[0].tolist() == [conv3] * 6
    # the checkpointed state (tensors only) continues to the same policy
    again = LSTMController([5] * 6, seed=99, lr=0.05)
    again.load_full_state(saved[0])
    baseline = saved[1]
    for _ in range(30):
        actions = again.sample(10)[0]
        reward = (actions == conv3).float().mean(1)
        baseline = 0.9 * baseline + 0.1 * float(reward.mean())
        again.reinforce(actions, reward - baseline, entropy_weight=1e-4)
    for x, y in zip(ctl.state_dict().values(), again.state_dict().values()):
        assert torch.equal(x, y)


def test_reinforce_lstm_option_is_checked():
    with pytest.raises(NasscoutError, match="controller 'gru'.*factorised, lstm"):
        Reinforce(SPACE, seed=0, controller="gru")
    with pytest.raises(NasscoutError, match="lstm_hidden"):
        Reinforce(SPACE, seed=0, controller="lstm", lstm_hidden=0)
    assert Reinforce(SPACE, seed=0).lstm is None  # the default stays the factorised policy


def test_reinforce_lstm_is_deterministic_per_seed(nb201):
    from strategies.runner import Runner

    def rows(seed):
        r = Runner(nb201, dataset="cifar10", seed=seed, budget_queries=40)
        return [row[:8] for row in r.run("reinforce", options={"controller": "lstm"}).rows]

    assert rows(3) == rows(3) and rows(3) != rows(4)


def test_reinforce_lstm_option_from_the_command_line():
    from strategies.options import parse_options

    opts = parse_options(["reinforce.controller=lstm", "reinforce.lstm_hidden=16"], ["reinforce"])
    assert opts == {"reinforce": {"controller": "lstm", "lstm_hidden": 16}}
    with pytest.raises(NasscoutError, match="controller"):
        parse_options(["reinforce.controller=gru"], ["reinforce"])


@pytest.mark.slow
def test_reinforce_lstm_learns_on_nb201_better_than_random_search(nb201):
    """300 queries on NB201 CIFAR-10, seeds 0-2: its later proposals are far better than random cells, and
    its final incumbent is better on average than random search's at the same budget."""
    from strategies.runner import Runner

    late, regret = {}, {}
    for name, opts in (("rs", {}), ("reinforce", {"controller": "lstm"})):
        late[name], regret[name] = [], []
        for seed in range(3):
            t = Runner(nb201, dataset="cifar10", seed=seed, budget_queries=300).run(
                name, options=opts
            )
            late[name].append(float(np.mean(t.column("true_acc")[150:])))
            regret[name].append(float(t.regret()[-1]))
    assert min(late["reinforce"]) > max(late["rs"]) + 3.0, late
    assert np.mean(regret["reinforce"]) < np.mean(regret["rs"]), regret
