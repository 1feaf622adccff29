"""Rules for names and codes typed by users."""

from __future__ import annotations

import unicodedata

from planport.domain.errors import Invalid

MAX_NAME_LENGTH = 200
MAX_CODE_LENGTH = 255
MAX_DESCRIPTION_LENGTH = 2000


def clean_name(raw: str, *, what: str, field: str = "name") -> str:
    """Return `raw` stripped; raise Invalid when it is empty, too long or has control characters."""
    name = " ".join(raw.split()) if raw is not None else ""
    if not name:
        raise Invalid(f"The {what} name must not be empty.", field=field)
    if len(name) > MAX_NAME_LENGTH:
        raise Invalid(
            f"The {what} name is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}.",
            field=field,
        )
    _refuse_control_characters(name, what=f"{what} name", field=field)
    return name


def clean_description(raw: str, *, what: str, field: str = "description") -> str:
    """Return `raw` stripped; raise Invalid when too long or with control characters other
    than line breaks and tabs (PostgreSQL refuses NUL in text: it must never reach it)."""
    description = (raw or "").strip()
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise Invalid(
            f"The {what} description is {len(description)} characters long; "
            f"the limit is {MAX_DESCRIPTION_LENGTH}.",
            field=field,
        )
    _refuse_control_characters(
        description.replace("\n", " ").replace("\r", " ").replace("\t", " "),
        what=f"{what} description",
        field=field,
    )
    return description


def clean_code(raw: str, *, field: str = "code") -> str:
    """Return an item code stripped of surrounding blanks; raise Invalid when unusable."""
    code = (raw or "").strip()
    if not code:
        raise Invalid("An item code must not be empty.", field=field)
    if len(code) > MAX_CODE_LENGTH:
        raise Invalid(
            f"Item code {code[:40]!r}… is {len(code)} characters long; "
            f"the limit is {MAX_CODE_LENGTH}.",
            field=field,
        )
    _refuse_control_characters(code, what="item code", field=field)
    return code


def name_key(name: str) -> str:
    """The form under which names are compared for uniqueness: case- and width-insensitive."""
    return unicodedata.normalize("NFKC", name).casefold()


def _refuse_control_characters(text: str, *, what: str, field: str) -> None:
    for position, char in enumerate(text, start=1):
        if unicodedata.category(char) == "Cc":
            raise Invalid(
                f"The {what} contains a control character (U+{ord(char):04X}) "
                f"at position {position}.",
                field=field,
            )
