-- Issue 10 items 3 and 4: what the selection's regime criterion and statistical gates read from a result.
--   regime            the token's volatility regime at the window's end: its window's realised volatility
--                     (hourly log returns) against its own windows over [token_selection]
--                     regime_lookback_days; NULL when there was too little history (or before 015)
--   returns_skewness  skewness of the backtest's per-bar returns (third standardised moment)
--   returns_kurtosis  their kurtosis, not in excess (a normal distribution has 3)
--   psr               probabilistic Sharpe ratio against 0 of those returns (Bailey & López de Prado 2012)
-- Results stored before this migration keep NULLs: the selection shows them as unknown.
ALTER TABLE backtest_results
    ADD COLUMN IF NOT EXISTS regime TEXT CONSTRAINT backtest_results_regime_valid
        CHECK (regime IN ('low', 'normal', 'high')),
    ADD COLUMN IF NOT EXISTS returns_skewness DOUBLE PRECISION,
    ADD COLUMN IF NOT EXISTS returns_kurtosis DOUBLE PRECISION,
    ADD COLUMN IF NOT EXISTS psr DOUBLE PRECISION;
