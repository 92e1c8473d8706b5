"""The divergence envelope: the bootstrap's bookkeeping against known answers, and synthetic bots that
match their backtest (pass) or underperform it (fail, with the numbers)."""

from __future__ import annotations

import numpy as np
import pytest

from algo_trade_core import ConfigError, TrackingConfig, load_config
from algo_trade_tracking import LiveTrack, build_envelope, check_divergence, cusum_path, horizon_grid

SETTINGS = TrackingConfig(bootstrap_samples=500, block_bars=30, min_trades_for_psr=20)
CAPITAL = 10_000.0


def strategy_returns(n: int, *, seed: int, edge: float) -> tuple[np.ndarray, np.ndarray]:
    """A strategy-like series: flat (0) half the time, in a position otherwise with per-bar returns
    N(edge, 1e-3); a round trip closes about every 40 bars."""
    rng = np.random.default_rng(seed)
    held = np.repeat(rng.random(n // 20 + 1) < 0.5, 20)[:n]
    returns = np.where(held, rng.normal(edge, 1e-3, n), 0.0)
    trades = (rng.random(n) < 1 / 40).astype(np.float64)
    return returns, trades


def live_of(returns: np.ndarray, trades: np.ndarray) -> LiveTrack:
    return LiveTrack(equity=CAPITAL * np.cumprod(1 + returns), capital=CAPITAL, trades=int(trades.sum()))


def test_the_bootstrap_paths_add_up_on_a_series_with_a_known_answer() -> None:
    # Every bar loses 0.1 % and closes one trade: every path, whatever its blocks, has the same numbers.
    n = 500
    env = build_envelope(np.full(n, -0.001), np.ones(n), SETTINGS, horizon_bars=2_000, basis="constant")
    assert env.horizons[0] == 1
    assert env.horizons[-1] == 2_000
    for h in (int(x) for x in env.horizons[[0, 10, 30, -1]]):  # grid horizons: no interpolation
        limits = env.at(h)
        assert limits["drawdown_limit"] == pytest.approx(1 - 0.999**h, rel=1e-9)
        assert limits["trades_low"] == limits["trades_high"] == pytest.approx(h)
        assert limits["growth_mid"] == pytest.approx(0.999**h, rel=1e-9)
    with pytest.raises(ValueError, match="covers 2000 bars, the bot has 2001"):
        env.at(2_001)


def test_a_bot_that_trades_like_its_backtest_passes_and_one_that_underperforms_fails() -> None:
    returns, trades = strategy_returns(30_000, seed=1, edge=5e-5)
    env = build_envelope(returns, trades, SETTINGS, horizon_bars=5_000, basis="synthetic backtest")

    same = check_divergence(env, live_of(*strategy_returns(5_000, seed=2, edge=5e-5)))
    assert same.ok, [r.message for r in same.reasons]
    assert same.figures["psr"] is not None  # enough trades: the PSR check ran and passed
    assert same.figures["live_drawdown"] < same.figures["drawdown_limit"]  # type: ignore[operator]

    # Same trading, an edge of -0.3 standard deviations per bar in position: a losing bot.
    worse = check_divergence(env, live_of(*strategy_returns(5_000, seed=2, edge=-3e-4)))
    assert not worse.ok
    kinds = {r.kind for r in worse.reasons}
    assert {"drawdown", "psr", "cusum"} <= kinds
    assert "trade_rate" not in kinds  # it trades as often as the backtest; only its results differ
    drawdown = next(r for r in worse.reasons if r.kind == "drawdown")
    assert drawdown.value > drawdown.limit
    assert "95% quantile" in drawdown.message


def test_a_bot_trading_far_more_or_less_than_its_backtest_is_flagged_by_the_trade_rate_band() -> None:
    returns, trades = strategy_returns(30_000, seed=3, edge=0.0)
    env = build_envelope(returns, trades, SETTINGS, horizon_bars=4_000, basis="synthetic backtest")
    live_returns, _ = strategy_returns(4_000, seed=4, edge=0.0)
    expected = env.at(4_000)["expected_trades"]
    assert expected == pytest.approx(100, rel=0.1)
    for count, limit in ((int(expected * 3), "trades_high"), (int(expected / 4), "trades_low")):
        check = check_divergence(
            env, LiveTrack(equity=CAPITAL * np.cumprod(1 + live_returns), capital=CAPITAL, trades=count)
        )
        reasons = [r for r in check.reasons if r.kind == "trade_rate"]
        assert len(reasons) == 1
        assert reasons[0].limit == pytest.approx(check.figures[limit])


def test_psr_waits_for_the_minimum_number_of_trades() -> None:
    returns, trades = strategy_returns(10_000, seed=5, edge=0.0)
    env = build_envelope(returns, trades, SETTINGS, horizon_bars=1_000, basis="synthetic")
    losing = CAPITAL * np.cumprod(1 + np.full(1_000, -1e-4))
    few = check_divergence(env, LiveTrack(equity=losing, capital=CAPITAL, trades=5))
    assert few.figures["psr"] is None
    assert "5 closed trades < min_trades_for_psr 20" in few.skipped["psr"]
    assert "psr" not in {r.kind for r in few.reasons}


def test_cusum_accumulates_only_shortfalls_beyond_the_drift() -> None:
    # Returns at the mean never move it; 2 sigma below for 10 bars with drift 0.5: 10 * (-2 + 0.5).
    path = cusum_path(np.r_[np.zeros(5), np.full(10, -2e-3), np.full(3, 5e-3)], 0.0, 1e-3, 0.5)
    assert path[:5].tolist() == [0.0] * 5
    assert path[14] == pytest.approx(-15.0)
    assert path[15] == pytest.approx(-15.0 + 5.5)
    assert path.max() <= 0.0


def test_horizon_grid_is_ascending_and_ends_at_the_horizon() -> None:
    grid = horizon_grid(10_080)
    assert grid[0] == 1
    assert grid[-1] == 10_080
    assert np.all(np.diff(grid) > 0)


def test_impossible_tracking_settings_are_a_clear_config_error(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "Config.toml"
    path.write_text("[bots.tracking]\ntrade_rate_low = 0.9\ntrade_rate_high = 0.5\n", encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"bots\.tracking\.trade_rate_low: expected < trade_rate_high \(0\.5\)"
    ):
        load_config(path, env={})
    path.write_text("[bots.tracking]\npsr_threshold = 1.5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bots\.tracking\.psr_threshold: expected < 1, got 1\.5"):
        load_config(path, env={})
