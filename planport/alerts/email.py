"""Alert e-mails: SMTP delivery with smtplib, or the log when no mail server is configured.

`SmtpMailer.deliver` opens one connection per attempt (alerts are rare; a pooled connection
would only go stale), upgrades it with STARTTLS or speaks TLS from the start, logs in if a user
name is set, and sends one message to all recipients. Every socket step has the configured
timeout. The password is read from its SecretStr only to log in and is never logged or recorded.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid, parseaddr
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import SecretStr

from planport.alerts.delivery import (
    Channel,
    Delivery,
    DeliveryError,
    Retry,
    deliver_with_retries,
    log,
)
from planport.alerts.messages import Message
from planport.domain.clock import Clock, utc_now

if TYPE_CHECKING:
    # Only for annotations: settings pull in SQLAlchemy, and this package stays free of it.
    from planport.settings import Settings

Security = Literal["none", "starttls", "tls"]


class Mailer(Protocol):
    """Sends one alert e-mail; returns its Delivery and never raises for a failed delivery."""

    def deliver(self, message: Message) -> Delivery: ...


@dataclass(frozen=True)
class SmtpConfig:
    """How to reach the mail server (PLANPORT_SMTP_*)."""

    host: str
    port: int = 587
    security: Security = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    from_address: str = "Planport <planport@localhost>"
    timeout_s: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig | None:
        """The settings' mail server, or None when PLANPORT_SMTP_HOST is not set."""
        if settings.smtp_host is None:
            return None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password,
            from_address=settings.smtp_from,
            timeout_s=settings.smtp_timeout_s,
        )

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port}"


def mailer_from_settings(settings: Settings, *, retry: Retry | None = None) -> Mailer:
    """An SmtpMailer for the configured mail server, else a LogMailer."""
    config = SmtpConfig.from_settings(settings)
    if config is None:
        return LogMailer()
    return SmtpMailer(config, retry=retry or Retry(attempts=settings.alert_retry_attempts))


class LogMailer:
    """Without a mail server: each e-mail goes to the log; the caller keeps it for the outbox."""

    def __init__(self, *, clock: Clock = utc_now) -> None:
        self._clock = clock

    def deliver(self, message: Message) -> Delivery:
        """Writes the e-mail to the log; returns a `log` Delivery that is ok."""
        now = self._clock()
        log.info(
            "alert.email_not_sent",
            reason="PLANPORT_SMTP_HOST is not set: the e-mail is kept in the outbox",
            recipients=list(message.recipients),
            subject=message.subject,
            text=message.text,
        )
        return Delivery(Channel.LOG, _target(message), True, 1, None, now, now)


