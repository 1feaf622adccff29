"""Real peers for alert tests: an aiosmtpd SMTP server on loopback that records what it
receives and answers as each test scripts it."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message as EmailMessage
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

LOOPBACK = "127.0.0.1"
PASSWORD = "correct-horse-battery"
USER = "alerts@example.com"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


@dataclass
class Inbox:
    """What the SMTP server received, and how it should answer (scripted per test)."""

    envelopes: list[tuple[Envelope, Session]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    refuse_recipients: set[str] = field(default_factory=set)
    data_replies: list[str] = field(default_factory=list)  # consumed one per DATA, then 250
    ciphers: list[object] = field(default_factory=list)  # per message: its TLS cipher or None

    async def handle_RCPT(  # aiosmtpd's hook name
        self, server: SMTPServer, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refuse_recipients:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # aiosmtpd's hook name
        self, server: SMTPServer, session: Session, envelope: Envelope
    ) -> str:
        if self.data_replies:
            return self.data_replies.pop(0)
        self.envelopes.append((envelope, session))
        assert server.transport is not None
        self.ciphers.append(server.transport.get_extra_info("cipher"))
        return "250 Message accepted"

    def authenticate(
        self, server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append(data.login.decode())
        ok = data.login.decode() == USER and data.password.decode() == PASSWORD
        return AuthResult(success=ok, handled=False)

    def only(self) -> tuple[EmailMessage, Envelope, Session]:
        assert len(self.envelopes) == 1
        envelope, session = self.envelopes[0]
        assert isinstance(envelope.original_content, bytes)
        email = message_from_bytes(envelope.original_content, policy=default_policy)
        return email, envelope, session


@dataclass
class SmtpPeer:
    inbox: Inbox
    port: int


ServerFactory = Callable[..., SmtpPeer]
