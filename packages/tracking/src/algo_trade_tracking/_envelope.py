"""The divergence envelope: what a bot's live numbers should look like, judged by its own backtest.

From the backtest a bot was approved on (its per-bar returns and the bars its trades closed on),
:func:`build_envelope` draws block-bootstrap paths (``[bots.tracking] bootstrap_samples`` paths of blocks
of ``block_bars`` bars) and keeps, at a grid of horizons up to ``horizon_bars``, the distribution of the
maximum drawdown, the number of closed trades and the equity growth. :func:`check_divergence` then
flags live numbers outside it, at the live bot's elapsed bars:

- ``drawdown``: the live maximum drawdown beyond the ``drawdown_quantile`` (0.95) of the bootstrapped
  drawdowns over as many bars;
- ``trade_rate``: closed live trades outside the ``trade_rate_low``–``trade_rate_high`` (5–95 %) band;
- ``psr``: after ``min_trades_for_psr`` closed trades, the probability that the live per-bar Sharpe ratio
  is above 0 (PSR, non-normal returns) below ``psr_threshold``;
- ``cusum``: the one-sided CUSUM of the live minus the backtest's mean per-bar return, in standard
  deviations of the backtest's per-bar returns, less the drift ``cusum_drift`` per bar, at or below
  ``-cusum_threshold``.

Pure functions over arrays: the protection of a running daemon calls :func:`check_divergence` on each
evaluation with the bot's equity so far.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from algo_trade_backtest import BacktestResult
from algo_trade_core import TrackingConfig, probabilistic_sharpe_ratio
from algo_trade_tracking._kernels import bootstrap_paths_nb

__all__ = [
    "DivergenceCheck",
    "DivergenceReason",
    "Envelope",
    "LiveTrack",
    "build_envelope",
    "check_divergence",
    "cusum_path",
    "envelope_of_backtest",
    "horizon_grid",
]

FloatArray = npt.NDArray[np.float64]
ReasonKind = Literal["drawdown", "trade_rate", "psr", "cusum"]


def horizon_grid(horizon_bars: int, points: int = 64) -> npt.NDArray[np.int64]:
    """About ``points`` horizons from 1 to ``horizon_bars`` bars, geometric (dense where bots are young)."""
    if horizon_bars < 1:
        raise ValueError(f"expected a horizon of at least 1 bar, got {horizon_bars}")
    grid = np.unique(np.round(np.geomspace(1, horizon_bars, points)).astype(np.int64))
    return np.asarray(np.union1d(grid, [horizon_bars]), dtype=np.int64)


@dataclass(frozen=True, kw_only=True, slots=True)
class Envelope:
    """The bootstrapped distribution of a backtest's paths, at ``horizons`` (bars), and its per-bar
    return moments. ``basis`` says which backtest it stands on."""

    basis: str
    settings: TrackingConfig
    backtest_bars: int
    backtest_trades: int
    mean_return: float  # per bar
    std_return: float  # per bar (ddof = 1)
    horizons: npt.NDArray[np.int64]
    drawdown_limit: FloatArray  # the drawdown_quantile of the max drawdown at each horizon
    trades_low: FloatArray  # the trade_rate_low quantile of closed trades at each horizon
    trades_high: FloatArray
    growth_low: FloatArray  # 5 %, 50 %, 95 % of the equity growth factor (for the plot)
    growth_mid: FloatArray
    growth_high: FloatArray

    @property
    def horizon_bars(self) -> int:
        return int(self.horizons[-1])

    def at(self, bars: int) -> dict[str, float]:
        """The envelope's limits after ``bars`` bars (linear between grid horizons).

        Raises:
            ValueError: ``bars`` is beyond the horizon the envelope was built for.
        """
        if bars > self.horizon_bars:
            raise ValueError(
                f"the envelope covers {self.horizon_bars} bars, the bot has {bars}: rebuild it with "
                f"build_envelope(horizon_bars >= {bars})"
            )
        x = float(max(bars, 1))

        def interp(values: FloatArray) -> float:
            return float(np.interp(x, self.horizons, values))

        return {
            "drawdown_limit": interp(self.drawdown_limit),
            "trades_low": interp(self.trades_low),
            "trades_high": interp(self.trades_high),
            "expected_trades": self.backtest_trades / self.backtest_bars * bars
            if self.backtest_bars
            else 0.0,
            "growth_low": interp(self.growth_low),
            "growth_mid": interp(self.growth_mid),
            "growth_high": interp(self.growth_high),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "basis": self.basis,
            "backtest_bars": self.backtest_bars,
            "backtest_trades": self.backtest_trades,
            "mean_return_per_bar": self.mean_return,
            "std_return_per_bar": self.std_return,
            "horizon_bars": self.horizon_bars,
            "bootstrap_samples": self.settings.bootstrap_samples,
            "block_bars": self.settings.block_bars,
        }


def build_envelope(
    returns: npt.ArrayLike,
    trades_per_bar: npt.ArrayLike,
    settings: TrackingConfig,
    *,
    horizon_bars: int,
    basis: str,
    seed: int = 0,
) -> Envelope:
    """Bootstrap the envelope of a backtest's per-bar ``returns`` (see the module docstring).

    Args:
        returns: the backtest's per-bar returns (one per bar close).
        trades_per_bar: round trips closed at each of those bars (same length).
        settings: ``[bots.tracking]``.
        horizon_bars: the longest live span the envelope must cover, in bars.
        basis: which backtest this is, for people ("result of run X over A..B").
        seed: the bootstrap's random seed (the same seed draws the same paths).

    Raises:
        ValueError: fewer than 2 returns, arrays of different lengths, or a non-finite value.
    """
    r = np.ascontiguousarray(returns, dtype=np.float64)
    tr = np.ascontiguousarray(trades_per_bar, dtype=np.float64)
    if r.ndim != 1 or r.shape[0] < 2:
        raise ValueError(f"expected at least 2 per-bar returns of the backtest, got {r.shape}")
    if tr.shape != r.shape:
        raise ValueError(f"expected trades_per_bar of the returns' length {r.shape[0]}, got {tr.shape}")
    if not (np.isfinite(r).all() and np.isfinite(tr).all()):
        raise ValueError("expected finite per-bar returns and trade counts of the backtest")
    horizons = horizon_grid(horizon_bars)
    samples = settings.bootstrap_samples
    drawdown = np.zeros((samples, horizons.shape[0]))
    trades = np.zeros_like(drawdown)
    growth = np.zeros_like(drawdown)
    block = settings.block_bars
    blocks = -(-int(horizons[-1]) // block)
    starts = np.random.default_rng(seed).integers(0, r.shape[0], size=(samples, blocks), dtype=np.int64)
    bootstrap_paths_nb(r, tr, block, horizons, starts, drawdown, trades, growth)
    return Envelope(
        basis=basis,
        settings=settings,
        backtest_bars=int(r.shape[0]),
        backtest_trades=round(float(tr.sum())),
        mean_return=float(r.mean()),
        std_return=float(r.std(ddof=1)),
        horizons=horizons,
        drawdown_limit=np.quantile(drawdown, settings.drawdown_quantile, axis=0),
        trades_low=np.quantile(trades, settings.trade_rate_low, axis=0),
        trades_high=np.quantile(trades, settings.trade_rate_high, axis=0),
        growth_low=np.quantile(growth, 0.05, axis=0),
        growth_mid=np.quantile(growth, 0.5, axis=0),
        growth_high=np.quantile(growth, 0.95, axis=0),
    )


def envelope_of_backtest(
    result: BacktestResult, settings: TrackingConfig, *, horizon_bars: int, basis: str, seed: int = 0
) -> Envelope:
    """:func:`build_envelope` of a backtest result's equity curve and closed trades."""
    capital = result.execution.initial_capital
    n = int(result.equity.shape[0])
    exits = np.array([t.exit_index for t in result.trades], dtype=np.int64)
    per_bar = np.bincount(exits, minlength=n)[:n].astype(np.float64) if exits.size else np.zeros(n)
    return build_envelope(
        bar_returns(result.equity, capital),
        per_bar,
        settings,
        horizon_bars=horizon_bars,
        basis=basis,
        seed=seed,
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class LiveTrack:
    """A live bot so far: its equity at each live bar close, its starting capital, its closed trades."""

    equity: FloatArray
    capital: float
    trades: int

    @property
    def bars(self) -> int:
        return int(self.equity.shape[0])


@dataclass(frozen=True, slots=True)
class DivergenceReason:
    """One check outside the envelope: which, the live value, the limit it crossed, and why in words."""

    kind: ReasonKind
    value: float
    limit: float
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value, "limit": self.limit, "message": self.message}


