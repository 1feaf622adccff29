"""Alert webhooks: a JSON POST with http.client, retried on server errors, the URL kept secret.

Webhook URLs are credentials (a Slack incoming webhook's path is its token), so records and logs
show only `redact_url(url)`: scheme, host and the first path segment. Redirects are not followed
(a redirect is reported instead): following one would let a receiver send Planport elsewhere.

An application admin chooses the address, so it must not reach what only Planport's machine can
(loopback, the private network, the cloud metadata service): every attempt resolves the host
once with `targets.refuse_internal` and connects only to the addresses it checked, verifying
TLS against the host name. What a receiver answers is never kept: only its status, with a
reason of our own, since the answer may echo the credentials and Readers see the record.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
from base64 import b64encode
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

from planport import __version__
from planport.alerts.delivery import (
    Channel,
    Delivery,
    DeliveryError,
    Retry,
    deliver_with_retries,
)
from planport.alerts.targets import (
    IPAddress,
    IPNetwork,
    Resolver,
    TargetRefused,
    TargetUnresolvable,
    refuse_internal,
)
from planport.domain.clock import Clock, utc_now

if TYPE_CHECKING:
    # Only for annotations: settings pull in SQLAlchemy, and this package stays free of it.
    from planport.settings import Settings

_DRAIN = 64 * 1024  # bytes of an answer read (and dropped), so the server sees a clean close


def redact_url(url: str) -> str:
    """`https://hooks.slack.com/services/…`: the URL without user, password, query, fragment
    and any path after its first segment (a single segment is hidden too: it may be the token).
    """
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
    except ValueError:  # such as an unclosed "[" of an IPv6 address
        return "(not a web address)"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        port = ""
    segments = [segment for segment in parts.path.split("/") if segment]
    shown = f"{parts.scheme}://{host}{port}"
    if len(segments) > 1 or (segments and (parts.query or parts.fragment)):
        return f"{shown}/{segments[0]}/…"
    if segments or parts.query or parts.fragment or parts.username:
        return f"{shown}/…"
    return shown


def webhook_sender_from_settings(settings: Settings) -> WebhookSender:
    """A WebhookSender that tries PLANPORT_ALERT_RETRY_ATTEMPTS times and posts to internal
    addresses only inside PLANPORT_WEBHOOK_ALLOWED_NETWORKS."""
    return WebhookSender(
        retry=Retry(attempts=settings.alert_retry_attempts),
        allowed_networks=settings.webhook_networks,
    )


def check_webhook_target(
    url: str, allowed: Iterable[IPNetwork] = (), *, resolve: Resolver | None = None
) -> None:
    """Check, when an address is saved, that its host resolves only to addresses a delivery
    may post to. Raises TargetRefused ("… resolves to 127.0.0.1, a loopback address") if not.

    A host that does not resolve now passes: DNS may be down for a moment, and every delivery
    checks again. An address that is not http(s) passes too: the caller checks its form.
    """
    parts = _web_address(url)
    if parts is None:
        return
    _, host, port = _endpoint(parts)
    with contextlib.suppress(TargetUnresolvable):
        refuse_internal(host, port, allowed, resolve=resolve)


@dataclass(frozen=True)
class _Post:
    """One webhook request, ready to send on each attempt (the URL's credentials moved to a
    header)."""

    tls: bool
    host: str
    port: int
    path: str  # a secret too (a Slack token): kept out of repr with the headers
    headers: Mapping[str, str]
    body: bytes

    def __repr__(self) -> str:
        return f"_Post({'https' if self.tls else 'http'}://{self.host}:{self.port}/…)"


class WebhookSender:
    """POSTs alert payloads as JSON. Safe to share between threads: it keeps no connection.

    `ssl_context` verifies HTTPS certificates (default: the system's authorities).
    `allowed_networks` are internal networks it may post to all the same (default: none);
    `resolve` replaces DNS (the tests' seam; default: the system's resolver).
    """

    def __init__(
        self,
        *,
        timeout_s: float = 10.0,
        retry: Retry | None = None,
        ssl_context: ssl.SSLContext | None = None,
        clock: Clock = utc_now,
        allowed_networks: Iterable[IPNetwork] = (),
        resolve: Resolver | None = None,
    ) -> None:
        self._timeout_s = timeout_s
        self._retry = retry or Retry()
        self._clock = clock
        self._ssl_context = ssl_context or ssl.create_default_context()
        self._allowed = tuple(allowed_networks)
        self._resolve = resolve

    def deliver(self, url: str, payload: Mapping[str, Any]) -> Delivery:
        """POSTs `payload` to `url`; returns the Delivery (never raises for failures).

        Retries connection errors, timeouts, 5xx and 429 answers; other answers, and an address
        that is refused as internal, are final.
        """
        target = redact_url(url)
        parts = _web_address(url)
        if parts is None:
            now = self._clock()
            error = "The webhook address must start with https:// (or http://) and name a host."
            return Delivery(Channel.WEBHOOK, target, False, 0, error, now, now)
        post = _post(parts, json.dumps(payload, ensure_ascii=False).encode("utf-8"))
        return deliver_with_retries(
            Channel.WEBHOOK,
            target,
            lambda: self._post_once(post),
            retry=self._retry,
            clock=self._clock,
            scrub=_scrubber(url, target),
        )

    def _post_once(self, post: _Post) -> None:
        # Resolved again on every attempt, and connected to only what was checked: a DNS answer
        # that changes between the check and the connection cannot reach an internal address.
        try:
            addresses = refuse_internal(post.host, post.port, self._allowed, resolve=self._resolve)
        except TargetRefused as refused:
            raise DeliveryError(_refused_text(refused), retryable=False) from None
        except TargetUnresolvable:
            raise self._unreachable(socket.gaierror()) from None
        tls = self._ssl_context if post.tls else None
        connection = _PinnedConnection(post.host, post.port, addresses, self._timeout_s, tls)
        try:
            connection.request("POST", post.path, post.body, dict(post.headers))
            with connection.getresponse() as response:
                response.read(_DRAIN)  # read and dropped: only the status is kept
                status = response.status
        except (TimeoutError, http.client.HTTPException, OSError) as error:
            raise self._unreachable(error) from None
        finally:
            connection.close()
        if not 200 <= status < 300:
            raise _answered(status)

    def _unreachable(self, reason: object) -> DeliveryError:
        match reason:
            case ssl.SSLCertVerificationError():
                # OpenSSL's own words, some of which end in a full stop already.
                verified = str(reason.verify_message).rstrip(".")
                text = f"its certificate could not be verified: {verified}"
                return DeliveryError(f"The webhook was not reached: {text}.", retryable=False)
            case TimeoutError():
                text = f"no answer within {self._timeout_s:g} s"
            case socket.gaierror():
                text = "its host name could not be resolved"
            case ConnectionRefusedError():
                text = "the connection was refused"
            case http.client.RemoteDisconnected():
                text = "the server closed the connection without answering"
            case http.client.HTTPException():
                text = "its answer was not HTTP"  # never the answer itself: see the docstring
            case OSError() if reason.strerror:
                text = reason.strerror
            case _:
                text = type(reason).__name__
        return DeliveryError(f"The webhook was not reached: {text}.", retryable=True)


def _post(parts: SplitResult, body: bytes) -> _Post:
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": f"Planport/{__version__} (failure alerts)",
    }
    if parts.username is not None:
        # http.client cannot send `user:password@` itself: it becomes HTTP Basic authentication.
        headers["Authorization"] = _basic(parts)
    tls, host, port = _endpoint(parts)
    path = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    return _Post(tls, host, port, path, headers, body)


def _endpoint(parts: SplitResult) -> tuple[bool, str, int]:
    """(TLS or not, host, port) of an address `_web_address` accepted."""
    tls = parts.scheme == "https"
    assert parts.hostname is not None  # _web_address checked it
    return tls, parts.hostname, parts.port or (443 if tls else 80)


def _basic(parts: SplitResult) -> str:
    credentials = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
    return "Basic " + b64encode(credentials.encode()).decode()


def _refused_text(refused: TargetRefused) -> str:
    """Our own short reason, without the address: Readers of the run see it."""
    return (
        f"The webhook was not posted to: its host resolves to {refused.kind}, and Planport posts "
        "only to public addresses unless PLANPORT_WEBHOOK_ALLOWED_NETWORKS allows the network."
    )


def _web_address(url: str) -> SplitResult | None:
    """The parts of an http(s) URL with a host, or None for anything else."""
    try:
        parts = urlsplit(url.strip())
        if parts.scheme in ("http", "https") and parts.hostname:
            _ = parts.port  # raises ValueError for a port that is not a number
            return parts
    except ValueError:
        pass
    return None


def _answered(code: int) -> DeliveryError:
    """An HTTP answer other than 2xx, in our words: the receiver's reason phrase and body are
    never kept, since either may echo what we sent (its credentials). 5xx and 429 may pass
    later; the rest will not."""
    try:
        text = f"The webhook answered {code} {HTTPStatus(code).phrase}"
    except ValueError:  # a status code without a standard name
        text = f"The webhook answered {code}"
    if 300 <= code < 400:
        text += ": it redirects elsewhere; use the address it redirects to"
    return DeliveryError(text + ".", retryable=code >= 500 or code == 429)


def _scrubber(url: str, target: str) -> Callable[[str], str]:
    """Hides the secret parts of `url` (all of it, userinfo, path, query, the user and
    password, the Authorization header they become) in an error text."""
    raw = url.strip()
    parts = urlsplit(raw)
    userinfo = parts.netloc.rpartition("@")[0]
    secrets = [raw, userinfo, parts.path, parts.query, parts.fragment]
    if parts.username is not None:
        authorization = _basic(parts)
        secrets += [authorization, authorization.removeprefix("Basic ")]
        secrets += [unquote(parts.username), unquote(parts.password or "")]
    # Longest first, so that the whole URL becomes its redacted form before its pieces go.
    secrets = sorted({secret for secret in secrets if len(secret) >= 4}, key=len, reverse=True)

    def scrub(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, target if secret == raw else "…")
        return text

    return scrub


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP (or, given `tls`, HTTPS) connection to `host` that opens its socket only to
    `addresses`, checked beforehand, and verifies TLS against the host name, not the address."""

    def __init__(
        self,
        host: str,
        port: int,
        addresses: Sequence[IPAddress],
        timeout_s: float,
        tls: ssl.SSLContext | None,
    ) -> None:
        super().__init__(host, port, timeout=timeout_s)
        self.default_port = 443 if tls else 80  # `Host:` names the port only when not default
        self._addresses = addresses
        self._timeout_s = timeout_s
        self._tls = tls

    def connect(self) -> None:
        sock = _connect_any(self._addresses, self.port, self._timeout_s)
        if self._tls is not None:
            try:
                sock = self._tls.wrap_socket(sock, server_hostname=self.host)
            except BaseException:
                sock.close()
                raise
        self.sock = sock


def _connect_any(addresses: Sequence[IPAddress], port: int, timeout_s: float) -> socket.socket:
    """A socket to the first of `addresses` that accepts; raises the last one's OSError."""
    failure: OSError | None = None
    for address in addresses:
        try:
            return socket.create_connection((str(address), port), timeout=timeout_s)
        except OSError as error:
            failure = error
    assert failure is not None  # refuse_internal returns at least one address
    raise failure
