"""Bounded retries for registry calls: 429/5xx and dropped connections, honouring Retry-After.

Everything is bounded: attempts, each wait, and the total time spent waiting, so a registry in a
429 storm ends the run with a clear error instead of hanging CI.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    max_wait: float = 10.0  # the longest single pause, Retry-After included
    total: float = 60.0  # the longest time spent retrying one request
    initial: float = 0.2


class RetryableError(Exception):
    """A failure worth another try; carries the server's Retry-After when it gave one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        # delta-seconds is ASCII digits (RFC 9110); `str.isdigit` also takes "²" (a ValueError
        # from float(): a crash on one hostile header) and other scripts' digits.
        return float(value) if value.isascii() else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def retrying(policy: RetryPolicy) -> AsyncRetrying:
    backoff = wait_exponential_jitter(multiplier=policy.initial, max=policy.max_wait)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = getattr(exc, "retry_after", None) or 0.0
        return float(min(policy.max_wait, max(asked, backoff(state))))

    def worth_retrying(exc: BaseException) -> bool:
        if not isinstance(exc, RetryableError):
            return False
        # A server asking for a longer pause than we allow: stop now rather than hammer it.
        return exc.retry_after is None or exc.retry_after <= policy.max_wait

    return AsyncRetrying(
        stop=stop_after_attempt(policy.attempts) | stop_after_delay(policy.total),
        wait=wait,
        retry=retry_if_exception(worth_retrying),
        reraise=True,
    )
