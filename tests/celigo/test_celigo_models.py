"""The typed models: aliases, lenient defaults, and the inventory arithmetic."""

from __future__ import annotations

from celigo_operator.celigo import AccessToken, AShare, Integration, Inventory, TokenInfo


def share(**fields: object) -> AShare:
    return AShare.model_validate({"_id": "s1", **fields})


def test_token_info_aliases() -> None:
    info = TokenInfo.model_validate({"_userId": "u1", "scope": "*"})
    assert (info.user_id, info.full_access) == ("u1", True)
    assert not TokenInfo.model_validate({"_userId": "u1", "scope": ["i1"]}).full_access


def test_ashare_tolerates_nulls_and_unknown_levels() -> None:
    s = share(integrationAccessLevel=None, disabled=None, accessLevel="owner", extra="ignored")
    assert s.integration_access_level == [] and s.disabled is False and s.access_level == "owner"
    assert share().integration_only and share().email is None


def test_inventory_from_data() -> None:
    users = [share(_id="a", accessLevel="administrator", accepted=True),
             share(_id="b", accessLevel="manage", accepted=True, disabled=True),
             share(_id="c", accessLevel="monitor", accepted=False),
             share(_id="d", accessLevel="monitor", accepted=True),
             share(_id="e", accepted=True, integrationAccessLevel=[{"_integrationId": "i", "accessLevel": "monitor"}])]
    inventory = Inventory.from_data(users, [Integration.model_validate({"_id": "i"})])
    assert inventory.model_dump(by_alias=True) == {
        "users": 5, "integrationOnlyUsers": 1, "integrations": 1,
        "roles": {"administrator": 1, "manage": 1, "monitor": 2}, "disabledUsers": 1, "pendingUsers": 1}


def test_integration_keeps_smartconnector_extras() -> None:
    item = Integration.model_validate({"_id": "i", "name": "n", "_connectorId": "c"})
    assert item.model_extra == {"_connectorId": "c"}


def test_access_token_hides_its_value_from_repr() -> None:
    token = AccessToken.model_validate({"_id": "t", "token": "s3cr3t-value", "fullAccess": False,
                                        "_exportIds": ["e1"]})
    assert "s3cr3t-value" not in repr(token) and token.model_extra == {"_exportIds": ["e1"]}
