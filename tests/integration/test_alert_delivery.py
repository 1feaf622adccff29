"""Alert delivery against real peers on loopback: aiosmtpd (plain, STARTTLS, TLS, AUTH) and an
http.server webhook. Backoff sleeps are recorded instead of slept, so retries take no time."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import structlog
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from planport.alerts import (
    AlertContext,
    AlertError,
    Channel,
    FirstFailure,
    LogMailer,
    Message,
    Retry,
    SmtpConfig,
    SmtpMailer,
    WebhookSender,
    mailer_from_settings,
    send_alert,
    webhook_sender_from_settings,
)
from planport.domain.imports import RunStatus
from planport.settings import Settings
from tests.integration.smtp_peers import LOOPBACK, PASSWORD, USER, ServerFactory, free_port

# --- peers ---------------------------------------------------------------------------------


@dataclass
class Certificate:
    cert_path: Path
    key_path: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client that trusts this certificate only, checking the host name as in production."""
        return ssl.create_default_context(cafile=str(self.cert_path))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost, made with `cryptography`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "planport-test-smtp")])
    now = dt.datetime.now(dt.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(LOOPBACK))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(cert_path, key_path)


class Sleeps(list[float]):
    """Records backoff delays instead of sleeping them."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def mailer(port: int, sleeps: Sleeps, **config: Any) -> SmtpMailer:
    ssl_context = config.pop("ssl_context", None)
    settings = {"host": LOOPBACK, "port": port, "security": "none", "timeout_s": 5.0}
    settings.update(config)
    return SmtpMailer(
        SmtpConfig(**settings),
        retry=Retry(attempts=3, sleep=sleeps),
        ssl_context=ssl_context,
    )


MESSAGE = Message(
    subject="[Planport] Import failed: Sales actuals → Revenue",
    text="The scheduled run of the import failed.\n",
    recipients=("anna@example.com", "ben@example.com"),
    html="<p>The scheduled run of the import failed.</p>\n",
)


# --- SMTP ----------------------------------------------------------------------------------


def test_an_email_reaches_a_plain_smtp_server_with_text_and_html(
    smtp_server: ServerFactory, sleeps: Sleeps
) -> None:
    peer = smtp_server()
    sender = mailer(peer.port, sleeps, from_address="Planport alerts <alerts@example.com>")
    delivery = sender.deliver(MESSAGE)
    assert delivery.ok, delivery.error
    assert (delivery.channel, delivery.attempts, delivery.error) == (Channel.EMAIL, 1, None)
    assert peer.inbox.ciphers == [None]
    assert delivery.target == "anna@example.com, ben@example.com"
    assert delivery.started_at <= delivery.finished_at
    email, envelope, _ = peer.inbox.only()
    assert envelope.mail_from == "alerts@example.com"
    assert envelope.rcpt_tos == ["anna@example.com", "ben@example.com"]
    assert email["Subject"] == MESSAGE.subject
    assert email["From"] == "Planport alerts <alerts@example.com>"
    assert email["To"] == "anna@example.com, ben@example.com"
    assert email["Auto-Submitted"] == "auto-generated"
    assert email["Message-ID"].endswith("@example.com>")
    assert email["Date"]
    text = email.get_body(("plain",))
    markup = email.get_body(("html",))
    assert text is not None
    assert markup is not None
    # SMTP's line endings are CRLF; the parsed bodies keep them.
    assert text.get_content().replace("\r\n", "\n") == MESSAGE.text
    assert markup.get_content().replace("\r\n", "\n") == MESSAGE.html
    assert sleeps == []


def test_starttls_upgrades_the_connection_before_sending(
    smtp_server: ServerFactory, certificate: Certificate, sleeps: Sleeps
) -> None:
    peer = smtp_server(tls_context=certificate.server_context(), require_starttls=True)
    sender = mailer(
        peer.port, sleeps, security="starttls", ssl_context=certificate.client_context()
    )
    delivery = sender.deliver(MESSAGE)
    assert delivery.ok, delivery.error
    _, _, session = peer.inbox.only()
    assert session.ssl is not None
    assert peer.inbox.ciphers[0] is not None


def test_auth_over_starttls_logs_in_with_the_configured_user(
    smtp_server: ServerFactory, certificate: Certificate, sleeps: Sleeps
) -> None:
    peer = smtp_server(
        tls_context=certificate.server_context(),
        require_starttls=True,
        with_auth=True,
        auth_required=True,
    )
    sender = mailer(
        peer.port,
        sleeps,
        security="starttls",
        username=USER,
        password=SecretStr(PASSWORD),
        ssl_context=certificate.client_context(),
    )
    assert sender.deliver(MESSAGE).ok
    assert peer.inbox.logins == [USER]
    _, _, session = peer.inbox.only()
    assert session.authenticated


def test_auth_over_implicit_tls_on_its_own_port(
    smtp_server: ServerFactory, certificate: Certificate, sleeps: Sleeps
) -> None:
    # aiosmtpd counts only STARTTLS as TLS for AUTH; this whole connection is TLS already.
    peer = smtp_server(
        implicit_tls=certificate.server_context(), with_auth=True, auth_require_tls=False
    )
    sender = mailer(
        peer.port,
        sleeps,
        security="tls",
        username=USER,
        password=SecretStr(PASSWORD),
        ssl_context=certificate.client_context(),
    )
    delivery = sender.deliver(MESSAGE)
    assert delivery.ok, delivery.error
    assert peer.inbox.logins == [USER]
    peer.inbox.only()
    assert peer.inbox.ciphers[0] is not None


def test_a_wrong_password_fails_at_once_and_is_never_logged_or_recorded(
    smtp_server: ServerFactory, certificate: Certificate, sleeps: Sleeps
) -> None:
    peer = smtp_server(tls_context=certificate.server_context(), with_auth=True)
    wrong = "wrong-pass-0xDEADBEEF"
    sender = mailer(
        peer.port,
        sleeps,
        security="starttls",
        username=USER,
        password=SecretStr(wrong),
        ssl_context=certificate.client_context(),
    )
    with structlog.testing.capture_logs() as logs:
        delivery = sender.deliver(MESSAGE)
    assert not delivery.ok
    assert delivery.attempts == 1
    assert delivery.error is not None
    assert delivery.error.startswith(
        f"The mail server {LOOPBACK}:{peer.port} refused the login of '{USER}': 535"
    )
    assert "PLANPORT_SMTP_PASSWORD" in delivery.error
    assert wrong not in repr(logs)
    assert wrong not in repr(delivery)
    assert logs, "each failed attempt is logged"
    assert peer.inbox.envelopes == []


def test_a_server_without_a_login_method_smtplib_knows_is_reported_not_retried(
    smtp_server: ServerFactory, certificate: Certificate, sleeps: Sleeps
) -> None:
    peer = smtp_server(
        tls_context=certificate.server_context(),
        with_auth=True,
        auth_exclude_mechanism=["LOGIN", "PLAIN"],
    )
    sender = mailer(
        peer.port,
        sleeps,
        security="starttls",
        username=USER,
        password=SecretStr(PASSWORD),
        ssl_context=certificate.client_context(),
    )
    delivery = sender.deliver(MESSAGE)
    assert (delivery.ok, delivery.attempts) == (False, 1)
    assert delivery.error == (
        f"The mail server {LOOPBACK}:{peer.port} could not be used during the login: "
        "No suitable authentication method found."
    )


def test_a_server_without_starttls_is_reported_not_retried(
    smtp_server: ServerFactory, sleeps: Sleeps
) -> None:
    peer = smtp_server()
    delivery = mailer(peer.port, sleeps, security="starttls").deliver(MESSAGE)
    assert not delivery.ok
    assert delivery.attempts == 1
    assert delivery.error is not None
    assert "does not offer STARTTLS" in delivery.error
    assert "PLANPORT_SMTP_SECURITY=tls" in delivery.error
    assert peer.inbox.envelopes == []


def test_an_untrusted_certificate_is_refused(
    smtp_server: ServerFactory, certificate: Certificate, sleeps: Sleeps
) -> None:
    peer = smtp_server(tls_context=certificate.server_context())
    delivery = mailer(peer.port, sleeps, security="starttls").deliver(MESSAGE)  # system CAs
    assert not delivery.ok
    assert delivery.attempts == 1
    assert delivery.error is not None
    assert "certificate of the mail server" in delivery.error
    assert "could not be verified" in delivery.error


def test_tls_against_a_plain_port_explains_the_security_setting(
    smtp_server: ServerFactory, certificate: Certificate, sleeps: Sleeps
) -> None:
    peer = smtp_server()
    sender = mailer(peer.port, sleeps, security="tls", ssl_context=certificate.client_context())
    delivery = sender.deliver(MESSAGE)
    assert not delivery.ok
    assert delivery.error is not None
    assert "TLS with the mail server" in delivery.error
    assert "PLANPORT_SMTP_SECURITY=tls" in delivery.error


def test_a_password_is_never_sent_over_an_unencrypted_connection(
    smtp_server: ServerFactory, sleeps: Sleeps
) -> None:
    peer = smtp_server(with_auth=True, auth_require_tls=False)
    sender = mailer(peer.port, sleeps, username=USER, password=SecretStr(PASSWORD))
    delivery = sender.deliver(MESSAGE)
    assert not delivery.ok
    assert delivery.attempts == 0
    assert delivery.error is not None
    assert "unencrypted" in delivery.error
    assert peer.inbox.logins == []


def test_a_server_that_is_down_fails_after_every_attempt_quickly(sleeps: Sleeps) -> None:
    port = free_port()  # nothing listens there
    started = time.monotonic()
    delivery = mailer(port, sleeps).deliver(MESSAGE)
    assert time.monotonic() - started < 5
    assert not delivery.ok
    assert delivery.attempts == 3
    assert sleeps == [2.0, 8.0]
    assert delivery.error == (
        f"The mail server {LOOPBACK}:{port} refused the connection: is it running, and is the "
        "port right?"
    )


def test_a_server_that_never_answers_times_out_and_is_retried(sleeps: Sleeps) -> None:
    with socket.socket() as silent:
        silent.bind((LOOPBACK, 0))
        silent.listen(8)  # accepts connections (the kernel's backlog) but never greets
        port = silent.getsockname()[1]
        started = time.monotonic()
        delivery = mailer(port, sleeps, timeout_s=0.2).deliver(MESSAGE)
    assert time.monotonic() - started < 3
    assert (delivery.ok, delivery.attempts) == (False, 3)
    assert delivery.error == (
        f"The mail server {LOOPBACK}:{port} did not answer within 0.2 s during connecting."
    )


def test_a_temporary_refusal_is_retried_and_then_delivered(
    smtp_server: ServerFactory, sleeps: Sleeps
) -> None:
    peer = smtp_server()
    peer.inbox.data_replies.append("451 4.3.0 Try again later")
    delivery = mailer(peer.port, sleeps).deliver(MESSAGE)
    assert delivery.ok, delivery.error
    assert delivery.attempts == 2
    assert sleeps == [2.0]
    assert len(peer.inbox.envelopes) == 1


def test_a_permanent_refusal_of_the_message_is_not_retried(
    smtp_server: ServerFactory, sleeps: Sleeps
) -> None:
    peer = smtp_server()
    peer.inbox.data_replies.append("554 5.7.1 Message rejected as spam")
    delivery = mailer(peer.port, sleeps).deliver(MESSAGE)
    assert (delivery.ok, delivery.attempts) == (False, 1)
    assert delivery.error == (
        f"The mail server {LOOPBACK}:{peer.port} answered 554 5.7.1 Message rejected as spam "
        "during sending."
    )


def test_a_refused_recipient_is_reported_while_the_others_get_the_email(
    smtp_server: ServerFactory, sleeps: Sleeps
) -> None:
    peer = smtp_server()
    peer.inbox.refuse_recipients.add("ben@example.com")
    delivery = mailer(peer.port, sleeps).deliver(MESSAGE)
    assert (delivery.ok, delivery.attempts) == (False, 1)
    assert delivery.error == (
        "The mail server refused 1 of 2 recipients: ben@example.com (550 5.1.1 No such user "
        "here). The others were sent the e-mail."
    )
    _, envelope, _ = peer.inbox.only()
    assert envelope.rcpt_tos == ["anna@example.com"]


def test_when_every_recipient_is_refused_nothing_is_sent(
    smtp_server: ServerFactory, sleeps: Sleeps
) -> None:
    peer = smtp_server()
    peer.inbox.refuse_recipients.update(MESSAGE.recipients)
    delivery = mailer(peer.port, sleeps).deliver(MESSAGE)
    assert (delivery.ok, delivery.attempts) == (False, 1)
    assert delivery.error is not None
    assert delivery.error.startswith("The mail server refused every recipient: anna@example.com")
    assert peer.inbox.envelopes == []


def test_a_message_without_recipients_is_not_sent(sleeps: Sleeps) -> None:
    empty = Message(subject="s", text="t", recipients=())
    delivery = mailer(free_port(), sleeps).deliver(empty)
    assert (delivery.ok, delivery.attempts, delivery.error) == (
        False,
        0,
        "The e-mail has no recipients.",
    )


# --- without a mail server -----------------------------------------------------------------


def test_without_an_smtp_host_emails_go_to_the_log(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLANPORT_SMTP_HOST", raising=False)
    sender = mailer_from_settings(Settings())
    assert isinstance(sender, LogMailer)
    with structlog.testing.capture_logs() as logs:
        delivery = sender.deliver(MESSAGE)
    assert (delivery.channel, delivery.ok, delivery.attempts) == (Channel.LOG, True, 1)
    assert delivery.target == "anna@example.com, ben@example.com"
    [event] = logs
    assert event["event"] == "alert.email_not_sent"
    assert event["subject"] == MESSAGE.subject
    assert event["text"] == MESSAGE.text
    assert event["recipients"] == list(MESSAGE.recipients)


def test_with_an_smtp_host_the_settings_give_an_smtp_mailer_with_their_retries(
    smtp_server: ServerFactory,
) -> None:
    peer = smtp_server()
    settings = Settings(
        smtp_host=LOOPBACK, smtp_port=peer.port, smtp_security="none", alert_retry_attempts=1
    )
    sender = mailer_from_settings(settings)
    assert isinstance(sender, SmtpMailer)
    assert sender.deliver(MESSAGE).ok
    assert len(peer.inbox.envelopes) == 1


# --- webhooks ------------------------------------------------------------------------------


@dataclass
class Hook:
    """A local HTTP server: records each POST, answers with the scripted statuses, then 200."""

    url: str
    port: int = 0
    replies: list[tuple[int, str]] = field(default_factory=list)
    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    delay_s: float = 0.0
    echo_authorization: bool = False  # answer with the Authorization header as reason and body


HookFactory = Callable[..., Hook]


@pytest.fixture
def hook_server() -> Iterator[HookFactory]:
    """Starts local HTTP (or, given a server context, HTTPS) webhooks; stops them afterwards."""
    servers: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    def start(tls: ssl.SSLContext | None = None) -> Hook:
        state = Hook(url="")
        server = ThreadingHTTPServer((LOOPBACK, 0), _handler_for(state))
        server.daemon_threads = True
        if tls is not None:
            server.socket = tls.wrap_socket(server.socket, server_side=True)
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        servers.append((server, thread))
        state.port = server.server_address[1]
        scheme = "https" if tls else "http"
        state.url = (
            f"{scheme}://{LOOPBACK}:{state.port}/services/T0001/B0002/s3cretT0ken?key=qs-secret"
        )
        return state

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def hook(hook_server: HookFactory) -> Hook:
    return hook_server()


def _handler_for(state: Hook) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # http.server's hook name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append((self.path, dict(self.headers), body))
            if state.delay_s:
                time.sleep(state.delay_s)
            status, text = state.replies.pop(0) if state.replies else (200, "ok")
            reason = None
            if state.echo_authorization:
                reason = text = f"you sent {self.headers.get('Authorization')}"
            payload = text.encode()
            self.send_response(status, reason)
            if 300 <= status < 400:
                self.send_header("Location", "https://elsewhere.example.com/x?token=abc")
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            # The client may have timed out first: that is what the slow test wants.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test output clean

    return Handler


# The receivers listen on loopback, which Planport refuses by default: allowed explicitly.
LOOPBACK_NETWORKS = (ipaddress.ip_network("127.0.0.0/8"),)


def webhook(sleeps: Sleeps, timeout_s: float = 5.0, **options: Any) -> WebhookSender:
    options.setdefault("allowed_networks", LOOPBACK_NETWORKS)
    return WebhookSender(timeout_s=timeout_s, retry=Retry(attempts=3, sleep=sleeps), **options)


PAYLOAD = {"text": "Import failed: Sales actuals → Revenue", "event": "first_failure"}


def assert_no_secret(text: str | None) -> None:
    assert text is None or not any(s in text for s in ("s3cretT0ken", "qs-secret", "B0002"))


def test_a_webhook_receives_the_payload_as_json(hook: Hook, sleeps: Sleeps) -> None:
    delivery = webhook(sleeps).deliver(hook.url, PAYLOAD)
    assert delivery.ok, delivery.error
    assert (delivery.channel, delivery.attempts) == (Channel.WEBHOOK, 1)
    assert delivery.target == f"http://{LOOPBACK}:{hook.port}/services/…"
    [(path, headers, body)] = hook.received
    assert path == "/services/T0001/B0002/s3cretT0ken?key=qs-secret"
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["User-Agent"].startswith("Planport/")
    assert json.loads(body.decode("utf-8")) == PAYLOAD


def test_a_server_error_is_retried_until_the_webhook_accepts(hook: Hook, sleeps: Sleeps) -> None:
    hook.replies.append((500, "internal error"))
    delivery = webhook(sleeps).deliver(hook.url, PAYLOAD)
    assert delivery.ok, delivery.error
    assert delivery.attempts == 2
    assert sleeps == [2.0]
    assert len(hook.received) == 2


def test_a_webhook_that_keeps_failing_is_recorded_after_every_attempt(
    hook: Hook, sleeps: Sleeps
) -> None:
    hook.replies.extend([(503, "busy")] * 3)
    delivery = webhook(sleeps).deliver(hook.url, PAYLOAD)
    assert (delivery.ok, delivery.attempts) == (False, 3)
    assert delivery.error == "The webhook answered 503 Service Unavailable."
    assert sleeps == [2.0, 8.0]


def test_a_client_error_is_not_retried_and_is_recorded_by_its_status_alone(
    hook: Hook, sleeps: Sleeps
) -> None:
    hook.replies.append((404, "no_service"))
    with structlog.testing.capture_logs() as logs:
        delivery = webhook(sleeps).deliver(hook.url, PAYLOAD)
    assert (delivery.ok, delivery.attempts) == (False, 1)
    assert delivery.error == "The webhook answered 404 Not Found."
    assert len(hook.received) == 1
    assert sleeps == []
    assert_no_secret(repr(logs))
    assert_no_secret(repr(delivery))


def test_the_settings_give_a_webhook_sender_with_their_retries(hook: Hook) -> None:
    hook.replies.append((500, "internal error"))
    sender = webhook_sender_from_settings(
        Settings(alert_retry_attempts=1, webhook_allowed_networks="127.0.0.0/8")
    )
    with structlog.testing.capture_logs():
        delivery = sender.deliver(hook.url, PAYLOAD)
    assert (delivery.ok, delivery.attempts) == (False, 1)


def test_too_many_requests_is_retried(hook: Hook, sleeps: Sleeps) -> None:
    hook.replies.append((429, "rate_limited"))
    delivery = webhook(sleeps).deliver(hook.url, PAYLOAD)
    assert (delivery.ok, delivery.attempts) == (True, 2)


def test_a_redirect_is_reported_not_followed(hook: Hook, sleeps: Sleeps) -> None:
    hook.replies.append((302, ""))
    delivery = webhook(sleeps).deliver(hook.url, PAYLOAD)
    assert (delivery.ok, delivery.attempts) == (False, 1)
    assert delivery.error == (
        "The webhook answered 302 Found: it redirects elsewhere; use the address it redirects to."
    )
    assert len(hook.received) == 1


def test_a_slow_webhook_times_out_and_is_retried(hook: Hook, sleeps: Sleeps) -> None:
    hook.delay_s = 0.5
    delivery = webhook(sleeps, timeout_s=0.1).deliver(hook.url, PAYLOAD)
    assert (delivery.ok, delivery.attempts) == (False, 3)
    assert delivery.error == "The webhook was not reached: no answer within 0.1 s."


def test_credentials_in_the_webhook_address_are_sent_as_basic_auth(
    hook: Hook, sleeps: Sleeps
) -> None:
    url = hook.url.replace("http://", "http://planport:pa%3A55word@")
    delivery = webhook(sleeps).deliver(url, PAYLOAD)
    assert delivery.ok, delivery.error
    assert delivery.target == f"http://{LOOPBACK}:{hook.port}/services/…"
    [(_, headers, _)] = hook.received
    credentials = base64.b64decode(headers["Authorization"].removeprefix("Basic "))
    assert credentials == b"planport:pa:55word"


def test_an_unreachable_webhook_is_retried_and_hides_its_secret(sleeps: Sleeps) -> None:
    url = f"http://user:pa55word@{LOOPBACK}:{free_port()}/services/T0001/B0002/s3cretT0ken"
    with structlog.testing.capture_logs() as logs:
        delivery = webhook(sleeps).deliver(url, PAYLOAD)
    assert (delivery.ok, delivery.attempts) == (False, 3)
    assert delivery.error == "The webhook was not reached: the connection was refused."
    assert delivery.target.endswith("/services/…")
    for text in (repr(logs), repr(delivery)):
        assert_no_secret(text)
        assert "pa55word" not in text


def test_an_https_webhook_with_a_trusted_certificate_receives_the_payload(
    hook_server: HookFactory, certificate: Certificate, sleeps: Sleeps
) -> None:
    hook = hook_server(tls=certificate.server_context())
    sender = webhook(sleeps, ssl_context=certificate.client_context())
    delivery = sender.deliver(hook.url, PAYLOAD)
    assert delivery.ok, delivery.error
    assert delivery.target == f"https://{LOOPBACK}:{hook.port}/services/…"
    assert len(hook.received) == 1


def test_an_https_webhook_with_an_untrusted_certificate_is_not_posted_to(
    hook_server: HookFactory, certificate: Certificate, sleeps: Sleeps
) -> None:
    hook = hook_server(tls=certificate.server_context())
    delivery = webhook(sleeps).deliver(hook.url, PAYLOAD)  # the system's authorities
    assert (delivery.ok, delivery.attempts) == (False, 1)
    assert delivery.error is not None
    assert delivery.error.startswith(
        "The webhook was not reached: its certificate could not be verified: "
    )
    assert hook.received == []


REFUSED_LOOPBACK = (
    "The webhook was not posted to: its host resolves to a loopback address, and Planport "
    "posts only to public addresses unless PLANPORT_WEBHOOK_ALLOWED_NETWORKS allows the network."
)


def test_a_receiver_on_loopback_is_refused_by_default_and_never_posted_to(
    hook: Hook, sleeps: Sleeps
) -> None:
    with structlog.testing.capture_logs() as logs:
        delivery = WebhookSender(retry=Retry(attempts=3, sleep=sleeps)).deliver(hook.url, PAYLOAD)
    assert (delivery.ok, delivery.attempts) == (False, 1)  # not retried: it would fail again
    assert delivery.error == REFUSED_LOOPBACK
    assert hook.received == []
    assert_no_secret(repr(logs))


def test_a_receiver_on_loopback_is_posted_to_once_the_settings_allow_its_network(
    hook: Hook,
) -> None:
    refused = webhook_sender_from_settings(Settings(alert_retry_attempts=1))
    allowed = webhook_sender_from_settings(
        Settings(alert_retry_attempts=1, webhook_allowed_networks="10.0.0.0/8, 127.0.0.0/8")
    )
    with structlog.testing.capture_logs():
        assert refused.deliver(hook.url, PAYLOAD).error == REFUSED_LOOPBACK
    delivery = allowed.deliver(hook.url, PAYLOAD)
    assert delivery.ok, delivery.error
    assert len(hook.received) == 1


def test_a_host_name_that_resolves_to_loopback_is_refused(hook: Hook, sleeps: Sleeps) -> None:
    url = hook.url.replace(LOOPBACK, "localhost")
    with structlog.testing.capture_logs():
        delivery = webhook(sleeps, allowed_networks=()).deliver(url, PAYLOAD)
    assert delivery.error == REFUSED_LOOPBACK
    assert hook.received == []


def test_each_attempt_connects_to_the_address_it_checked_not_to_a_new_lookup(
    hook: Hook, sleeps: Sleeps
) -> None:
    # `hooks.planport.test` is known to no DNS: reaching the receiver proves that the connection
    # went to the checked answer of the seam, with the name kept for the Host header.
    asked: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return [LOOPBACK]

    hook.replies.append((503, "busy"))
    url = hook.url.replace(LOOPBACK, "hooks.planport.test")
    delivery = webhook(sleeps, resolve=resolve).deliver(url, PAYLOAD)
    assert delivery.ok, delivery.error
    assert asked == ["hooks.planport.test"] * 2  # once per attempt, never reused
    assert [headers["Host"] for _, headers, _ in hook.received] == [
        f"hooks.planport.test:{hook.port}"
    ] * 2


def test_an_answer_that_changes_to_an_internal_address_is_refused_on_that_attempt(
    hook: Hook, sleeps: Sleeps
) -> None:
    answers = [[LOOPBACK], ["10.0.0.7"]]  # rebinding: the second lookup points elsewhere
    hook.replies.append((503, "busy"))
    url = hook.url.replace(LOOPBACK, "hooks.planport.test")
    with structlog.testing.capture_logs():
        delivery = webhook(sleeps, resolve=lambda host, port: answers.pop(0)).deliver(url, PAYLOAD)
    assert (delivery.ok, delivery.attempts) == (False, 2)
    assert delivery.error is not None
    assert "resolves to a private address" in delivery.error
    assert len(hook.received) == 1


def test_https_is_verified_against_the_host_name_not_the_checked_address(
    hook_server: HookFactory, certificate: Certificate, sleeps: Sleeps
) -> None:
    # The certificate names localhost and 127.0.0.1, not hooks.planport.test: connecting to
    # 127.0.0.1 must not let a certificate for the address stand in for the name.
    hook = hook_server(tls=certificate.server_context())
    sender = webhook(
        sleeps, ssl_context=certificate.client_context(), resolve=lambda host, port: [LOOPBACK]
    )
    trusted = sender.deliver(hook.url.replace(LOOPBACK, "localhost"), PAYLOAD)
    with structlog.testing.capture_logs():
        other = sender.deliver(hook.url.replace(LOOPBACK, "hooks.planport.test"), PAYLOAD)
    assert trusted.ok, trusted.error
    assert other.error is not None
    assert other.error.startswith("The webhook was not reached: its certificate could not be")
    assert other.error.endswith(
        "Hostname mismatch, certificate is not valid for 'hooks.planport.test'."
    )
    assert len(hook.received) == 1


def test_a_receiver_echoing_the_credentials_leaves_no_trace_of_them_or_its_answer(
    hook: Hook, sleeps: Sleeps
) -> None:
    hook.echo_authorization = True
    hook.replies.append((401, "unused"))
    url = hook.url.replace("http://", "http://planport:Echo-pa55word@")
    with structlog.testing.capture_logs() as logs:
        delivery = webhook(sleeps).deliver(url, PAYLOAD)
    [(_, headers, _)] = hook.received
    authorization = headers["Authorization"]
    assert authorization.startswith("Basic ")
    assert delivery.error == "The webhook answered 401 Unauthorized."
    for text in (repr(logs), repr(delivery)):
        assert_no_secret(text)
        assert "you sent" not in text
        assert authorization.removeprefix("Basic ") not in text
        assert "Echo-pa55word" not in text


def test_a_status_without_a_standard_name_is_recorded_by_its_number(
    hook: Hook, sleeps: Sleeps
) -> None:
    hook.replies.append((499, "client went away"))
    delivery = webhook(sleeps).deliver(hook.url, PAYLOAD)
    assert delivery.error == "The webhook answered 499."


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/x",
        "not a url",
        "http://[::1/hook",
        "https://example.com:port/hook",
    ],
)
def test_only_http_and_https_addresses_are_posted_to(url: str, sleeps: Sleeps) -> None:
    delivery = webhook(sleeps).deliver(url, PAYLOAD)
    assert (delivery.ok, delivery.attempts) == (False, 0)
    assert delivery.error is not None
    assert "https://" in delivery.error


# --- one alert on every channel ------------------------------------------------------------


def context() -> AlertContext:
    return AlertContext(
        application_name="Budget 2025",
        configuration_name="Sales actuals",
        configuration_id=uuid.uuid4(),
        block_name="Revenue",
        run_id=uuid.uuid4(),
        status=RunStatus.FAILED,
        finished_at=dt.datetime(2026, 3, 2, 1, 31, tzinfo=dt.UTC),
        summary_url="https://plan.example.com/runs/1",
        errors=[AlertError("FileUnreadable", "The file is not UTF-8.")],
    )


def test_send_alert_emails_and_posts_the_same_alert(
    smtp_server: ServerFactory, hook: Hook, sleeps: Sleeps
) -> None:
    peer = smtp_server()
    ctx = context()
    sent = send_alert(
        FirstFailure(ctx.finished_at),
        ctx,
        recipients=["anna@example.com"],
        mailer=mailer(peer.port, sleeps),
        webhook_url=hook.url,
        webhook=webhook(sleeps),
    )
    assert [(d.channel, d.ok) for d in sent.deliveries] == [
        (Channel.EMAIL, True),
        (Channel.WEBHOOK, True),
    ]
    assert sent.message is not None
    assert sent.outbox is None
    email, _, _ = peer.inbox.only()
    assert email["Subject"] == "[Planport] Import failed: Sales actuals → Revenue"
    [(_, _, body)] = hook.received
    assert json.loads(body)["configuration"]["id"] == str(ctx.configuration_id)


def test_send_alert_without_a_mail_server_hands_back_the_outbox_message(hook: Hook) -> None:
    ctx = context()
    with structlog.testing.capture_logs():
        sent = send_alert(
            FirstFailure(ctx.finished_at), ctx, recipients=["anna@example.com"], mailer=LogMailer()
        )
    assert [d.channel for d in sent.deliveries] == [Channel.LOG]
    assert sent.outbox is not None
    assert sent.outbox == sent.message
    assert sent.outbox.recipients == ("anna@example.com",)


def test_send_alert_without_recipients_or_webhook_sends_nothing() -> None:
    ctx = context()
    sent = send_alert(FirstFailure(ctx.finished_at), ctx, recipients=[], mailer=LogMailer())
    assert (sent.message, sent.deliveries, sent.outbox) == (None, (), None)
