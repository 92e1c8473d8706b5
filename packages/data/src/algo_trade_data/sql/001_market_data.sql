-- Market data: candles (ohlcv), public trades, and fills (exchange and paper-bot fills).
--
-- Prices and volumes of market data are plain NUMERIC (no fixed scale): the store keeps the decimal
-- the exchange (or file) gave, whatever its size. NUMERIC(20, 8) would round sub-cent assets (an
-- unscaled PEPE or SHIB price near 1e-5 keeps only 3-4 significant digits at 8 places) and overflows
-- at 1e12, which the base-unit volume of a memecoin can exceed. Ratios elsewhere are DOUBLE PRECISION.
--
-- Key text columns use the "C" collation: they are identifiers, byte order is the right order, and
-- comparisons in the primary-key index are cheaper than under a linguistic collation.
--
-- Every key includes the time column so the tables can become TimescaleDB hypertables
-- (001_market_data.timescaledb.sql), which requires unique indexes to contain the partitioning column.

CREATE TABLE IF NOT EXISTS ohlcv (
    timestamp  TIMESTAMPTZ NOT NULL,                      -- bar open time
    symbol     TEXT COLLATE "C" NOT NULL,
    exchange   TEXT COLLATE "C" NOT NULL DEFAULT 'hyperliquid',
    interval   TEXT COLLATE "C" NOT NULL,                 -- Hyperliquid interval name: 1m, 5m, 1h, 1d, ...
    open       NUMERIC NOT NULL,
    high       NUMERIC NOT NULL,
    low        NUMERIC NOT NULL,
    close      NUMERIC NOT NULL,
    volume     NUMERIC NOT NULL,                          -- base units
    trades     INTEGER,                                   -- number of trades in the bar, when known
    CONSTRAINT ohlcv_pkey PRIMARY KEY (symbol, exchange, interval, timestamp),
    -- low <= min(open, close), high >= max(open, close), positive prices, volume >= 0. NUMERIC accepts
    -- 'NaN' and 'Infinity' and sorts NaN above everything, so the upper bounds also reject both.
    CONSTRAINT ohlcv_bar_valid CHECK (
        low > 0 AND high < 'Infinity'
        AND open BETWEEN low AND high
        AND close BETWEEN low AND high
        AND volume >= 0 AND volume < 'Infinity'
    ),
    CONSTRAINT ohlcv_trades_valid CHECK (trades >= 0)
);

-- Public trades (tape). The original schema keyed them on (timestamp, symbol, exchange), which drops
-- every second trade in the same millisecond; the exchange's trade id is part of the key here.
CREATE TABLE IF NOT EXISTS trades (
    timestamp  TIMESTAMPTZ NOT NULL,
    symbol     TEXT COLLATE "C" NOT NULL,
    exchange   TEXT COLLATE "C" NOT NULL DEFAULT 'hyperliquid',
    trade_id   TEXT COLLATE "C" NOT NULL,                 -- the exchange's id (Hyperliquid: tid)
    price      NUMERIC NOT NULL CHECK (price > 0 AND price < 'Infinity'),
    size       NUMERIC NOT NULL CHECK (size > 0 AND size < 'Infinity'),
    side       TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    CONSTRAINT trades_pkey PRIMARY KEY (symbol, exchange, trade_id, timestamp)
);

-- Fills of orders: live ones and paper-bot ones (bot_id set). fill_id is the idempotency key: a bot
-- derives it from what it is filling (bot, bar, sequence), so a restarted bot that replays a bar
-- cannot record the same fill twice (INSERT ... ON CONFLICT (fill_id) DO NOTHING).
-- Not a hypertable: fills are few, and fill_id alone must be unique.
CREATE TABLE IF NOT EXISTS fills (
    fill_id     TEXT PRIMARY KEY,
    timestamp   TIMESTAMPTZ NOT NULL,
    bot_id      TEXT,                                     -- NULL: not a paper-bot fill
    exchange    TEXT NOT NULL DEFAULT 'hyperliquid',
    symbol      TEXT NOT NULL,
    side        TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    quantity    NUMERIC NOT NULL CHECK (quantity > 0 AND quantity < 'Infinity'),
    price       NUMERIC NOT NULL CHECK (price > 0 AND price < 'Infinity'),
    fee         NUMERIC NOT NULL DEFAULT 0 CHECK (fee > '-Infinity' AND fee < 'Infinity'),  -- < 0: rebate
    reason      TEXT NOT NULL,                            -- entry, reversal, take_profit, stop_loss, close...
    order_id    TEXT,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_fills_bot_time ON fills (bot_id, timestamp);
CREATE INDEX IF NOT EXISTS idx_fills_symbol_time ON fills (symbol, timestamp);
