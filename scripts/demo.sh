#!/usr/bin/env bash
# `make demo`: the main job end to end. Uses the real Hyperliquid candle files of ../shared/data when
# the exchange is not reachable and they are present; otherwise the CLI falls back to synthetic candles.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
args=()
files=../shared/data/real-candles/hyperliquid-perp
if [ -d "$files" ]; then args+=(--data-dir "$files"); fi
exec .venv/bin/algo-trade demo "${args[@]}" "$@"
