"""SQLAlchemy models of Planport's own tables. Block data lives in per-block tables
(store/block_tables.py), not here.

Public ids are UUIDs, stable for clients (URLs, later the API); times are aware UTC.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from planport.domain.clock import utc_now

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always returns them aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Planport stores aware UTC datetimes only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Member(Base):
    __tablename__ = "member"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    account_type: Mapped[str] = mapped_column(String(20))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # An integration member cannot sign in (its password hash is empty): it exists to own API
    # keys and schedules, so that offboarding a person never breaks an integration.
    is_integration: Mapped[bool] = mapped_column(Boolean, default=False)


class MemberSession(Base):
    """A login. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "member_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class SignIn(Base):
    """One attempt to sign in: the login throttle counts recent failures from these rows, and
    members see their own on their account page. Pruned after PLANPORT_SIGN_IN_RETENTION_DAYS.

    `login_key` is the SHA-256 of the typed e-mail, normalized: it counts attempts against a
    name whether or not a member has it (so the throttle reveals no one), and never stores what
    was typed (people type passwords into the e-mail field)."""

    __tablename__ = "sign_in"
    __table_args__ = (
        Index("ix_sign_in_login_key_at", "login_key", "at"),
        Index("ix_sign_in_address_at", "address", "at"),
        Index("ix_sign_in_member_id_at", "member_id", "at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    member_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), nullable=True
    )
    login_key: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    # pending (password being checked), success, wrong_password, unknown_member, deactivated,
    # throttled
    outcome: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ApiKey(Base):
    """A key a source system presents to the Import API. Only its hash is stored; it acts with
    its owner's rights, checked at every call."""

    __tablename__ = "api_key"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    key_type: Mapped[str] = mapped_column(String(20))  # import, export, metadata
    prefix: Mapped[str] = mapped_column(String(20), index=True)  # the key's first characters
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # HMAC-SHA256, hex
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    expires_on: Mapped[date | None] = mapped_column(Date, nullable=True)  # as the admin chose it
    # The start of `expires_on` in the workspace's time zone, in UTC: the key stops then.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_address: Mapped[str | None] = mapped_column(String(64), nullable=True)


class IpAllowList(Base):
    """A named list of addresses and CIDR ranges that API keys linked to it may be used from."""

    __tablename__ = "ip_allow_list"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    entries: Mapped[str] = mapped_column(Text)  # one network per line, as allow_lists parses
    # At most one list is the default: it applies to every key linked to no list.
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class ApiKeyAllowList(Base):
    """A key's link to an allow list (a key with several allows their union)."""

    __tablename__ = "api_key_allow_list"

    api_key_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("api_key.id", ondelete="CASCADE"), primary_key=True
    )
    allow_list_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ip_allow_list.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ApiRequestWindow(Base):
    """Requests to the Import API from one client address in one fixed window (PostgreSQL:
    the per-address limit holds across server processes; see request_limits)."""

    __tablename__ = "api_request_window"

    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)


class Connection(Base):
    """Workspace-level credentials to a source system and the applications allowed to use
    them. Settings are plain JSON; secrets a JSON object of each secret's name and its Fernet
    token (PLANPORT_SECRET_KEY), never shown."""

    __tablename__ = "connection"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), unique=True)  # casefolded: one per name
    kind: Mapped[str] = mapped_column(String(20))  # domain.connections.ConnectionKind
    settings: Mapped[str] = mapped_column(Text, default="{}")
    secrets: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"), nullable=True
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    # The last "Test connection": when, and its answer in words (None: never tested).
    tested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    test_ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    test_message: Mapped[str | None] = mapped_column(Text, nullable=True)


class ConnectionApplication(Base):
    """An application whose import configurations may use a connection."""

    __tablename__ = "connection_application"

    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("connection.id", ondelete="CASCADE"), primary_key=True
    )
    application_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("application.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Application(Base):
    __tablename__ = "application"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"), nullable=True
    )
    # Where failure alerts are also posted (JSON, Slack-compatible). A webhook URL is a
    # secret: stored encrypted with PLANPORT_SECRET_KEY (Fernet), never shown whole.
    alert_webhook_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Its server folder, relative to PLANPORT_IMPORT_ROOT: folder sources of its
    # configurations resolve under it. "" is the whole root (applications made before
    # per-application folders; a workspace admin is asked to choose one).
    import_folder: Mapped[str] = mapped_column(String(1000), default="", server_default="")

    roles: Mapped[list[Role]] = relationship(
        back_populates="application", cascade="all, delete-orphan", passive_deletes=True
    )


