"""Settings: PLANPORT_* environment variables, masking of secrets, the generated secret key."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from planport.settings import Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No PLANPORT_* variable of the machine leaks in; the working folder is a fresh one."""
    for name in list(os.environ):
        if name.startswith("PLANPORT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults_serve_an_embedded_sqlite_database_in_the_data_folder(tmp_path: Path) -> None:
    settings = Settings()
    assert settings.port == 8000
    assert settings.is_sqlite
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'planport-data/planport.db'}"


def test_every_option_is_read_from_its_planport_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PLANPORT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PLANPORT_DATABASE_URL", "postgresql+psycopg://pp@db:5432/planport")
    monkeypatch.setenv("PLANPORT_PORT", "9001")
    monkeypatch.setenv("PLANPORT_HOST", "0.0.0.0")
    monkeypatch.setenv("PLANPORT_COOKIE_SECURE", "true")
    monkeypatch.setenv("PLANPORT_SESSION_HOURS", "8")
    monkeypatch.setenv("PLANPORT_LOG_FORMAT", "json")
    monkeypatch.setenv("PLANPORT_PAGE_SIZE", "250")
    monkeypatch.setenv("PLANPORT_BASE_URL", "https://plan.example.com/")
    settings = Settings()
    assert settings.data_dir == tmp_path / "data"
    assert settings.effective_database_url == "postgresql+psycopg://pp@db:5432/planport"
    assert not settings.is_sqlite
    assert (settings.port, settings.host, settings.cookie_secure) == (9001, "0.0.0.0", True)
    assert (settings.session_hours, settings.log_format, settings.page_size) == (8, "json", 250)
    assert settings.base_url == "https://plan.example.com"


def test_links_follow_the_listening_address_unless_a_base_url_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PLANPORT_BASE_URL", raising=False)
    monkeypatch.setenv("PLANPORT_PORT", "8080")
    assert Settings().base_url == "http://127.0.0.1:8080"
    monkeypatch.setenv("PLANPORT_HOST", "0.0.0.0")  # every address: the local one for links
    assert Settings().base_url == "http://127.0.0.1:8080"
    monkeypatch.setenv("PLANPORT_HOST", "10.0.0.5")
    assert Settings().base_url == "http://10.0.0.5:8080"
    monkeypatch.setenv("PLANPORT_BASE_URL", "https://plan.example.com")
    assert Settings().base_url == "https://plan.example.com"


@pytest.mark.parametrize(
    ("variable", "value", "field"),
    [
        ("PLANPORT_PORT", "abc", "port"),
        ("PLANPORT_PORT", "70000", "port"),
        ("PLANPORT_SESSION_HOURS", "0", "session_hours"),
        ("PLANPORT_LOG_LEVEL", "loud", "log_level"),
        ("PLANPORT_COOKIE_SECURE", "perhaps", "cookie_secure"),
        ("PLANPORT_PAGE_SIZE", "1", "page_size"),
        ("PLANPORT_SMTP_PORT", "0", "smtp_port"),
        ("PLANPORT_SMTP_SECURITY", "ssl", "smtp_security"),
        ("PLANPORT_SMTP_FROM", "Planport", "smtp_from"),
        ("PLANPORT_SMTP_TIMEOUT_S", "0", "smtp_timeout_s"),
        ("PLANPORT_ALERT_RETRY_ATTEMPTS", "0", "alert_retry_attempts"),
    ],
)
def test_a_value_that_does_not_parse_stops_start_up_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, field: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as raised:
        Settings()
    assert [error["loc"] for error in raised.value.errors()] == [(field,)]
    assert field in str(raised.value)


def test_masked_settings_hide_the_database_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "PLANPORT_DATABASE_URL", "postgresql+psycopg://planner:s3cr3t-pw@db.example.com/planport"
    )
    shown = Settings().masked()
    url = shown["PLANPORT_DATABASE_URL"]
    assert "s3cr3t-pw" not in url
    assert url == "postgresql+psycopg://planner:***@db.example.com/planport"
    assert not any("s3cr3t-pw" in value for value in shown.values())


def test_masked_settings_hide_the_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANPORT_SECRET_KEY", "very-secret-signing-key")
    shown = Settings().masked()
    assert shown["PLANPORT_SECRET_KEY"] == "******** (set)"
    assert not any("very-secret-signing-key" in value for value in shown.values())


def test_masked_settings_hide_the_previous_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANPORT_SECRET_KEY_PREVIOUS", "the-old-signing-key")
    settings = Settings()
    shown = settings.masked()
    assert shown["PLANPORT_SECRET_KEY_PREVIOUS"] == "******** (set)"
    assert not any("the-old-signing-key" in value for value in shown.values())
    assert "the-old-signing-key" not in repr(settings)


def test_without_smtp_settings_alert_emails_go_to_the_log_over_starttls_defaults() -> None:
    settings = Settings()
    assert settings.smtp_host is None
    assert (settings.smtp_port, settings.smtp_security) == (587, "starttls")
    assert (settings.smtp_username, settings.smtp_password) == (None, None)
    assert settings.smtp_from == "Planport <planport@localhost>"
    assert (settings.smtp_timeout_s, settings.alert_retry_attempts) == (10.0, 3)


