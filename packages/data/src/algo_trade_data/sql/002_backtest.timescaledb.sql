-- TimescaleDB only. backtest_results becomes a hypertable on its timestamp (the run time).
-- Retention is not a policy here: DatabaseConfig.retention_days decides it, and
-- DatabaseClient.apply_retention() runs drop_chunks from the application's scheduler (retention
-- policies need the community license; DatabaseClient.connect tries one and warns when refused).
SELECT create_hypertable('backtest_results', 'timestamp', chunk_time_interval => INTERVAL '30 days',
                         create_default_indexes => FALSE, if_not_exists => TRUE, migrate_data => TRUE);

-- @optional: compression of backtest_results chunks older than 7 days
ALTER TABLE backtest_results SET (timescaledb.compress,
                                  timescaledb.compress_segmentby = 'symbol, strategy_name',
                                  timescaledb.compress_orderby = 'timestamp DESC, params_hash');
SELECT add_compression_policy('backtest_results', INTERVAL '7 days', if_not_exists => TRUE);
