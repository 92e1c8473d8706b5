-- Issue 11: every trial of the per-token optimisation, compactly (docs/optimisation.md has the size
-- arithmetic: 200 tokens x 5000 sets a day for a year).
--
-- optimisation_runs: one row per optimisation; resume_key identifies its inputs (interval, window,
-- execution, spaces), so an interrupted run with the same inputs is resumed instead of restarted.
-- optimisation_tokens: per run and token, the fingerprint of the bars the trials were computed on (a
-- token whose data changed is recomputed) and, once chosen, the choice with its N and DSR.
-- parameter_sets: each parameter set once; trials refer to it by params_key, the 64-bit integer of
-- its 16-hex-digit params_hash (the same id as backtest_results.params_hash).
-- backtest_trials: one narrow row per (run, token, parameter set): ratios as float4 where 7 digits
-- are plenty, float8 where the value feeds the Deflated Sharpe Ratio or money.

CREATE TABLE IF NOT EXISTS optimisation_runs (
    run_id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ,
    status        TEXT NOT NULL,                          -- running, ok, partial, failed, interrupted
    resume_key    TEXT NOT NULL,
    interval      TEXT NOT NULL,
    window_start  TIMESTAMPTZ NOT NULL,
    window_end    TIMESTAMPTZ NOT NULL,
    executor      TEXT NOT NULL DEFAULT '',
    tasks_total   INTEGER NOT NULL DEFAULT 0,
    tasks_done    INTEGER NOT NULL DEFAULT 0,
    config        JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS idx_optimisation_runs_resume ON optimisation_runs (resume_key, started_at DESC);
CREATE INDEX IF NOT EXISTS idx_optimisation_runs_end ON optimisation_runs (interval, window_end DESC);

CREATE TABLE IF NOT EXISTS optimisation_tokens (
    run_id            BIGINT NOT NULL,
    symbol            TEXT NOT NULL,
    data_fingerprint  TEXT NOT NULL,
    num_bars          INTEGER NOT NULL,
    window_coverage   DOUBLE PRECISION NOT NULL,
    choice            JSONB,                              -- chosen strategy, parameters, metrics, N, DSR
    PRIMARY KEY (run_id, symbol)
);

CREATE TABLE IF NOT EXISTS parameter_sets (
    params_key     BIGINT PRIMARY KEY,
    params_hash    TEXT NOT NULL UNIQUE,
    strategy_name  TEXT NOT NULL,
    parameters     JSONB NOT NULL
);

CREATE TABLE IF NOT EXISTS backtest_trials (
    run_time        TIMESTAMPTZ NOT NULL,                 -- the run's started_at (hypertable time)
    run_id          BIGINT NOT NULL,
    symbol          TEXT NOT NULL,
    params_key      BIGINT NOT NULL,
    sharpe_ratio    DOUBLE PRECISION NOT NULL,            -- annualised; N and V[SR] come from here
    total_return    DOUBLE PRECISION NOT NULL,
    sortino_ratio   REAL NOT NULL,
    max_drawdown    REAL NOT NULL,
    win_rate        REAL NOT NULL,
    profit_factor   REAL,                                 -- NULL: no losing trade
    exposure        REAL NOT NULL,
    skewness        REAL NOT NULL,
    kurtosis        REAL NOT NULL,                        -- not in excess
    num_trades      INTEGER NOT NULL,
    CONSTRAINT backtest_trials_pkey PRIMARY KEY (run_time, run_id, symbol, params_key),
    CONSTRAINT backtest_trials_finite CHECK (
        sharpe_ratio > '-Infinity' AND sharpe_ratio < 'Infinity'
        AND total_return > '-Infinity' AND total_return < 'Infinity'
        AND win_rate BETWEEN 0 AND 1 AND exposure BETWEEN 0 AND 1 AND max_drawdown >= 0
        AND num_trades >= 0
    )
);
