-- "Each token's latest result" is the one whose backtest window ends last (a backfill stored today
-- over an old window must not hide a token's current result), within the scope a selection ranks:
-- strategy, token, parameter set, interval. This index answers that with one probe per token and
-- chunk: about 3 ms instead of 0.5 s for 20 tokens over 518,400 stored results (30 days of 5-minute
-- sweeps of 3 parameter sets; benchmarks/bench_selection.py). The index it replaces ordered by insert
-- time and served only the former "latest" query.
DROP INDEX IF EXISTS idx_backtest_results_latest;
CREATE INDEX IF NOT EXISTS idx_backtest_results_latest_window
    ON backtest_results (strategy_name, symbol, params_hash, interval, backtest_window_end DESC, timestamp DESC);
