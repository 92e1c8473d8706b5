-- TimescaleDB only: trials become a hypertable on their run time (a week per chunk), so a year of
-- daily optimisations is 52 chunks and retention drops whole chunks.
SELECT create_hypertable('backtest_trials', 'run_time', chunk_time_interval => INTERVAL '7 days',
                         create_default_indexes => FALSE, if_not_exists => TRUE, migrate_data => TRUE);
