-- Backtest results, sweep runs and token selections.
--
-- Money and returns are NUMERIC(20, 8) as in the seed (DECIMAL(20, 8)); statistical ratios are
-- DOUBLE PRECISION. The CHECKs reject NaN and infinities (PostgreSQL accepts both in float and
-- NUMERIC columns and sorts NaN above everything, so `x < 'Infinity'` rejects NaN too), so one bad
-- value fails the whole batch instead of poisoning token selection.

CREATE TABLE IF NOT EXISTS backtest_runs (
    run_id         TEXT PRIMARY KEY,
    started_at     TIMESTAMPTZ NOT NULL,
    finished_at    TIMESTAMPTZ,
    status         TEXT NOT NULL,                         -- running, ok, partial, failed
    tokens_ok      INTEGER NOT NULL DEFAULT 0 CHECK (tokens_ok >= 0),
    tokens_failed  INTEGER NOT NULL DEFAULT 0 CHECK (tokens_failed >= 0),
    errors         JSONB NOT NULL DEFAULT '{}',           -- symbol -> reason
    config         JSONB NOT NULL DEFAULT '{}',
    CONSTRAINT backtest_runs_finished_after_start CHECK (finished_at IS NULL OR finished_at >= started_at)
);
CREATE INDEX IF NOT EXISTS idx_backtest_runs_started ON backtest_runs (started_at DESC);

CREATE TABLE IF NOT EXISTS backtest_results (
    -- the seed's columns
    timestamp              TIMESTAMPTZ NOT NULL,          -- when the run produced the result
    symbol                 TEXT NOT NULL,
    strategy_name          TEXT NOT NULL,
    parameters             JSONB,
    sharpe_ratio           DOUBLE PRECISION NOT NULL,
    total_return           NUMERIC(20, 8) NOT NULL,
    max_drawdown           NUMERIC(20, 8) NOT NULL,
    num_trades             INTEGER NOT NULL,
    win_rate               DOUBLE PRECISION NOT NULL,
    initial_capital        NUMERIC(20, 8) NOT NULL,
    final_capital          NUMERIC(20, 8) NOT NULL,
    backtest_window_start  TIMESTAMPTZ NOT NULL,
    backtest_window_end    TIMESTAMPTZ NOT NULL,
    -- DESIGN.md section 4's additions
    run_id                 TEXT,                          -- backtest_runs.run_id (no FK: results outlive runs)
    exchange               TEXT NOT NULL DEFAULT 'hyperliquid',
    interval               TEXT NOT NULL DEFAULT '1m',
    params_hash            TEXT NOT NULL DEFAULT '',      -- stable id of the parameter set
    sortino_ratio          DOUBLE PRECISION NOT NULL DEFAULT 0,
    calmar_ratio           DOUBLE PRECISION NOT NULL DEFAULT 0,
    profit_factor          DOUBLE PRECISION,              -- NULL: no losing trade (infinite)
    buy_hold_return        NUMERIC(20, 8) NOT NULL DEFAULT 0,
    exposure               DOUBLE PRECISION NOT NULL DEFAULT 0,
    num_bars               INTEGER NOT NULL DEFAULT 0,
    window_coverage        DOUBLE PRECISION NOT NULL DEFAULT 0,
    CONSTRAINT backtest_results_pkey PRIMARY KEY (timestamp, symbol, strategy_name, params_hash),
    CONSTRAINT backtest_results_ratios_finite CHECK (
        sharpe_ratio > '-Infinity' AND sharpe_ratio < 'Infinity'
        AND sortino_ratio > '-Infinity' AND sortino_ratio < 'Infinity'
        AND calmar_ratio > '-Infinity' AND calmar_ratio < 'Infinity'
        AND (profit_factor IS NULL OR (profit_factor >= 0 AND profit_factor < 'Infinity'))
    ),
    CONSTRAINT backtest_results_fractions_valid CHECK (
        win_rate BETWEEN 0 AND 1
        AND exposure BETWEEN 0 AND 1
        AND window_coverage >= 0 AND window_coverage < 'Infinity'
        AND max_drawdown >= 0 AND max_drawdown < 'Infinity'
    ),
    CONSTRAINT backtest_results_money_finite CHECK (
        total_return > '-Infinity' AND total_return < 'Infinity'
        AND buy_hold_return > '-Infinity' AND buy_hold_return < 'Infinity'
        AND initial_capital > 0 AND initial_capital < 'Infinity'
        AND final_capital > '-Infinity' AND final_capital < 'Infinity'
    ),
    CONSTRAINT backtest_results_counts_valid CHECK (num_trades >= 0 AND num_bars >= 0),
    CONSTRAINT backtest_results_window_valid CHECK (backtest_window_start <= backtest_window_end)
);
-- The seed's indexes, plus one for "latest result per symbol" (DISTINCT ON) and one per run.
CREATE INDEX IF NOT EXISTS idx_backtest_results_symbol_time ON backtest_results (symbol, timestamp DESC);
CREATE INDEX IF NOT EXISTS idx_backtest_results_strategy_time ON backtest_results (strategy_name, timestamp DESC);
CREATE INDEX IF NOT EXISTS idx_backtest_results_sharpe ON backtest_results (sharpe_ratio DESC);
CREATE INDEX IF NOT EXISTS idx_backtest_results_latest
    ON backtest_results (strategy_name, symbol, timestamp DESC, params_hash);
CREATE INDEX IF NOT EXISTS idx_backtest_results_run ON backtest_results (run_id);

CREATE TABLE IF NOT EXISTS token_selections (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    selected_at    TIMESTAMPTZ NOT NULL,
    strategy_name  TEXT NOT NULL,
    approved       TEXT[] NOT NULL,                       -- in rank order
    details        JSONB NOT NULL DEFAULT '[]',           -- per token: metrics, failed criteria, score, rank
    fallback_used  BOOLEAN NOT NULL DEFAULT FALSE,
    run_id         TEXT                                   -- the sweep whose results were selected from
);
CREATE INDEX IF NOT EXISTS idx_token_selections_strategy_time ON token_selections (strategy_name, selected_at DESC);
CREATE INDEX IF NOT EXISTS idx_token_selections_time ON token_selections (selected_at DESC);
