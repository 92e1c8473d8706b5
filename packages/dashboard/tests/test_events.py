"""When the live bot stream pushes: on a change of a bot, not on the passing of time."""

from __future__ import annotations

from typing import Any

from algo_trade_dashboard._events import _changed


def bot(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"bot_id": "quad_ma:BTC", "state": "running", "trading": True}
    row["last_seen_seconds"] = 12.0
    row.update(changes)
    return row


def test_the_first_read_is_pushed() -> None:
    assert _changed(None, [bot()])
    assert _changed(None, [])


def test_time_since_the_last_write_alone_is_no_change() -> None:
    assert not _changed([bot()], [bot(last_seen_seconds=17.0)])


def test_a_change_of_a_bot_is_pushed() -> None:
    assert _changed([bot()], [bot(state="paused", last_seen_seconds=0.4)])
    assert _changed([bot()], [bot(trading=False)])  # its daemon went away
    assert _changed([bot()], [bot(), bot(bot_id="quad_ma:ETH")])
