"""Discord's rate limits ("Rate Limits"): per-route buckets with the headers discord.py reads, the global
limit, the 429s a test injects, and the answer a client gets when it goes over.
"""

from __future__ import annotations

import hashlib
import math

from aiohttp import web

from tests.fakes.discord_api.model import RateLimitHit, _Bucket, _RateLimitRule

# "Rate Limits" > Global Rate Limit: "All bots can make up to 50 requests per second to our API."
GLOBAL_REQUESTS_PER_SECOND = 50


def ms_ceil(seconds: float) -> float:
    """Seconds rounded *up* to the millisecond the headers carry: a client that waits exactly what it was told
    must find the window over, never 0.4 ms early (and refused again)."""
    return math.ceil(round(seconds * 1000, 6)) / 1000


class _RateLimits:
    """Buckets, the global limit and injected 429s."""

    def rate_limit(
        self, route_substring: str, times: int = 1, retry_after: float = 1.0, *, is_global: bool = False
    ) -> None:
        """Answer the next ``times`` requests whose ``"METHOD /path"`` contains ``route_substring``
        with 429 ("Rate Limits" > Exceeding A Rate Limit).  Path is below /api/v10, e.g.
        ``"POST /channels/123/messages"``; ``"/messages"`` matches any method.
        """
        self._rate_rules.append(_RateLimitRule(route_substring, times, retry_after, is_global))

    def enable_global_limit(self, per_second: int = GLOBAL_REQUESTS_PER_SECOND) -> None:
        """Answer 429 with ``"global": true`` once more than ``per_second`` requests came in the last second."""
        self.global_limit = per_second

    def disable_global_limit(self) -> None:
        self.global_limit = None

    def set_route_limit(self, route: str, limit: int, window: float) -> None:
        """Give one route its own bucket size, e.g. ``set_route_limit("POST /channels/{channel_id}/messages", 5,
        5.0)``: ``limit`` requests per ``window`` seconds for each channel, guild or webhook (the route template is
        the one :class:`RecordedRequest` shows).  Other routes keep ``bucket_limit`` per ``bucket_window``."""
        self.route_limits[route] = (limit, window)
        for key in [key for key, bucket in self._buckets.items() if bucket.route == route]:
            del self._buckets[key]  # the next request opens a bucket of the new size

    def _global_wait(self, now: float) -> float | None:
        """Seconds until the global limit lets one more request through, or None if it does now.

        A sliding window over the requests let through in the last second, so no second (not only no calendar
        second) carries more than the limit: the strictest reading of "50 requests per second"."""
        if self.global_limit is None:
            return None
        window = self._global_window
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) < self.global_limit:
            return None
        return max(0.001, ms_ceil(window[0] + 1.0 - now))

    def _global_note(self, now: float) -> None:
        if self.global_limit is not None:
            self._global_window.append(now)

    def _hit(self, method: str, path: str, retry_after: float, *, is_global: bool, source: str) -> None:
        self.rate_limited.append(RateLimitHit(method, path, retry_after, is_global, source))

    def _take_rate_rule(self, key: str) -> _RateLimitRule | None:
        for rule in self._rate_rules:
            if rule.times > 0 and rule.pattern in key:
                rule.times -= 1
                if rule.times == 0:
                    self._rate_rules.remove(rule)
                return rule
        return None

    def _bucket(self, method: str, route: str, request: web.Request) -> _Bucket:
        # "Rate Limits": buckets are per route, split by top-level resource (channel, guild, webhook)
        major = "+".join(
            request.match_info.get(k, "") for k in ("channel_id", "guild_id", "webhook_id", "interaction_id")
        )
        name = hashlib.sha1(f"{method} {route}".encode()).hexdigest()[:16]
        key = f"{name}:{major}"
        bucket = self._buckets.get(key)
        if bucket is None:
            limit, window = self.route_limits.get(f"{method} {route}", (self.bucket_limit, self.bucket_window))
            bucket = self._buckets[key] = _Bucket(name, limit, window, route=f"{method} {route}")
        return bucket

    def _ratelimit_headers(self, bucket: _Bucket, now: float) -> dict[str, str]:
        reset_after = ms_ceil(max(0.0, bucket.reset_at - now))
        return {
            "X-RateLimit-Limit": str(bucket.limit),
            "X-RateLimit-Remaining": str(max(0, bucket.remaining)),
            "X-RateLimit-Reset": f"{self._ids.now_ms() / 1000 + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket.name,
        }

    def _too_many(
        self, retry_after: float, bucket: _Bucket, *, is_global: bool, scope: str, now: float
    ) -> web.Response:
        """429 per "Rate Limits" > Exceeding A Rate Limit.

        The ``Via`` header matters: discord.py treats a 429 *without* it as a Cloudflare ban
        and raises instead of waiting (discord/http.py, ``HTTPClient.request``).
        """
        response = self._json(
            {"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global}, status=429
        )
        headers = self._ratelimit_headers(bucket, now)
        headers.update(
            {
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                "X-RateLimit-Reset": f"{self._ids.now_ms() / 1000 + retry_after:.3f}",
                "Retry-After": str(max(1, math.ceil(retry_after))),
                "X-RateLimit-Scope": scope,
                "Via": "1.1 google",
            }
        )
        if is_global:
            headers["X-RateLimit-Global"] = "true"
            del headers["X-RateLimit-Bucket"]
        response.headers.update(headers)
        return response