class Role(Base):
    """An application role: a named set of permissions in one application."""

    __tablename__ = "role"
    __table_args__ = (UniqueConstraint("application_id", "name_key"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    application_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("application.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)

    application: Mapped[Application] = relationship(back_populates="roles")
    permissions: Mapped[list[RolePermission]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin"
    )


class RolePermission(Base):
    __tablename__ = "role_permission"

    role_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("role.id", ondelete="CASCADE"), primary_key=True
    )
    permission: Mapped[str] = mapped_column(String(40), primary_key=True)


class ApplicationMember(Base):
    """A member's access to one application, through exactly one role."""

    __tablename__ = "application_member"

    application_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("application.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("role.id", ondelete="RESTRICT"))


class Block(Base):
    """A Dimension List, Transaction List or Metric. Its data lives in table `table_name`."""

    __tablename__ = "block"
    __table_args__ = (UniqueConstraint("application_id", "name_key"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    application_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("application.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    table_name: Mapped[str] = mapped_column(String(63), unique=True)
    value_type: Mapped[str | None] = mapped_column(String(20), nullable=True)
    unique_property_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    # Bumped on every change of definition, so dependants (import configurations) re-validate.
    definition_version: Mapped[int] = mapped_column(Integer, default=1)
    # Source of the next physical column name (p1, p2, d1…): names are never reused.
    next_column: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    properties: Mapped[list[BlockProperty]] = relationship(
        foreign_keys="BlockProperty.block_id",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="BlockProperty.position",
        lazy="selectin",
    )
    dimensions: Mapped[list[MetricDimension]] = relationship(
        foreign_keys="MetricDimension.metric_id",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="MetricDimension.position",
        lazy="selectin",
    )


class BlockProperty(Base):
    __tablename__ = "block_property"
    __table_args__ = (UniqueConstraint("block_id", "name_key"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    block_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("block.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(20))
    column_name: Mapped[str] = mapped_column(String(63))
    position: Mapped[int] = mapped_column(Integer)
    referenced_block_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("block.id", ondelete="RESTRICT"), nullable=True, index=True
    )

    referenced_block: Mapped[Block | None] = relationship(
        foreign_keys=[referenced_block_id], lazy="joined"
    )


class MetricDimension(Base):
    __tablename__ = "metric_dimension"

    metric_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("block.id", ondelete="CASCADE"), primary_key=True
    )
    dimension_list_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("block.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    column_name: Mapped[str] = mapped_column(String(63))
    position: Mapped[int] = mapped_column(Integer)

    dimension_list: Mapped[Block] = relationship(foreign_keys=[dimension_list_id], lazy="joined")


class ImportConfiguration(Base):
    """A saved recipe for importing into one block. Its UUID never changes: clients use it."""

    __tablename__ = "import_configuration"
    __table_args__ = (UniqueConstraint("block_id", "name_key"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    application_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("application.id", ondelete="CASCADE"), index=True
    )
    # SET NULL: a configuration whose block was deleted stays, in error, saying why.
    block_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("block.id", ondelete="SET NULL"), nullable=True, index=True
    )
    block_name: Mapped[str] = mapped_column(String(200))  # kept for messages after deletion
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(Text, default='{"kind": "upload"}')  # JSON
    file_settings: Mapped[str] = mapped_column(Text)  # JSON of engine FileSettings
    mapping: Mapped[str] = mapped_column(Text)  # JSON of engine Mapping
    # The block definition version last checked, and what is wrong (None: fits its block).
    checked_version: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    # Outcome of the latest finished run and the failure streak alerts fold into one message.
    last_run_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_alert_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ImportRun(Base):
    """One execution of an import. The row is the truth: created queued before anything runs."""

    __tablename__ = "import_run"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    application_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("application.id", ondelete="CASCADE"), index=True
    )
    block_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("block.id", ondelete="SET NULL"), nullable=True, index=True
    )
    configuration_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("import_configuration.id", ondelete="SET NULL"), nullable=True, index=True
    )
    block_name: Mapped[str] = mapped_column(String(200))
    trigger: Mapped[str] = mapped_column(String(20))  # manual, schedule, api, run_again
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"), nullable=True
    )
    status: Mapped[str] = mapped_column(String(20), index=True)  # queued running completed failed
    # For scheduled runs (Import Scheduling): which fire this run is, and its attempt.
    schedule_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("import_schedule.id", ondelete="SET NULL"), nullable=True, index=True
    )
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    file_name: Mapped[str | None] = mapped_column(String(500), nullable=True)
    file_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    file_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    file_settings: Mapped[str] = mapped_column(Text)  # JSON: what this run used
    mapping: Mapped[str] = mapped_column(Text)  # JSON
    rows_read: Mapped[int] = mapped_column(BigInteger, default=0)
    inserted: Mapped[int] = mapped_column(BigInteger, default=0)
    updated: Mapped[int] = mapped_column(BigInteger, default=0)
    deleted: Mapped[int] = mapped_column(BigInteger, default=0)
    skipped: Mapped[int] = mapped_column(BigInteger, default=0)
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON ImportSummary
    errors: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON [{name, description}]
    # What this run reads (JSON of a connectors source spec: a given file, a server folder,
    # another block…), so any executor on any machine can run it from the row alone.
    source: Mapped[str | None] = mapped_column(Text, nullable=True)
    # A retry waits until then (backoff); executors claim only runs that are due.
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    retry_of: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    rows_done: Mapped[int] = mapped_column(BigInteger, default=0)  # live progress while running
    # The API key of a run triggered through the Import API (its owner is the actor).
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_key.id", ondelete="SET NULL"), nullable=True
    )


class ImportRunReject(Base):
    """A rejected row of a run, for the downloadable rejects file (first 100,000 kept)."""

    __tablename__ = "import_run_reject"

    run_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("import_run.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    line: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(60))
    column_name: Mapped[str] = mapped_column(String(500))
    value: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    row_text: Mapped[str] = mapped_column(Text, default="", server_default="")


class ImportSchedule(Base):
    """When a configuration runs by itself. Times are wall-clock in `time_zone`; the scheduler
    polls only `next_fire_at` (indexed, UTC, None when disabled or never firing again)."""

    __tablename__ = "import_schedule"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    application_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("application.id", ondelete="CASCADE"), index=True
    )
    configuration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("import_configuration.id", ondelete="CASCADE"), index=True
    )
    # Whoever last edited the schedule; its runs act with this member's rights.
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"), nullable=True
    )
    start_local: Mapped[str] = mapped_column(String(16))  # "2026-03-29T02:30", wall clock
    time_zone: Mapped[str] = mapped_column(String(64))  # IANA name
    repeat: Mapped[str] = mapped_column(Text)  # JSON of scheduling.Repeat
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    grace_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    alerts_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    alert_recipients: Mapped[str] = mapped_column(Text, default="[]")  # JSON; empty: the owner
    pause_after_failures: Mapped[int | None] = mapped_column(Integer, nullable=True)
    paused_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    next_fire_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    last_fire_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # A schedule that cannot be evaluated records why and is shown so, never silently dropped.
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class ScheduleFire(Base):
    """One fire of a schedule. The primary key (schedule, scheduled-for instant) makes each
    fire happen at most once however many schedulers run; the outcome explains every gap."""

    __tablename__ = "schedule_fire"

    schedule_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("import_schedule.id", ondelete="CASCADE"), primary_key=True
    )
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    configuration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("import_configuration.id", ondelete="CASCADE"), index=True
    )
    outcome: Mapped[str] = mapped_column(String(20))  # run, missed, skipped
    run_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("import_run.id", ondelete="SET NULL"), nullable=True
    )
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class AlertMessage(Base):
    """An alert sent (or kept, without SMTP: the admins' outbox) and how its delivery went."""

    __tablename__ = "alert_message"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    application_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("application.id", ondelete="CASCADE"), nullable=True, index=True
    )
    configuration_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("import_configuration.id", ondelete="SET NULL"), nullable=True
    )
    run_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("import_run.id", ondelete="SET NULL"), nullable=True, index=True
    )
    event: Mapped[str] = mapped_column(String(30))  # first_failure, still_failing, recovered…
    channel: Mapped[str] = mapped_column(String(20))  # email, log, webhook
    recipient: Mapped[str] = mapped_column(Text)  # addresses, or a webhook URL with secrets cut
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))  # pending, sent, failed, logged
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ProcessLease(Base):
    """A named lease held by one process (e.g. the only scheduler allowed on SQLite)."""

    __tablename__ = "process_lease"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
