"""The one exponential-backoff formula of the project (REST retries, WebSocket reconnects, store writes).

``cap = min(max_s, base_s * 2 ** attempt)`` for ``attempt = 0, 1, 2, ...``, then jitter:

* ``"full"``: uniform in ``[0, cap]`` (AWS's "full jitter": concurrent clients spread out the most);
* ``"equal"``: ``cap / 2`` plus uniform in ``[0, cap / 2]`` (never retries at once; reconnects);
* ``"none"``: ``cap`` itself (a single writer retrying its own work has nobody to spread out from).
"""

from __future__ import annotations

import random
from typing import Literal

__all__ = ["Jitter", "backoff_delay"]

Jitter = Literal["full", "equal", "none"]

# Jitter only spreads retries in time; it is not security-relevant.
_DEFAULT_RNG = random.Random()  # noqa: S311


def backoff_delay(
    attempt: int,
    *,
    base_s: float,
    max_s: float,
    jitter: Jitter = "full",
    rng: random.Random | None = None,
) -> float:
    """Return the seconds to wait before retry number ``attempt + 1`` (``attempt`` counts from 0).

    Raises:
        ValueError: a negative attempt or a non-positive ``base_s``/``max_s``.
    """
    if attempt < 0:
        raise ValueError(f"expected attempt >= 0, got {attempt}")
    if base_s <= 0 or max_s <= 0:
        raise ValueError(f"expected base_s > 0 and max_s > 0, got {base_s} and {max_s}")
    # 2.0 ** 1100 overflows a float; every cap is reached long before attempt 64.
    cap = float(min(max_s, base_s * 2.0 ** min(attempt, 64)))
    if jitter == "none":
        return cap
    source = rng if rng is not None else _DEFAULT_RNG
    if jitter == "equal":
        return cap / 2 + source.uniform(0.0, cap / 2)
    return source.uniform(0.0, cap)
