-- Walk-forward studies of the token selection (algo-trade walkforward): one row per study, one per period.
CREATE TABLE IF NOT EXISTS walkforward_runs (
    run_id          TEXT PRIMARY KEY,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    range_start     TIMESTAMPTZ NOT NULL,
    range_end       TIMESTAMPTZ NOT NULL,
    interval        TEXT NOT NULL,
    strategy_name   TEXT NOT NULL,
    params_hash     TEXT NOT NULL,
    settings        JSONB NOT NULL,
    summary         JSONB NOT NULL,
    statistics      JSONB NOT NULL,
    curves          JSONB NOT NULL,          -- equity curves for plots, reduced to at most a few thousand points
    verdict         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_walkforward_runs_created ON walkforward_runs (created_at DESC);

CREATE TABLE IF NOT EXISTS walkforward_periods (
    run_id               TEXT NOT NULL REFERENCES walkforward_runs (run_id) ON DELETE CASCADE,
    period_start         TIMESTAMPTZ NOT NULL,
    period_end           TIMESTAMPTZ NOT NULL,
    approved             TEXT[] NOT NULL,
    fallback             BOOLEAN NOT NULL,
    turnover             DOUBLE PRECISION NOT NULL,
    ic                   DOUBLE PRECISION,
    selection_return     DOUBLE PRECISION NOT NULL,
    universe_return      DOUBLE PRECISION NOT NULL,
    random_median_return DOUBLE PRECISION,
    token_returns        JSONB NOT NULL,      -- out-of-sample return of a bot of each eligible token
    details              JSONB NOT NULL,      -- skipped, added/removed, scores, missing tokens, regimes, pnl
    PRIMARY KEY (run_id, period_start)
);
