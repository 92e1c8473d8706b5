"""`python -m algo_trade_cli` runs the `algo-trade` command."""

from algo_trade_cli.app import main

main()