class SmtpMailer:
    """Delivers alert e-mails through an SMTP server, retrying what may pass on a later try.

    `ssl_context` verifies the server's certificate (default: the system's authorities; tests
    pass one that trusts their own). Safe to share between threads: it keeps no connection.
    """

    def __init__(
        self,
        config: SmtpConfig,
        *,
        retry: Retry | None = None,
        ssl_context: ssl.SSLContext | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._config = config
        self._retry = retry or Retry()
        self._ssl_context = ssl_context or ssl.create_default_context()
        self._clock = clock
        # smtplib would otherwise call socket.getfqdn(), a DNS lookup without a timeout.
        self._local_hostname = socket.gethostname() or "localhost"

    def deliver(self, message: Message) -> Delivery:
        """Sends `message` to its recipients; returns the Delivery (never raises for failures)."""
        target = _target(message)
        try:
            email = self._build(message)
        except (ValueError, TypeError) as error:
            return self._failed(target, f"The e-mail could not be built: {error}")
        if not message.recipients:
            return self._failed(target, "The e-mail has no recipients.")
        if self._config.username and self._config.security == "none":
            return self._failed(
                target,
                "Refusing to send the mail server password over an unencrypted connection: set "
                "PLANPORT_SMTP_SECURITY to starttls or tls.",
            )
        return deliver_with_retries(
            Channel.EMAIL,
            target,
            lambda: self._send_once(email, message.recipients),
            retry=self._retry,
            clock=self._clock,
            scrub=self._scrub,
        )

    def _build(self, message: Message) -> EmailMessage:
        email = EmailMessage(policy=SMTP)
        email["From"] = self._config.from_address
        email["To"] = ", ".join(message.recipients)
        email["Subject"] = " ".join(message.subject.split())
        email["Date"] = format_datetime(self._clock())
        email["Message-ID"] = make_msgid(domain=_domain(self._config.from_address))
        # RFC 3834: out-of-office robots must not answer an automatic message.
        email["Auto-Submitted"] = "auto-generated"
        email.set_content(message.text)
        if message.html is not None:
            email.add_alternative(message.html, subtype="html")
        return email

    def _send_once(self, email: EmailMessage, recipients: Sequence[str]) -> None:
        step = "connect"
        try:
            smtp = self._connect()
            try:
                if self._config.security == "starttls":
                    step = "starttls"
                    smtp.starttls(context=self._ssl_context)
                if self._config.username:
                    step = "login"
                    smtp.login(self._config.username, self._password())
                step = "send"
                refused = smtp.send_message(email, to_addrs=list(recipients))
            except BaseException:
                smtp.close()  # no polite QUIT on a connection that just failed: it may hang
                raise
            _hang_up(smtp)
        except (smtplib.SMTPException, OSError) as error:
            raise _explain(error, step, self._config) from None
        if refused:
            raise DeliveryError(_refused_text(refused, len(recipients)), retryable=False)

    def _connect(self) -> smtplib.SMTP:
        config = self._config
        if config.security == "tls":
            return smtplib.SMTP_SSL(
                config.host,
                config.port,
                local_hostname=self._local_hostname,
                timeout=config.timeout_s,
                context=self._ssl_context,
            )
        return smtplib.SMTP(
            config.host, config.port, local_hostname=self._local_hostname, timeout=config.timeout_s
        )

    def _password(self) -> str:
        return "" if self._config.password is None else self._config.password.get_secret_value()

    def _scrub(self, text: str) -> str:
        password = self._password()
        return text.replace(password, "********") if password else text

    def _failed(self, target: str, error: str) -> Delivery:
        log.warning("alert.attempt_failed", channel="email", target=target, error=error)
        now = self._clock()
        return Delivery(Channel.EMAIL, target, False, 0, error, now, now)


def _hang_up(smtp: smtplib.SMTP) -> None:
    # Once the message is accepted, a failing QUIT must not count as a failure: a retry would
    # send the e-mail twice.
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _explain(error: Exception, step: str, config: SmtpConfig) -> DeliveryError:
    """A failed SMTP step as a DeliveryError an admin can act on; retryable if it may pass."""
    server = config.server
    match error:
        case smtplib.SMTPAuthenticationError():
            return DeliveryError(
                f"The mail server {server} refused the login of {config.username!r}: "
                f"{_reply(error)}. Check PLANPORT_SMTP_USERNAME and PLANPORT_SMTP_PASSWORD.",
                retryable=False,
            )
        case smtplib.SMTPNotSupportedError() if step == "starttls":
            return DeliveryError(
                f"The mail server {server} does not offer STARTTLS. Use PLANPORT_SMTP_SECURITY=tls "
                "if it expects TLS from the start (usually port 465).",
                retryable=False,
            )
        case smtplib.SMTPNotSupportedError():
            return DeliveryError(
                f"The mail server {server} offers no login (AUTH) on this connection. Many "
                "servers offer it only after STARTTLS or over TLS; or leave "
                "PLANPORT_SMTP_USERNAME unset if it needs none.",
                retryable=False,
            )
        case smtplib.SMTPRecipientsRefused():
            codes = [code for code, _ in error.recipients.values()]
            return DeliveryError(
                _refused_text(error.recipients, len(error.recipients)),
                retryable=all(400 <= code < 500 for code in codes),
            )
        case smtplib.SMTPSenderRefused():
            return DeliveryError(
                f"The mail server {server} refused the sender {config.from_address!r}: "
                f"{_reply(error)}. Check PLANPORT_SMTP_FROM: most providers accept only your "
                "own addresses.",
                retryable=400 <= error.smtp_code < 500,
            )
        case smtplib.SMTPResponseException():
            return DeliveryError(
                f"The mail server {server} answered {_reply(error)} during {_STEPS[step]}.",
                retryable=400 <= error.smtp_code < 500,
            )
        case smtplib.SMTPServerDisconnected() if isinstance(error.__context__, TimeoutError):
            # smtplib turns a read that timed out into "Connection unexpectedly closed".
            return _explain(error.__context__, step, config)
        case smtplib.SMTPServerDisconnected():
            return DeliveryError(
                f"The mail server {server} closed the connection during {_STEPS[step]}.",
                retryable=True,
            )
        case smtplib.SMTPException():
            # Not a network failure: smtplib's own refusal, such as "No suitable authentication
            # method found". Another try would meet the same server.
            return DeliveryError(
                f"The mail server {server} could not be used during {_STEPS[step]}: "
                f"{str(error).rstrip('.')}.",
                retryable=False,
            )
        case ssl.SSLCertVerificationError():
            return DeliveryError(
                f"The certificate of the mail server {server} could not be verified: "
                f"{error.verify_message or error.reason}.",
                retryable=False,
            )
        case ssl.SSLError():
            return DeliveryError(
                f"TLS with the mail server {server} failed during {_STEPS[step]} "
                f"({error.reason or error}). Port 465 usually needs PLANPORT_SMTP_SECURITY=tls, "
                "port 587 starttls.",
                retryable=False,
            )
        case TimeoutError():
            return DeliveryError(
                f"The mail server {server} did not answer within {config.timeout_s:g} s "
                f"during {_STEPS[step]}.",
                retryable=True,
            )
        case socket.gaierror():
            return DeliveryError(
                f"The mail server's name {config.host!r} could not be resolved: {error.strerror}.",
                retryable=True,
            )
        case ConnectionRefusedError():
            return DeliveryError(
                f"The mail server {server} refused the connection: is it running, and is "
                "the port right?",
                retryable=True,
            )
        case OSError():
            return DeliveryError(
                f"Could not talk to the mail server {server} during {_STEPS[step]}: "
                f"{error.strerror or error}.",
                retryable=True,
            )
    return DeliveryError(f"The mail server {server} failed: {error}.", retryable=False)


_STEPS = {
    "connect": "connecting",
    "starttls": "STARTTLS",
    "login": "the login",
    "send": "sending",
}


def _reply(error: smtplib.SMTPResponseException) -> str:
    text = error.smtp_error
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{error.smtp_code} {' '.join(str(text).split())}"


def _refused_text(refused: dict[str, tuple[int, bytes]], total: int) -> str:
    listed = "; ".join(
        f"{address} ({code} {reply.decode('utf-8', 'replace').strip()})"
        for address, (code, reply) in refused.items()
    )
    if len(refused) >= total:
        return f"The mail server refused every recipient: {listed}."
    return (
        f"The mail server refused {len(refused)} of {total} recipients: {listed}. "
        "The others were sent the e-mail."
    )


def _target(message: Message) -> str:
    return ", ".join(message.recipients)


def _domain(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2] or "localhost"
