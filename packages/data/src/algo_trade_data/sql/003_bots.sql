-- Paper-trading bots: what a restarted daemon needs to bring each bot back with its open position.
-- bot_id is an opaque id ({strategy}:{symbol} by convention); the symbol is its own column and is
-- never parsed back out of the id.
CREATE TABLE IF NOT EXISTS bots (
    bot_id            TEXT PRIMARY KEY,
    symbol            TEXT NOT NULL,
    strategy_name     TEXT NOT NULL,
    parameters        JSONB NOT NULL DEFAULT '{}',
    interval          TEXT NOT NULL,
    state             TEXT NOT NULL,                      -- running, paused, stopped, error
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    error             TEXT,                               -- why the bot is in state error
    position          JSONB,                              -- open paper position and runner state
    equity            NUMERIC(20, 8) CHECK (equity > '-Infinity' AND equity < 'Infinity'),
    last_candle_time  TIMESTAMPTZ                         -- open time of the last bar the bot acted on
);
CREATE INDEX IF NOT EXISTS idx_bots_symbol ON bots (symbol);
