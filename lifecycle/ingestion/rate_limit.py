"""Per-workspace rate limit on ingested events, counted in Redis by the `limits` library.

The budget is counted in events, not requests, so a 500-event batch costs 500. The
strategy is a fixed window: its counter resets at a known time, which makes the
Retry-After header exact, and its cost is one Redis INCR per request whatever the
batch size (the moving-window strategy stores one entry per event).

The limit is the workspace's `settings["ingest_rate_limit"]` when set, else the
INGEST_RATE_LIMIT setting, else DEFAULT_RATE_LIMIT, each written in the `limits`
notation, such as "1500000/minute". When Redis cannot be reached, requests are let
through: the events still go to PostgreSQL, which is what matters.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from limits import RateLimitItem, parse
from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter
from redis.exceptions import RedisError

from lifecycle.ingestion.outages import log_outage

logger = logging.getLogger(__name__)

# Above the platform's throughput target of 20,000 events/s, so one workspace sending
# at that rate is not throttled. Deployments shared by several workspaces set lower
# limits per workspace.
DEFAULT_RATE_LIMIT = "1500000/minute"


@dataclass(frozen=True)
class RateLimitExceeded:
    retry_after: int
    limit: str
    never_fits: bool


@functools.cache
def _limiter() -> FixedWindowRateLimiter:
    # Keys share the cache's prefix, so each test run (and each deployment sharing a
    # Redis) keeps its own counters.
    prefix = f"{settings.CACHES['default'].get('KEY_PREFIX', 'reptidex')}:ingest-rate"
    return FixedWindowRateLimiter(RedisStorage(settings.REDIS_URL, key_prefix=prefix))


@functools.lru_cache(maxsize=256)
def _parse_limit(text: str) -> RateLimitItem:
    return parse(text)


def _limit_for(workspace_limit: str | None) -> tuple[str, RateLimitItem]:
    default = getattr(settings, "INGEST_RATE_LIMIT", DEFAULT_RATE_LIMIT)
    if workspace_limit:
        try:
            return workspace_limit, _parse_limit(workspace_limit)
        except ValueError:
            log_outage(
                logger,
                "ingest-rate-limit-setting",
                "Workspace ingest_rate_limit %r is not valid limits notation; using %s",
                workspace_limit,
                default,
            )
    return default, _parse_limit(default)


def consume(workspace_id: int, workspace_limit: str | None, cost: int) -> RateLimitExceeded | None:
    """Take `cost` events from the workspace's budget; return why not when over it."""
    limit_text, item = _limit_for(workspace_limit)
    if cost > item.amount:
        return RateLimitExceeded(retry_after=0, limit=limit_text, never_fits=True)
    limiter = _limiter()
    try:
        if limiter.hit(item, str(workspace_id), cost=cost):
            return None
        reset_at, _remaining = limiter.get_window_stats(item, str(workspace_id))
    except RedisError as error:
        log_outage(logger, "ingest-rate-limit", "Rate limit store unavailable (%s)", error)
        return None
    return RateLimitExceeded(
        retry_after=max(1, math.ceil(reset_at - time.time())), limit=limit_text, never_fits=False
    )