@dataclass(frozen=True, kw_only=True, slots=True)
class DivergenceCheck:
    """The result of :func:`check_divergence`: ``ok`` when no check failed; every figure in ``figures``
    (``None`` for a check that does not apply yet, with the reason in ``skipped``)."""

    ok: bool
    bars: int
    reasons: list[DivergenceReason]
    figures: dict[str, float | None]
    skipped: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "bars": self.bars,
            "reasons": [r.to_json() for r in self.reasons],
            "figures": self.figures,
            "skipped": self.skipped,
        }


def bar_returns(equity: FloatArray, capital: float) -> FloatArray:
    """Per-bar returns of ``equity`` (the first against the starting ``capital``), as the walk-forward's."""
    previous = np.concatenate(([capital], equity[:-1]))
    return np.asarray(equity / previous - 1.0, dtype=np.float64)


def sharpe_moments(returns: FloatArray) -> tuple[float, float, float] | None:
    """Per-bar Sharpe ratio (ddof = 1), skewness and raw kurtosis of ``returns``, as the PSR takes them;
    None when they do not vary."""
    if returns.shape[0] < 2:
        return None
    mean = float(returns.mean())
    sd = float(returns.std(ddof=1))
    if not sd > 0.0:
        return None
    centred = returns - mean
    m2 = float(np.mean(centred**2))
    return mean / sd, float(np.mean(centred**3)) / m2**1.5, float(np.mean(centred**4)) / m2**2


