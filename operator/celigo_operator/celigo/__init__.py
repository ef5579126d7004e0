"""The embedded Celigo integrator.io client: async httpx, typed models, typed errors.

Typical use (health check and status inventory)::

    async with CeligoClient(token, region=region, base_url=operator_configured_url,
                            rate_limiter=account_limiter, http=shared_pool) as celigo:
        info = await celigo.token_info()                  # Unauthorized -> token bad (or other region)
        inventory = await celigo.inventory()              # .model_dump(by_alias=True) -> status shape

``account_limiter`` is one RateLimiter per Celigo account (the health checker keeps them). See client.py
for the retry/timeout/secret rules and errors.py for what each error means and how to react to it.
"""

from .client import (
    REGION_BASE_URLS,
    CeligoClient,
    CreatedToken,
    RateLimiter,
    parse_retry_after,
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
    "CreatedToken",
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
]
