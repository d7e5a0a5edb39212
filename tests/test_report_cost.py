"""``median_cost_s_to_regret_<r>``: training seconds until the incumbent's regret is <= r, median over seeds."""

from __future__ import annotations

import json
import math

import numpy as np

from strategies.report import SeedCurve, cost_to_regret, median_cost_to_regret
from tests.test_cli_run import nasscout


def _curve(regret, cost) -> SeedCurve:
    n = len(regret)
    z = np.zeros(n)
    return SeedCurve(
        seed=0,
        regret=np.asarray(regret, float),
        test_acc=z,
        sim_time=np.arange(n, dtype=float),
        found_best=z.astype(bool),
        true_acc=z,
        params_m=z,
        cost_s=np.cumsum(cost).astype(float),
    )


def test_cost_to_regret_is_the_cumulative_cost_at_the_first_hit():
    c = _curve([np.nan, 2.0, 0.5, 0.3, 0.05], [10, 20, 30, 40, 50])
    assert cost_to_regret(c, 0.3) == 100  # 10+20+30+40: regret 0.3 counts as reached
    assert cost_to_regret(c, 0.1) == 150
    assert cost_to_regret(c, 0.01) == math.inf


def test_median_is_null_when_fewer_than_half_of_the_seeds_get_there():
    reach = [_curve([1.0, 0.2], [5, 5]), _curve([0.2], [30])]
    never = [_curve([1.0, 0.9], [5, 5]), _curve([0.5], [7])]
    assert (
        median_cost_to_regret(reach + never, 0.3) == 30
    )  # 2 of 4: lower median of (10, 30, inf, inf)
    assert math.isnan(median_cost_to_regret(reach[:1] + never, 0.3))  # 1 of 3
    assert median_cost_to_regret(reach, 0.3) == 10  # lower median of (10, 30)
    assert math.isnan(median_cost_to_regret([], 0.3))


def test_report_json_and_plot_carry_the_cost_figures(nb201, tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = nasscout(
        capsys, "run", "--strategy", "rs,rea", "--seeds", "4", "--budget-queries", "150",
        "--jobs", "1", "-q", "--out", out,
    )  # fmt: skip
    assert code == 0, err
    code, text, _ = nasscout(capsys, "report", out, "--json", "--no-plots")
    data = json.loads(text)
    import pandas as pd

    df = pd.read_csv(out / "results.csv")
    for name, s in data.items():
        c3, c1 = s["median_cost_s_to_regret_0.3"], s["median_cost_s_to_regret_0.1"]
        assert c3 is None or c3 > 0
        if c1 is not None:
            assert c3 is not None and c1 >= c3
        total = df[df["strategy"] == name].groupby("seed")["cost_s"].sum()
        assert abs(s["cost_s_mean_final"] - total.mean()) < 1e-6 * total.mean()
        if c3 is not None:
            assert c3 <= total.max()
    code, text, _ = nasscout(capsys, "report", out)
    assert code == 0 and "training cost" in text and "<= 0.3" in text
    png = out / "regret_vs_cost.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
