-- Who runs a sweep, and when it last showed a sign of life: a run left at 'running' by a process that
-- was killed (or whose database died before the finish was written) is marked 'interrupted' by the next
-- start, but never a run that a live process is still working on (two concurrent sweeps).
ALTER TABLE backtest_runs ADD COLUMN IF NOT EXISTS owner_host TEXT;
ALTER TABLE backtest_runs ADD COLUMN IF NOT EXISTS owner_pid INTEGER;
ALTER TABLE backtest_runs ADD COLUMN IF NOT EXISTS heartbeat_at TIMESTAMPTZ;
CREATE INDEX IF NOT EXISTS idx_backtest_runs_running ON backtest_runs (started_at) WHERE status = 'running';
