"""Fixtures of the security tier: cheap password hashing and a fixed-seed hypothesis profile."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from hypothesis import HealthCheck, settings

from planport.services.workspace import members

# Replayed examples, as the CI profile of tests/conftest.py: the same requests every run, so a
# submission never fails on a newly drawn example. One world serves every example of a route
# (building one per example would cost seconds), hence the suppressed fixture check.
settings.register_profile(
    "security",
    derandomize=True,
    deadline=None,
    database=None,
    max_examples=12,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 with its smallest cost (still argon2id through the same code)."""
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(members, "_hasher", cheap)
