"""Fixtures of the integration tier: an application and members holding its roles."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from argon2 import PasswordHasher

from planport.domain.members import Actor
from planport.services import applications, members
from planport.services.applications import ApplicationView
from planport.store.db import Database
from tests.integration.builders import PASSWORD, grant
from tests.integration.smtp_peers import LOOPBACK, Inbox, ServerFactory, SmtpPeer, free_port


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 with its smallest cost, so that every test's members are made in microseconds.

    Still argon2id through the same code; only the work factor differs from production's.
    """
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(members, "_hasher", cheap)


@pytest.fixture
def app(db: Database, admin: Actor) -> ApplicationView:
    """An application created by the workspace admin (who holds its Admin role)."""
    return applications.create_application(db, admin, "Budget 2025")


@pytest.fixture
def member_as(
    db: Database, admin: Actor, app: ApplicationView, member: Actor
) -> Callable[[str], Actor]:
    """Give the `member` fixture a role of `app` by name; returns the member's actor."""

    def give(role: str) -> Actor:
        grant(db, admin, app.id, member.email, role)
        return member

    return give


@pytest.fixture
def new_member(db: Database) -> Callable[[str], Actor]:
    """Create another member (account type member) by e-mail; returns their actor."""

    def create(email: str) -> Actor:
        members.create_member(db, email, PASSWORD)
        return members.actor_for(db, email)

    return create


@pytest.fixture
def smtp_server() -> Iterator[ServerFactory]:
    """Starts aiosmtpd servers on loopback with the given options; stops them after the test."""
    controllers: list[Controller] = []

    def start(*, implicit_tls: ssl.SSLContext | None = None, **options: Any) -> SmtpPeer:
        inbox = Inbox()
        if options.pop("with_auth", False):
            options["authenticator"] = inbox.authenticate
        port = free_port()
        controller = Controller(
            inbox,
            hostname=LOOPBACK,
            port=port,
            ssl_context=implicit_tls,
            server_hostname="planport-test-smtp",
            **options,
        )
        controller.start()
        controllers.append(controller)
        return SmtpPeer(inbox, port)

    yield start
    for controller in controllers:
        controller.stop()
