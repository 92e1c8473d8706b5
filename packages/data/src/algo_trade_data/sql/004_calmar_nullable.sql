-- Calmar's annualised return overflows float64 on short windows of small bars (1.01 ** 5256 for
-- 100 1m bars): such a ratio is not a number to rank on, so it is stored as NULL, like profit_factor.
ALTER TABLE backtest_results ALTER COLUMN calmar_ratio DROP NOT NULL;