def test_smtp_settings_are_read_from_their_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANPORT_SMTP_HOST", "smtp.example.com")
    monkeypatch.setenv("PLANPORT_SMTP_PORT", "465")
    monkeypatch.setenv("PLANPORT_SMTP_SECURITY", "tls")
    monkeypatch.setenv("PLANPORT_SMTP_USERNAME", "alerts@example.com")
    monkeypatch.setenv("PLANPORT_SMTP_PASSWORD", "mail-pass-123")
    monkeypatch.setenv("PLANPORT_SMTP_FROM", "Finance imports <alerts@example.com>")
    monkeypatch.setenv("PLANPORT_SMTP_TIMEOUT_S", "2.5")
    monkeypatch.setenv("PLANPORT_ALERT_RETRY_ATTEMPTS", "5")
    settings = Settings()
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_security) == (
        "smtp.example.com",
        465,
        "tls",
    )
    assert settings.smtp_username == "alerts@example.com"
    assert settings.smtp_password is not None
    assert settings.smtp_password.get_secret_value() == "mail-pass-123"
    assert settings.smtp_from == "Finance imports <alerts@example.com>"
    assert (settings.smtp_timeout_s, settings.alert_retry_attempts) == (2.5, 5)


def test_blank_smtp_variables_mean_not_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PLANPORT_SMTP_HOST", "PLANPORT_SMTP_USERNAME", "PLANPORT_SMTP_PASSWORD"):
        monkeypatch.setenv(name, " ")
    settings = Settings()
    assert (settings.smtp_host, settings.smtp_username, settings.smtp_password) == (None,) * 3


def test_masked_settings_hide_the_smtp_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANPORT_SMTP_HOST", "smtp.example.com")
    monkeypatch.setenv("PLANPORT_SMTP_USERNAME", "alerts@example.com")
    monkeypatch.setenv("PLANPORT_SMTP_PASSWORD", "mail-pass-123")
    shown = Settings().masked()
    assert shown["PLANPORT_SMTP_PASSWORD"] == "******** (set)"
    assert shown["PLANPORT_SMTP_USERNAME"] == "alerts@example.com"
    assert shown["PLANPORT_SMTP_HOST"] == "smtp.example.com"
    assert not any("mail-pass-123" in value for value in shown.values())


def test_masked_settings_say_which_smtp_settings_are_not_set() -> None:
    shown = Settings().masked()
    assert shown["PLANPORT_SMTP_HOST"] == "not set"
    assert shown["PLANPORT_SMTP_PASSWORD"] == "not set"
    assert shown["PLANPORT_SMTP_SECURITY"] == "starttls"


def test_masked_settings_name_every_option_by_its_variable() -> None:
    shown = Settings().masked()
    assert set(shown) == {f"PLANPORT_{name.upper()}" for name in Settings.model_fields}
    assert shown["PLANPORT_PORT"] == "8000"
    assert shown["PLANPORT_SECRET_KEY"].startswith("******** (")
    assert shown["PLANPORT_SECRET_KEY"] != "******** (set)"


def test_a_configured_secret_key_is_used_and_no_file_is_written(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PLANPORT_SECRET_KEY", "configured-key")
    monkeypatch.setenv("PLANPORT_DATA_DIR", str(tmp_path / "data"))
    assert Settings().effective_secret_key() == "configured-key"
    assert not (tmp_path / "data" / "secret_key").exists()


def test_without_a_configured_key_one_is_generated_once_into_a_private_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PLANPORT_DATA_DIR", str(tmp_path / "data"))
    key = Settings().effective_secret_key()
    path = tmp_path / "data" / "secret_key"
    assert len(key) >= 32
    assert path.read_text().strip() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # A later start (another Settings, another process) reuses the key: sessions survive.
    assert Settings().effective_secret_key() == key
    assert Settings().effective_secret_key() == key


def test_generated_keys_differ_between_installations(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path / "one").effective_secret_key()
    second = Settings(data_dir=tmp_path / "two").effective_secret_key()
    assert first != second


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:redis-pass@cache:6379/0", "redis://:***@cache:6379/0"),
        ("amqp://planport:rabbit-pass@mq:5672//", "amqp://planport:***@mq:5672//"),
        (
            "sentinel://:s1-pass@h1:26379;sentinel://:s2-pass@h2:26379",
            "sentinel://:***@h1:26379;sentinel://:***@h2:26379",
        ),
    ],
)
def test_masked_settings_hide_broker_passwords_in_every_url_form_celery_accepts(
    monkeypatch: pytest.MonkeyPatch, url: str, shown: str
) -> None:
    monkeypatch.setenv("PLANPORT_CELERY_BROKER_URL", url)
    assert Settings().masked()["PLANPORT_CELERY_BROKER_URL"] == shown
