"""Deterministic seed data for the fake Celigo API: a realistic account, and huge ones for benchmarks.

Kept apart from the server so tests and benchmarks can reason about the shape of the data (how many users
per access level, which are integration-only) without starting a server.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

ACCESS_LEVELS: tuple[str, ...] = ("administrator", "manage", "monitor")
INTEGRATION_ACCESS_LEVELS: tuple[str, ...] = ("monitor", "manage")
SSO_LINK_STATES: tuple[str, ...] = ("not_linked", "this_account", "other_account")

_FIRST = ("Ada", "Grace", "Alan", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances", "Edsger",
          "Radia", "Tim", "Hedy", "John", "Katherine", "Guido", "Anita", "Bjarne", "Sophie", "Niklaus")
_LAST = ("Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie", "Allen",
         "Dijkstra", "Perlman", "Berners-Lee", "Lamarr", "McCarthy", "Johnson", "van Rossum", "Borg",
         "Stroustrup", "Wilson", "Wirth")
_APPS = ("Salesforce", "NetSuite", "Shopify", "Zendesk", "HubSpot", "Jira", "Slack", "Workday", "Amazon",
         "QuickBooks", "Magento", "ServiceNow", "Snowflake", "Stripe", "BigCommerce", "Marketo")

EPOCH = datetime(2024, 1, 15, 9, 30, tzinfo=UTC)


def iso(moment: datetime) -> str:
    """Celigo's timestamp format: ISO 8601 in UTC with milliseconds and a Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def object_id(account_no: int, kind: int, serial: int) -> str:
    """A 24-hex id shaped like Celigo's Mongo ObjectIds; increasing with serial so ids sort by creation."""
    return f"5f{account_no & 0xFFFFFF:06x}{kind & 0xFF:02x}{serial:014x}"


KIND_USER = 1
KIND_SHARE = 2
KIND_INTEGRATION = 3
KIND_TOKEN = 4
KIND_OWNER = 5


@dataclass(frozen=True)
class SeedPlan:
    """How many users of each kind an account of ``users`` users gets."""

    administrator: int
    manage: int
    monitor: int
    integration_only: int

    @property
    def total(self) -> int:
        return self.administrator + self.manage + self.monitor + self.integration_only


def plan_for(users: int) -> SeedPlan:
    """Spread ``users`` over the access levels like a real account: few admins, many monitors."""
    if users < 0:
        raise ValueError("users must be >= 0")
    remaining = users
    admins = min(remaining, max(1, round(users * 0.05))) if users else 0
    remaining -= admins
    integration_only = min(remaining, max(1, round(users * 0.07))) if users >= 3 else 0
    remaining -= integration_only
    manage = min(remaining, round(users * 0.24))
    remaining -= manage
    return SeedPlan(administrator=admins, manage=manage, monitor=remaining, integration_only=integration_only)


def make_integrations(account_no: int, count: int, rng: random.Random, start_serial: int = 0) -> list[dict]:
    """Integrations named like real Celigo flows between two apps."""
    out: list[dict] = []
    for i in range(count):
        serial = start_serial + i
        a, b = _APPS[serial % len(_APPS)], _APPS[(serial * 7 + 3) % len(_APPS)]
        if a == b:
            b = _APPS[(serial + 1) % len(_APPS)]
        created = EPOCH + timedelta(days=serial * 3, minutes=rng.randrange(600))
        out.append({
            "_id": object_id(account_no, KIND_INTEGRATION, serial),
            "name": f"{a} - {b}" + (f" #{serial // len(_APPS) + 1}" if serial >= len(_APPS) else ""),
            "description": f"Syncs records from {a} to {b}.",
            "readme": f"# {a} - {b}\nOwned by the integrations team.",
            "createdAt": iso(created),
            "lastModified": iso(created + timedelta(days=rng.randrange(1, 200))),
        })
    return out


def make_user(account_no: int, serial: int, access_level: str | None, integration_ids: list[str],
              rng: random.Random) -> dict:
    """One ashare object as GET /v1/ashares returns it."""
    first, last = _FIRST[serial % len(_FIRST)], _LAST[(serial // len(_FIRST)) % len(_LAST)]
    created = EPOCH + timedelta(hours=serial * 5, minutes=rng.randrange(300))
    accepted = serial % 9 != 4
    signed_in = created + timedelta(days=rng.randrange(1, 300)) if accepted else None
    share: dict = {
        "_id": object_id(account_no, KIND_SHARE, serial),
        "accepted": accepted,
        "disabled": serial % 13 == 6,
        "accountSSORequired": serial % 5 == 0,
        "accountMFARequired": serial % 3 == 0,
        "createdAt": iso(created),
        "lastModified": iso(created + timedelta(days=1)),
        "sharedWithUser": {
            "_id": object_id(account_no, KIND_USER, serial),
            "email": f"{first}.{last}.{serial}@example.com".lower().replace(" ", ""),
            "name": f"{first} {last}",
            "allowedToResetMFA": serial % 4 == 0,
            "accountSSOLinked": SSO_LINK_STATES[serial % len(SSO_LINK_STATES)],
        },
    }
    if signed_in is not None:
        share["lastSignIn"] = iso(signed_in)
        share["sharedWithUser"]["lastSignIn"] = iso(signed_in)
    levels: list[dict] = []
    if integration_ids and (access_level is None or (access_level == "monitor" and serial % 6 == 1)):
        picks = 1 + (serial % 2 if len(integration_ids) > 1 else 0)
        for k in range(picks):
            iid = integration_ids[(serial + k * 3) % len(integration_ids)]
            if all(entry["_integrationId"] != iid for entry in levels):
                levels.append({"_integrationId": iid,
                               "accessLevel": INTEGRATION_ACCESS_LEVELS[(serial + k) % 2]})
    if access_level is not None:
        share["accessLevel"] = access_level
    share["integrationAccessLevel"] = levels
    return share


def make_users(account_no: int, users: int, integration_ids: list[str], rng: random.Random,
               start_serial: int = 0) -> list[dict]:
    """``users`` ashares spread per :func:`plan_for`, interleaved so every page holds a mix of levels."""
    plan = plan_for(users)
    levels: list[str | None] = (["administrator"] * plan.administrator + ["manage"] * plan.manage
                                + ["monitor"] * plan.monitor + [None] * plan.integration_only)
    rng.shuffle(levels)
    return [make_user(account_no, start_serial + i, level, integration_ids, rng)
            for i, level in enumerate(levels)]


def make_owner(account_no: int) -> dict:
    """The account owner: tokenInfo's ``_userId``; never listed in /v1/ashares."""
    return {"_id": object_id(account_no, KIND_OWNER, 0), "email": f"owner{account_no}@example.com",
            "name": f"Owner of account {account_no}"}
