-- What happened to bots besides trading: protection stops, alerts, shadow bots started and ended.
-- Every stop and alert is stored here (and logged, and sent to the configured notifiers). A protection
-- stop also starts the token's cooldown: bot sync reads the latest stop of a (strategy, symbol) from
-- here, so the cooldown survives a daemon restart. event_key makes a replayed event a no-op (a bot that
-- restarts and replays the bar that tripped its protection writes the same key again).
CREATE TABLE IF NOT EXISTS bot_events (
    event_key      TEXT PRIMARY KEY,
    time           TIMESTAMPTZ NOT NULL,
    bot_id         TEXT NOT NULL,
    symbol         TEXT NOT NULL,
    strategy_name  TEXT NOT NULL,
    kind           TEXT NOT NULL,                -- stop, alert, shadow_started, shadow_ended
    details        JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS idx_bot_events_time ON bot_events (time);
CREATE INDEX IF NOT EXISTS idx_bot_events_symbol_kind ON bot_events (strategy_name, symbol, kind, time DESC);
