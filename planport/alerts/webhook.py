"""Alert webhooks: a JSON POST with urllib, retried on server errors, with the URL kept secret.

Webhook URLs are credentials (a Slack incoming webhook's path is its token), so records and logs
show only `redact_url(url)`: scheme, host and the first path segment. Redirects are not followed:
urllib would turn the POST into a GET and drop the alert, so a redirect is reported instead.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

from planport import __version__
from planport.alerts.delivery import (
    Channel,
    Clock,
    Delivery,
    DeliveryError,
    Retry,
    deliver_with_retries,
    utc_now,
)

if TYPE_CHECKING:
    # Only for annotations: settings pull in SQLAlchemy, and this package stays free of it.
    from planport.settings import Settings

_BODY_EXCERPT = 200  # characters of a refusing server's answer kept in the delivery record


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
    """A WebhookSender that tries PLANPORT_ALERT_RETRY_ATTEMPTS times."""
    return WebhookSender(retry=Retry(attempts=settings.alert_retry_attempts))


class WebhookSender:
    """POSTs alert payloads as JSON. Safe to share between threads: it keeps no connection.

    `ssl_context` verifies HTTPS certificates (default: the system's authorities).
    """

    def __init__(
        self,
        *,
        timeout_s: float = 10.0,
        retry: Retry | None = None,
        ssl_context: ssl.SSLContext | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._timeout_s = timeout_s
        self._retry = retry or Retry()
        self._clock = clock
        self._opener = urllib.request.build_opener(
            _NoRedirects(), urllib.request.HTTPSHandler(context=ssl_context)
        )

    def deliver(self, url: str, payload: Mapping[str, Any]) -> Delivery:
        """POSTs `payload` to `url`; returns the Delivery (never raises for failures).

        Retries connection errors, timeouts, 5xx and 429 answers; other answers are final.
        """
        target = redact_url(url)
        parts = _web_address(url)
        if parts is None:
            now = self._clock()
            error = "The webhook address must start with https:// (or http://) and name a host."
            return Delivery(Channel.WEBHOOK, target, False, 0, error, now, now)
        scrub = _scrubber(url, target)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": f"Planport/{__version__} (failure alerts)",
        }
        if parts.username is not None:
            # urllib cannot send `user:password@` itself: it becomes HTTP Basic authentication.
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            headers["Authorization"] = "Basic " + b64encode(credentials.encode()).decode()
            parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
        request = urllib.request.Request(
            urlunsplit(parts),
            data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
            headers=headers,
            method="POST",
        )
        return deliver_with_retries(
            Channel.WEBHOOK,
            target,
            lambda: self._post_once(request),
            retry=self._retry,
            clock=self._clock,
            scrub=scrub,
        )

    def _post_once(self, request: urllib.request.Request) -> None:
        try:
            with self._opener.open(request, timeout=self._timeout_s) as response:
                response.read(64 * 1024)  # drain a little, so the server sees a clean close
        except urllib.error.HTTPError as error:
            raise _answered(error) from None
        except urllib.error.URLError as error:
            raise self._unreachable(error.reason) from None
        except (TimeoutError, http.client.HTTPException, OSError) as error:
            raise self._unreachable(error) from None

    def _unreachable(self, reason: object) -> DeliveryError:
        match reason:
            case ssl.SSLCertVerificationError():
                text = f"its certificate could not be verified: {reason.verify_message}"
                return DeliveryError(f"The webhook was not reached: {text}.", retryable=False)
            case TimeoutError():
                text = f"no answer within {self._timeout_s:g} s"
            case socket.gaierror():
                text = "its host name could not be resolved"
            case ConnectionRefusedError():
                text = "the connection was refused"
            case http.client.RemoteDisconnected():
                text = "the server closed the connection without answering"
            case OSError() if reason.strerror:
                text = reason.strerror
            case _:
                text = str(reason) or type(reason).__name__
        return DeliveryError(f"The webhook was not reached: {text}.", retryable=True)


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


def _answered(error: urllib.error.HTTPError) -> DeliveryError:
    """An HTTP answer other than 2xx. 5xx and 429 may pass later; the rest will not."""
    code = error.code
    try:
        body = error.read(4096).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):
        body = ""
    finally:
        error.close()
    excerpt = " ".join(body.split())[:_BODY_EXCERPT]
    text = f"The webhook answered {code} {error.reason}"
    if 300 <= code < 400:
        text += ": it redirects elsewhere; use the address it redirects to"
    text += f" ({excerpt})." if excerpt else "."
    return DeliveryError(text, retryable=code >= 500 or code == 429)


def _scrubber(url: str, target: str) -> Callable[[str], str]:
    """Hides the secret parts of `url` (all of it, userinfo, path, query) in an error text."""
    raw = url.strip()
    parts = urlsplit(raw)
    userinfo = parts.netloc.rpartition("@")[0]
    secrets = [raw, userinfo, parts.path, parts.query, parts.fragment]
    # Longest first, so that the whole URL becomes its redacted form before its pieces go.
    secrets = sorted({secret for secret in secrets if len(secret) >= 4}, key=len, reverse=True)

    def scrub(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, target if secret == raw else "…")
        return text

    return scrub


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError with the 3xx code
