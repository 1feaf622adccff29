"""API keys as values: their shape, their hash, when they expire, why one is refused."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from planport.domain.api_keys import (
    ApiKeyType,
    KeyState,
    Rejection,
    expires_at,
    is_well_formed,
    key_hash,
    new_key,
    prefix_of,
    rejection_of,
)

NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)


def test_a_new_key_is_well_formed_unique_and_recognisable_by_its_prefix() -> None:
    first, second = new_key(), new_key()
    assert first != second
    assert is_well_formed(first)
    assert prefix_of(first).startswith("ppk_")
    assert len(prefix_of(first)) == 12


def test_only_the_exact_shape_is_well_formed() -> None:
    key = new_key()
    for almost in (key[:-1], key + "x", "PPK_" + key[4:], key.replace("ppk_", "pk_"), ""):
        assert not is_well_formed(almost)


def test_the_hash_is_stable_and_tells_keys_apart() -> None:
    key = new_key()
    assert key_hash(key) == key_hash(key)
    assert key_hash(key) != key_hash(new_key())
    assert len(key_hash(key)) == 64
    assert key not in key_hash(key)


def test_a_key_stops_at_the_start_of_its_expiration_date_in_the_workspaces_zone() -> None:
    # Valid until the end of 31 May in Paris (summer time, UTC+2): it stops at 22:00 UTC.
    assert expires_at(date(2027, 6, 1), "Europe/Paris") == datetime(2027, 5, 31, 22, tzinfo=UTC)
    assert expires_at(date(2027, 6, 1), "UTC") == datetime(2027, 6, 1, tzinfo=UTC)
    assert expires_at(None, "UTC") is None


def state(**changes: object) -> KeyState:
    values: dict[str, object] = {
        "key_type": ApiKeyType.IMPORT,
        "expires_at": NOW + timedelta(days=1),
        "revoked_at": None,
    }
    return KeyState(**{**values, **changes})  # type: ignore[arg-type]


def test_a_valid_key_of_the_wanted_type_is_let_through() -> None:
    assert rejection_of(state(), ApiKeyType.IMPORT, NOW) is None
    assert rejection_of(state(expires_at=None), ApiKeyType.IMPORT, NOW) is None


def test_each_rule_refuses_with_its_own_reason() -> None:
    assert rejection_of(None, ApiKeyType.IMPORT, NOW) is Rejection.UNKNOWN
    assert rejection_of(state(revoked_at=NOW), ApiKeyType.IMPORT, NOW) is Rejection.REVOKED
    assert rejection_of(state(expires_at=NOW), ApiKeyType.IMPORT, NOW) is Rejection.EXPIRED
    assert rejection_of(state(), ApiKeyType.EXPORT, NOW) is Rejection.WRONG_TYPE


def test_revocation_is_told_before_expiry_and_both_before_the_type() -> None:
    gone = state(revoked_at=NOW, expires_at=NOW - timedelta(days=1))
    assert rejection_of(gone, ApiKeyType.EXPORT, NOW) is Rejection.REVOKED
    expired = state(expires_at=NOW - timedelta(days=1))
    assert rejection_of(expired, ApiKeyType.EXPORT, NOW) is Rejection.EXPIRED


def test_no_usable_key_is_401_and_a_key_that_may_not_is_403() -> None:
    unauthenticated = {r for r in Rejection if r.status == 401}
    assert unauthenticated == {
        Rejection.MISSING,
        Rejection.MALFORMED,
        Rejection.UNKNOWN,
        Rejection.EXPIRED,
        Rejection.REVOKED,
    }
    assert all(r.status == 403 for r in set(Rejection) - unauthenticated)
    assert all(r.message for r in Rejection)
