"""Whether the Redis that REFLEX_REDIS_URL names answers, before anything starts on it."""

from __future__ import annotations

import redis

from rxapp.settings import SettingsError


def check_redis(url: str) -> None:
    """Raise SettingsError (one line) unless Redis at `url` answers within 5 seconds."""
    try:
        redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5).ping()
    except (redis.RedisError, ValueError) as error:
        raise SettingsError(f"Redis at REFLEX_REDIS_URL does not answer: {error}") from None
