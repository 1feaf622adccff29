"""Connections: a workspace's credentials to a source system, set up once by an admin and used
by the import configurations of the applications it allows.

A connection has a kind, settings (shown on pages) and secrets (encrypted at rest, never shown).
This module holds what each kind asks for and how a connection's fields are checked: pure,
no I/O. Kinds are added here as their connector lands; each is tested against a real server.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from planport.domain.errors import Invalid


class ConnectionKind(StrEnum):
    S3 = "s3"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {ConnectionKind.S3: "S3-compatible storage"}


@dataclass(frozen=True, slots=True)
class Field:
    """One setting or secret a kind asks for."""

    name: str
    help: str
    required: bool = False
    secret: bool = False


FIELDS: dict[ConnectionKind, tuple[Field, ...]] = {
    ConnectionKind.S3: (
        Field("bucket", "The bucket's name.", required=True),
        Field(
            "endpoint_url",
            "The S3 API's address, for storage other than AWS (MinIO, Ceph, R2…); empty for AWS.",
        ),
        Field("region", "The bucket's region, such as eu-west-1 (empty: us-east-1)."),
        Field(
            "path_style",
            "true to address the bucket in the path (endpoint/bucket/key), as MinIO and most "
            "S3-compatible servers want; false (default) for bucket.endpoint/key.",
        ),
        Field("access_key_id", "The access key's ID.", required=True, secret=True),
        Field("secret_access_key", "The access key's secret.", required=True, secret=True),
    ),
}

_BOOLEANS = {"true": "true", "yes": "true", "1": "true", "false": "false", "no": "false", "0": ""}


def kind_of(raw: str) -> ConnectionKind:
    """The kind named `raw`. Raises Invalid naming the kinds there are."""
    try:
        return ConnectionKind(raw.strip().lower())
    except ValueError:
        known = ", ".join(kind.value for kind in ConnectionKind)
        raise Invalid(f"{raw!r} is not a connection type: use {known}.", field="type") from None


def checked_fields(
    kind: ConnectionKind, settings: dict[str, str], secrets: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """`settings` and `secrets` cleaned for a connection of `kind`: blanks dropped, booleans
    spelled true/false. Raises Invalid naming the field that is unknown, missing, given in
    the wrong place (a secret as a setting, where it would be shown), or malformed; the
    message never repeats a secret's value."""
    fields = {field.name: field for field in FIELDS[kind]}
    for name, values, secret in (("settings", settings, False), ("secrets", secrets, True)):
        for key in values:
            field = fields.get(key)
            if field is None:
                known = ", ".join(f.name for f in FIELDS[kind] if f.secret is secret)
                raise Invalid(
                    f"{kind.label} connections have no {name[:-1]} {key!r}: use {known}.",
                    field=key,
                )
            if field.secret is not secret:
                where = "a secret (--secret)" if field.secret else "a setting (--set)"
                raise Invalid(f"{key} is {where}.", field=key)
    clean_settings = {k: v.strip() for k, v in settings.items() if v.strip()}
    clean_secrets = {k: v for k, v in secrets.items() if v}
    for field in FIELDS[kind]:
        present = clean_secrets if field.secret else clean_settings
        if field.required and field.name not in present:
            raise Invalid(f"{field.name} is required: {field.help}", field=field.name)
    if kind is ConnectionKind.S3:
        _check_s3(clean_settings)
    return clean_settings, clean_secrets


def _check_s3(settings: dict[str, str]) -> None:
    bucket = settings["bucket"]
    if "/" in bucket or not 3 <= len(bucket) <= 63:
        raise Invalid(
            "bucket must be a bucket's name alone (3 to 63 characters, no '/'): the path in "
            "it is chosen in each import configuration.",
            field="bucket",
        )
    endpoint = settings.get("endpoint_url")
    if endpoint is not None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Invalid(
                "endpoint_url must be an http(s) address, such as https://minio.example.com.",
                field="endpoint_url",
            )
        if parts.username or parts.password:
            raise Invalid(
                "endpoint_url must not hold credentials: give them as the access key.",
                field="endpoint_url",
            )
    style = settings.get("path_style")
    if style is not None:
        spelled = _BOOLEANS.get(style.lower())
        if spelled is None:
            raise Invalid("path_style must be true or false.", field="path_style")
        if spelled:
            settings["path_style"] = spelled
        else:
            del settings["path_style"]
