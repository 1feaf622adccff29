"""S3-compatible storage (AWS S3, MinIO, Ceph, R2…) reached through a connection's own access
key: a connection test today; the configurations' fixed-file and most-recent-file sources
build on the same client.

botocore is imported when a connection is used, not with Planport (it is a large import).
Every answer is in words, and no message repeats a secret: botocore's own errors are mapped
to what the admin has to fix, never passed through whole.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from planport.connectors._base import SourceUnavailable

if TYPE_CHECKING:
    from collections.abc import Mapping

CONNECT_TIMEOUT_S = 5.0


def check_bucket(
    settings: Mapping[str, str], secrets: Mapping[str, str], *, time_limit_s: float
) -> None:
    """Prove the connection can list its bucket. Raises SourceUnavailable saying why not."""
    from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

    client = _client(settings, secrets, time_limit_s)
    bucket = settings["bucket"]
    try:
        client.list_objects_v2(Bucket=bucket, MaxKeys=1)
    except ClientError as error:
        raise SourceUnavailable(_refusal(error, bucket), transient=_transient(error)) from None
    except BotoCoreError as error:
        raise SourceUnavailable(_unreachable(error, settings), transient=True) from None
    finally:
        client.close()


def _client(settings: Mapping[str, str], secrets: Mapping[str, str], time_limit_s: float) -> Any:
    import botocore.session  # type: ignore[import-untyped]
    from botocore.config import Config  # type: ignore[import-untyped]

    config = Config(
        connect_timeout=min(CONNECT_TIMEOUT_S, time_limit_s),
        read_timeout=time_limit_s,
        retries={"max_attempts": 1, "mode": "standard"},
        s3={"addressing_style": "path" if settings.get("path_style") else "auto"},
    )
    return botocore.session.get_session().create_client(
        "s3",
        endpoint_url=settings.get("endpoint_url"),
        region_name=settings.get("region") or "us-east-1",
        aws_access_key_id=secrets["access_key_id"],
        aws_secret_access_key=secrets["secret_access_key"],
        config=config,
    )


_CODES = {
    "NoSuchBucket": "The bucket {bucket!r} does not exist (check its name and the region).",
    "InvalidAccessKeyId": "Authentication failed: the access key ID is not known to the server.",
    "SignatureDoesNotMatch": "Authentication failed: the secret access key is wrong.",
    "AccessDenied": (
        "Access denied to the bucket {bucket!r}: give the access key s3:ListBucket on the "
        "bucket and s3:GetObject on its objects."
    ),
    "AuthorizationHeaderMalformed": (
        "The server refused the region: set the bucket's region in the connection."
    ),
    "PermanentRedirect": (
        "The bucket {bucket!r} is in another region: set its region in the connection."
    ),
}


def _refusal(error: Any, bucket: str) -> str:
    code = str(error.response.get("Error", {}).get("Code", ""))
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in _CODES:
        return _CODES[code].format(bucket=bucket)
    if status == 403:
        return _CODES["AccessDenied"].format(bucket=bucket)
    if status == 404:
        return _CODES["NoSuchBucket"].format(bucket=bucket)
    return f"The storage server refused the request ({code or status})."


def _transient(error: Any) -> bool:
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    code = str(error.response.get("Error", {}).get("Code", ""))
    return status >= 500 or status == 429 or code in ("SlowDown", "RequestTimeout")


def _unreachable(error: Exception, settings: Mapping[str, str]) -> str:
    where = settings.get("endpoint_url") or "AWS S3"
    kind = type(error).__name__
    if "Timeout" in kind:
        return f"The storage server at {where} did not answer in time ({kind})."
    return f"The storage server at {where} cannot be reached ({kind})."
