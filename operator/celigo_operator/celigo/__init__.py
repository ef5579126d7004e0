"""The embedded Celigo integrator.io client: async httpx, typed models, typed errors.

Typical use (health check and status inventory)::

    limiter = shared_rate_limiter(token, region)          # one per account, shared by every check
    async with CeligoClient(token, region=region, base_url=operator_configured_url,
                            rate_limiter=limiter, http=shared_pool) as celigo:
        info = await celigo.token_info()                  # Unauthorized -> token bad (or other region)
        inventory = await celigo.inventory()              # .model_dump(by_alias=True) -> status shape

``probe_regions(token, base_urls)`` tells "wrong region" from "bad token". See client.py for the
retry/timeout/secret rules and errors.py for what each error means and how to react to it.
"""

from .client import (
    REGION_BASE_URLS,
    CeligoClient,
    RateLimiter,
    parse_retry_after,
    probe_regions,
    shared_rate_limiter,
)
from .errors import (
    CeligoError,
    Conflict,
    Forbidden,
    InvalidRequest,
    MalformedResponse,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    Timeout,
    Unauthorized,
    Unavailable,
)
from .models import (
    ACCESS_LEVELS,
    ROLES,
    AccessToken,
    AShare,
    Integration,
    IntegrationAccess,
    Inventory,
    RoleCounts,
    SharedWithUser,
    TokenInfo,
    UserSummary,
)

__all__ = [
    "ACCESS_LEVELS",
    "REGION_BASE_URLS",
    "ROLES",
    "AShare",
    "AccessToken",
    "CeligoClient",
    "CeligoError",
    "Conflict",
    "Forbidden",
    "Integration",
    "IntegrationAccess",
    "InvalidRequest",
    "Inventory",
    "MalformedResponse",
    "NotFound",
    "OutcomeUnknown",
    "RateLimited",
    "RateLimiter",
    "RoleCounts",
    "SharedWithUser",
    "Timeout",
    "TokenInfo",
    "Unauthorized",
    "Unavailable",
    "UserSummary",
    "parse_retry_after",
    "probe_regions",
    "shared_rate_limiter",
]