def _max_drawdown(equity: FloatArray, capital: float) -> float:
    path = np.concatenate(([capital], equity))
    peaks = np.maximum.accumulate(path)
    return float(np.max(1.0 - path / peaks))


def cusum_path(returns: FloatArray, mean: float, std: float, drift: float) -> FloatArray:
    """The lower CUSUM ``S_t = min(0, S_{t-1} + (r_t - mean) / std + drift)`` (0 everywhere when std = 0)."""
    if not std > 0.0 or returns.shape[0] == 0:
        return np.zeros(returns.shape[0])
    z = (returns - mean) / std + drift
    # S_t = C_t - max(0, max_{j<=t} C_j) with C the running sum: the min(0, ...) recursion in closed form.
    c = np.cumsum(z)
    return np.asarray(c - np.maximum(np.maximum.accumulate(c), 0.0), dtype=np.float64)


def check_divergence(envelope: Envelope, live: LiveTrack) -> DivergenceCheck:
    """Check a live bot against its envelope (see the module docstring).

    Raises:
        ValueError: the bot has more bars than the envelope covers (rebuild it with a longer horizon).
    """
    s = envelope.settings
    n = live.bars
    figures: dict[str, float | None] = {"live_bars": float(n), "live_trades": float(live.trades)}
    skipped: dict[str, str] = {}
    reasons: list[DivergenceReason] = []
    if n == 0:
        return DivergenceCheck(ok=True, bars=0, reasons=[], figures=figures, skipped={"all": "no live bars"})
    limits = envelope.at(n)
    figures.update(limits)

    drawdown = _max_drawdown(live.equity, live.capital)
    figures["live_drawdown"] = drawdown
    if drawdown > limits["drawdown_limit"]:
        reasons.append(
            DivergenceReason(
                "drawdown",
                drawdown,
                limits["drawdown_limit"],
                f"live drawdown {drawdown:.2%} beyond the backtest's {s.drawdown_quantile:.0%} quantile "
                f"{limits['drawdown_limit']:.2%} over {n} bars",
            )
        )

    low, high = limits["trades_low"], limits["trades_high"]
    if not low <= live.trades <= high:
        reasons.append(
            DivergenceReason(
                "trade_rate",
                float(live.trades),
                low if live.trades < low else high,
                f"{live.trades} closed trades in {n} bars, outside the backtest's "
                f"{s.trade_rate_low:.0%}–{s.trade_rate_high:.0%} band {low:.1f}–{high:.1f}",
            )
        )

    returns = bar_returns(live.equity, live.capital)
    figures["psr"] = None
    if live.trades < s.min_trades_for_psr:
        skipped["psr"] = f"{live.trades} closed trades < min_trades_for_psr {s.min_trades_for_psr}"
    else:
        moments = sharpe_moments(returns)
        try:
            if moments is None:
                raise ValueError("the live per-bar returns do not vary")
            psr = probabilistic_sharpe_ratio(moments[0], 0.0, n, moments[1], moments[2])
        except ValueError as exc:
            skipped["psr"] = str(exc)
        else:
            figures["psr"] = psr
            if psr < s.psr_threshold:
                reasons.append(
                    DivergenceReason(
                        "psr",
                        psr,
                        s.psr_threshold,
                        f"PSR {psr:.3f} < {s.psr_threshold}: the live Sharpe ratio is probably not above 0 "
                        f"after {live.trades} trades",
                    )
                )

    path = cusum_path(returns, envelope.mean_return, envelope.std_return, s.cusum_drift)
    figures["cusum"] = None
    if not envelope.std_return > 0.0:
        skipped["cusum"] = "the backtest's per-bar returns do not vary (it never held a position)"
    else:
        cusum = float(path[-1])
        figures["cusum"] = cusum
        figures["cusum_min"] = float(path.min())
        if cusum <= -s.cusum_threshold:
            reasons.append(
                DivergenceReason(
                    "cusum",
                    cusum,
                    -s.cusum_threshold,
                    f"CUSUM of live minus expected per-bar returns {cusum:.1f} σ <= -{s.cusum_threshold:g} σ",
                )
            )
    for name, value in figures.items():
        if value is not None and not math.isfinite(value):
            figures[name] = None
    return DivergenceCheck(ok=not reasons, bars=n, reasons=reasons, figures=figures, skipped=skipped)
