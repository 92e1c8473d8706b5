-- TimescaleDB only (applied when the extension is available, also later to an existing database:
-- migrate_data moves rows already stored into chunks).
--
-- ohlcv: 30-day chunks. 20 tokens of 1m bars are ~0.9 M rows a month; the multi-year 1h/1d history
-- would otherwise make hundreds of tiny 7-day chunks. The primary key (symbol, exchange, interval,
-- timestamp) serves every query, so the default time index is not created (it only slows inserts).
SELECT create_hypertable('ohlcv', 'timestamp', chunk_time_interval => INTERVAL '30 days',
                         create_default_indexes => FALSE, if_not_exists => TRUE, migrate_data => TRUE);
SELECT create_hypertable('trades', 'timestamp', chunk_time_interval => INTERVAL '1 day',
                         create_default_indexes => FALSE, if_not_exists => TRUE, migrate_data => TRUE);

-- @optional: compression of ohlcv and trades chunks older than 7 days
ALTER TABLE ohlcv SET (timescaledb.compress,
                       timescaledb.compress_segmentby = 'symbol, exchange, interval',
                       timescaledb.compress_orderby = 'timestamp');
SELECT add_compression_policy('ohlcv', INTERVAL '7 days', if_not_exists => TRUE);
ALTER TABLE trades SET (timescaledb.compress,
                        timescaledb.compress_segmentby = 'symbol, exchange',
                        timescaledb.compress_orderby = 'timestamp, trade_id');
SELECT add_compression_policy('trades', INTERVAL '7 days', if_not_exists => TRUE);
