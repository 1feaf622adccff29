"""Planport's settings. Every option has a PLANPORT_* environment variable and a default.

Settings that do not parse stop the start-up with the variable's name (pydantic-settings'
validation error names it). docs/configuration.md lists every variable; keep them in step.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from email.utils import parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from planport.domain.redaction import redact


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PLANPORT_", extra="ignore", frozen=True)

    data_dir: Path = Field(
        default=Path("planport-data"),
        description="Folder for the embedded database, the generated secret key and samples.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the database; default: SQLite at DATA_DIR/planport.db. "
        "PostgreSQL: postgresql+psycopg://user:password@host:5432/planport",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Key that encrypts secrets at rest (application alert webhooks, connection "
        "credentials); default: generated once into DATA_DIR/secret_key on first use. "
        "Set it explicitly, and the same, on every machine sharing one database.",
    )
    secret_key_previous: SecretStr | None = Field(
        default=None,
        description="While changing PLANPORT_SECRET_KEY: the key secrets were encrypted with "
        "before. It is only read, never written with; `planport secrets rotate` re-encrypts "
        "every secret under PLANPORT_SECRET_KEY, after which it can be removed.",
    )
    host: str = Field(default="127.0.0.1", description="Address `planport serve` listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `planport serve` uses.")
    base_url: str = Field(
        default="",
        description="Public address of this Planport, used in links sent to people. Default: "
        "http://HOST:PORT as `planport serve` listens (127.0.0.1 when it listens on every "
        "address); set it when people reach Planport by another name.",
    )
    cookie_secure: bool = Field(
        default=False,
        description="Send the session cookie only over HTTPS. Turn on behind TLS.",
    )
    session_hours: int = Field(
        default=12, ge=1, le=24 * 90, description="How long a login lasts without activity."
    )
    # ---- sign-in throttling and audit (issue 10, item 7)
    login_max_failures: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="Failed sign-ins for one account (e-mail), within the failure window, that "
        "lock it for PLANPORT_LOGIN_LOCK_MINUTES. A successful sign-in starts the count again.",
    )
    login_max_failures_per_address: int = Field(
        default=50,
        ge=1,
        le=100_000,
        description="Failed sign-ins from one network address, within the failure window and "
        "whatever the accounts, that lock sign-ins from that address.",
    )
    login_failure_window_minutes: int = Field(
        default=15,
        ge=1,
        le=24 * 60,
        description="The window in which failed sign-ins are counted, in minutes.",
    )
    login_lock_minutes: int = Field(
        default=15,
        ge=1,
        le=24 * 60,
        description="How long a lock lasts after the failed sign-in that caused it, in minutes.",
    )
    sign_in_retention_days: int = Field(
        default=90,
        ge=7,
        le=3660,
        description="How long sign-in attempts are kept for members' account pages, in days.",
    )
    # ---- end of sign-in throttling
    sqlite_busy_timeout_ms: int = Field(
        default=15000,
        ge=0,
        description=(
            "How long an SQLite writer waits for its turn (other writers of the process, then "
            "SQLite's lock) before giving up with a 'database busy' message."
        ),
    )
    log_format: Literal["console", "json"] = Field(
        default="console", description="`console` for people, `json` for log collectors."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Lowest level of log lines written."
    )
    max_upload_bytes: int = Field(
        default=1 << 30,
        ge=1 << 20,
        le=1 << 40,
        description="Largest request body a signed-in member may send (a file uploaded to the "
        "import wizard, with its form), in bytes; larger ones are refused with 413 while they "
        "arrive. Requests without a session may send at most 64 KB (the login form).",
    )
    inspection_time_limit_s: float = Field(
        default=60,
        gt=0,
        le=3600,
        description="Longest a page may spend reading a file while its member waits (the "
        "import wizard's steps, Check, a configuration's Edit), in seconds; past it the page "
        "says so and nothing is changed. Runs have no such limit: they show their progress "
        "and can be cancelled.",
    )
    upload_retention_hours: int = Field(
        default=24,
        ge=1,
        le=24 * 365,
        description="How long files uploaded to the import wizard are kept under DATA_DIR/uploads.",
    )
    file_store_url: str = Field(
        default="",
        description="Where files given with runs (wizard uploads, Import API pushes) are kept "
        "so every machine reads them: empty for DATA_DIR (one machine), or an S3-compatible "
        "bucket and optional prefix, such as s3://planport-files/prod. Credentials come from "
        "the machine's AWS chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ~/.aws, a role).",
    )
    file_store_endpoint_url: str = Field(
        default="",
        description="The S3 API's address when it is not AWS's (MinIO, Ceph, Scaleway…), such "
        "as https://s3.example.com.",
    )
    file_store_region: str = Field(
        default="", description="The bucket's region, when the endpoint needs one."
    )
    import_root: Path | None = Field(
        default=None,
        description="Folder that server-folder sources read from (never outside it); "
        "default: DATA_DIR/imports.",
    )
    import_settle_seconds: int = Field(
        default=0,
        ge=0,
        le=24 * 3600,
        description="A server-folder file modified less than this many seconds ago is not read "
        "yet (it may still be being written); the run is retried.",
    )
    page_size: int = Field(
        default=100, ge=10, le=5000, description="Rows per page in the block data grid."
    )
    # ---- runs and executors (issue 4): who executes queued runs, heartbeats, retries
    executor: Literal["threads", "celery"] = Field(
        default="threads",
        description="Who executes import runs: `threads` (a bounded pool inside `planport serve` "
        "or `planport worker`) or `celery` (`planport worker` processes fed through a broker).",
    )
    worker_threads: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Import runs one thread executor runs at once (SQLite: always 1, it has a "
        "single writer). Also the default concurrency of `planport worker`.",
    )
    celery_broker_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        description="Broker of the Celery executor: redis://host:6379/0 or "
        "amqp://user:password@host:5672// (RabbitMQ).",
    )
    celery_queue: str = Field(
        default="planport",
        min_length=1,
        description="Celery queue the run messages go to (give several installations sharing a "
        "broker their own).",
    )
    celery_visibility_timeout_seconds: int = Field(
        default=3600,
        ge=10,
        description="Redis broker: how long a delivered message stays unacknowledged before "
        "Redis delivers it again. A repeated delivery never runs a run twice.",
    )
    heartbeat_seconds: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="How often an executor renews the heartbeat of each run it is running.",
    )
    worker_lost_after_seconds: float = Field(
        default=45.0,
        gt=0,
        le=3600,
        description="A running run whose heartbeat is older than this is failed as WorkerLost "
        "by the sweeper (and retried). Keep it several heartbeats long.",
    )
    run_poll_seconds: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="How often an idle thread executor looks for runs queued by other "
        "processes (runs submitted in-process start at once).",
    )
    requeue_after_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Celery: a due run still queued this long after it was sent is sent again "
        "by the sweeper (its message may have been lost).",
    )
    run_retries: int = Field(
        default=2,
        ge=0,
        le=10,
        description="Retries of a run that failed for a transient reason (worker lost, source "
        "unreachable). Data errors, refused permissions and bad files are never retried.",
    )
    retry_backoff_seconds: float = Field(
        default=30.0,
        ge=0,
        description="Wait before the first retry; each further retry waits twice as long.",
    )
    # ---- end of runs and executors
    # ---- scheduling and history (issue 4)
    scheduler: bool = Field(
        default=True,
        description="Run the scheduler inside `planport serve` (turn off when `planport "
        "scheduler` processes run elsewhere; on SQLite only one scheduler may run).",
    )
    run_retention_days: int = Field(
        default=183,
        ge=1,
        le=3660,
        description="Runs older than this leave the history (the last 50 runs of each import "
        "configuration are always kept).",
    )
    # Failure alerts (planport/alerts). Without an SMTP host, e-mails go to the log and the outbox.
    smtp_host: str | None = Field(
        default=None,
        description="Mail server that sends alert e-mails; unset: e-mails are written to the log "
        "and kept in the outbox page for admins.",
    )
    smtp_port: int = Field(
        default=587,
        ge=1,
        le=65535,
        description="Port of the mail server: 587 for STARTTLS, 465 for TLS, 25 for none.",
    )
    smtp_security: Literal["none", "starttls", "tls"] = Field(
        default="starttls",
        description="`starttls` upgrades a plain connection, `tls` is TLS from the start "
        "(port 465), `none` sends in clear (only to a relay on the same machine or network).",
    )
    smtp_username: str | None = Field(
        default=None, description="User name to log in to the mail server; unset: no login."
    )
    smtp_password: SecretStr | None = Field(
        default=None, description="Password to log in to the mail server."
    )
    smtp_from: str = Field(
        default="Planport <planport@localhost>",
        description="Sender of alert e-mails, as `Name <address>` or a bare address.",
    )
    smtp_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Seconds each step of talking to the mail server may take before it fails.",
    )
    alert_retry_attempts: int = Field(
        default=3,
        ge=1,
        le=10,
        description="How many times an alert e-mail or webhook is tried before it is recorded "
        "as failed.",
    )
    webhook_allowed_networks: str = Field(
        default="",
        description="Comma-separated CIDRs (such as `10.20.0.0/16, fd00::/8`) that alert "
        "webhooks may post to although they are loopback, private, link-local or otherwise "
        "internal; default: none, only public addresses.",
    )

    # ---- the Import API (issue 12)
    time_zone: str = Field(
        default="UTC",
        description="The workspace's IANA time zone (such as `Europe/Paris`): an API key stops "
        "working at the start of its expiration date there.",
    )
    api_max_push_bytes: int = Field(
        default=5 << 30,
        ge=1 << 10,
        le=1 << 42,
        description="Largest file a source system may push through the Import API, in bytes "
        "(after gzip decompression); a larger push is refused with 400 while it arrives and "
        "nothing of it is kept.",
    )
    api_requests_per_window: int = Field(
        default=500,
        ge=1,
        le=1_000_000,
        description="Most Import API requests one client address may make in one window "
        "(PLANPORT_API_REQUEST_WINDOW_S); more are answered 429 with Retry-After. Counted in the "
        "database on PostgreSQL, so the limit holds across several servers.",
    )
    api_request_window_s: int = Field(
        default=300,
        ge=1,
        le=86_400,
        description="The window of PLANPORT_API_REQUESTS_PER_WINDOW, in seconds.",
    )
    api_looker_max_bytes: int = Field(
        default=256 << 20,
        ge=1 << 10,
        le=1 << 34,
        description="Largest JSON payload a Looker webhook may deliver, in bytes. JSON is parsed "
        "whole, so this bounds the memory one delivery takes; a raw CSV body sent to the Looker "
        "endpoint is streamed and limited by PLANPORT_API_MAX_PUSH_BYTES instead.",
    )
    api_pushes_per_hour: int = Field(
        default=300,
        ge=1,
        le=100_000,
        description="Most pushes the Import API accepts per import configuration in one hour "
        "(Pigment's limit is 300); more are answered 429.",
    )
    api_push_idle_timeout_s: float = Field(
        default=60,
        gt=0,
        le=3600,
        description="Longest a push may send nothing before it is given up (400; nothing kept).",
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses or CIDRs of reverse proxies whose "
        "X-Forwarded-For header is believed for the client's address (API key allow lists, "
        "last-used address); default: none, the connection's peer is the client.",
    )

    @model_validator(mode="before")
    @classmethod
    def _base_url_from_the_listening_address(cls, data: Any) -> Any:
        """Links follow where the server listens (`make run PORT=8080`) unless told otherwise."""
        if not isinstance(data, dict) or data.get("base_url"):
            return data
        host = str(data.get("host") or "127.0.0.1")
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return {**data, "base_url": f"http://{host}:{data.get('port') or 8000}"}

    @field_validator("base_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("smtp_host", "smtp_username", "smtp_password", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `PLANPORT_SMTP_HOST=` in a compose file means "no mail server", not a host named "".
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("smtp_from")
    @classmethod
    def _an_email_address(cls, value: str) -> str:
        _, address = parseaddr(value)
        if "@" not in address:
            raise ValueError("must be an e-mail address, such as `Planport <planport@example.com>`")
        return value

    @field_validator("time_zone")
    @classmethod
    def _a_time_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone, such as Europe/Paris") from None
        return value

    @field_validator("file_store_url")
    @classmethod
    def _a_bucket(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and (not value.startswith("s3://") or value == "s3://"):
            raise ValueError("must be empty or an S3 bucket address, such as s3://bucket/prefix")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        return ", ".join(str(network) for network in _networks(value))

    @property
    def proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """PLANPORT_TRUSTED_PROXIES as networks (empty: no proxy is believed)."""
        return _networks(self.trusted_proxies)

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _cidrs(cls, value: str) -> str:
        """Every entry a network, or the start-up stops naming the entry; kept normalised."""
        return ", ".join(str(network) for network in _networks(value))

    @property
    def webhook_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """PLANPORT_WEBHOOK_ALLOWED_NETWORKS as networks (empty: only public addresses)."""
        return _networks(self.webhook_allowed_networks)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'planport.db').resolve()}"

    @property
    def effective_import_root(self) -> Path:
        """The folder server-folder sources read from (PLANPORT_IMPORT_ROOT, else
        DATA_DIR/imports)."""
        return self.import_root if self.import_root is not None else self.data_dir / "imports"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    def effective_secret_key(self) -> str:
        """The configured key, else one generated once into DATA_DIR/secret_key (mode 0600)."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            # O_EXCL: two processes starting at once never overwrite each other's key.
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w") as handle:
                    handle.write(secrets.token_urlsafe(48))
        return path.read_text().strip()

    def __repr_args__(self) -> Any:
        # repr(settings) lands in tracebacks and debug output: URLs with their passwords masked
        # (SecretStr fields mask themselves).
        for name, value in super().__repr_args__():
            yield name, redact(value) if isinstance(value, str) else value

    def masked(self) -> dict[str, str]:
        """Effective settings as `PLANPORT_*` → text, with every secret masked."""
        shown: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name == "database_url":
                value = make_url(self.effective_database_url).render_as_string(hide_password=True)
            elif name == "celery_broker_url":
                value = _without_password(self.celery_broker_url)
            elif name == "import_root":
                value = self.effective_import_root
            elif name == "secret_key":
                source = "set" if self.secret_key is not None else "not set: generated on first use"
                value = f"******** ({source})"
            elif name == "secret_key_previous":
                value = "******** (set)" if self.secret_key_previous is not None else "not set"
            elif name == "smtp_password":
                value = "******** (set)" if self.smtp_password is not None else "not set"
            shown[f"PLANPORT_{name.upper()}"] = "not set" if value is None else str(value)
        return shown


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once from the environment for this process."""
    return Settings()


def _networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """`"127.0.0.0/8, ::1"` → networks (a bare address is a /32 or /128). Raises ValueError
    naming an entry that is not a network, such as `10.0.0.1/8` (host bits set)."""
    networks = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry))
        except ValueError as error:
            raise ValueError(f"{entry!r} is not a network in CIDR form: {error}") from None
    return tuple(networks)


def _without_password(url: str) -> str:
    """A broker URL with every password masked; any form Celery accepts (`sentinel://…;…`
    lists several URLs) is shown, never refused here."""
    return re.sub(r"(://[^:/@;]*):[^@;]*@", r"\1:***@", url)
