"""The embedded Celigo integrator.io client: async httpx, typed models, typed errors.

See client.py for retry/timeout/secret-handling rules and errors.py for what each error means.
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
