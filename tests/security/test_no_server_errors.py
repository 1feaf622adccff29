"""No page answers a 5xx, whatever a logged-in member sends.

Every route of the app (login excepted) is asked with out-of-range and malformed values in
each field it reads — huge and negative numbers, far dates, NUL and control characters, very
long text, invalid UUIDs in its path, invalid percent-encoding, lone surrogates — as a
workspace admin over a real model (see world.py), on SQLite and PostgreSQL. The fields come
from the route's declared parameters and from the forms the pages render, so a new route or a
new field is covered without editing this file. A refusal must be a 4xx naming the field.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from planport.domain.members import Actor
from planport.settings import Settings
from planport.store.db import Database
from planport.web import create_app
from tests.integration.test_import_pages import log_in
from tests.security.nasty import Raw, Value, encoded, path_values, sweep_for, values_for
from tests.security.surface import Route, forms_of, learn, page_routes
from tests.security.world import World, build_world

SHARDS = 4  # routes are spread over this many tests, so that `pytest -n 2` shares them out
OMITTED = None


@pytest.fixture
def settings_for(db: Database, tmp_path: Path) -> Settings:
    (tmp_path / "imports").mkdir()
    return Settings(data_dir=tmp_path, database_url=db.url, run_retries=0)


@pytest.fixture
def client(db: Database, settings_for: Settings) -> Iterator[TestClient]:
    app = create_app(settings_for, db)
    # A 5xx is answered, not raised: the sweep goes on and reports every one at once.
    with TestClient(app, follow_redirects=False, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def admin_client(client: TestClient, admin: Actor) -> TestClient:
    client.headers["X-CSRF-Token"] = log_in(client, admin.email)
    return client


def url_of(route: Route, world: World, path: dict[str, Value]) -> str:
    url = route.path
    for name in route.params:
        assert name in world.ids, f"{route}: give world.py a real {name}"
        chosen = path.get(name)
        url = url.replace(f"{{{name}}}", world.ids[name] if chosen is None else encoded(chosen))
    return url


def body_of(fields: dict[str, Value | None]) -> str:
    return "&".join(f"{encoded(n)}={encoded(v)}" for n, v in fields.items() if v is not OMITTED)


def send(
    client: TestClient, route: Route, url: str, fields: dict[str, Value | None]
) -> tuple[int, str]:
    """(status, what was sent) of one request."""
    body = body_of(fields)
    if route.method == "GET":
        response = client.get(f"{url}?{body}" if body else url)
    elif route.multipart:
        files = {"file": ("nasty.csv", body.encode() or b"\x00", "text/csv")}
        data = {n: _multipart_text(v) for n, v in fields.items() if v}
        response = client.post(url, data=data, files=files)
    else:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        response = client.post(url, content=body.encode(), headers=headers)
    return response.status_code, f"{route.method} {url} {body[:300]!r}"


def _multipart_text(value: Value) -> str:
    """A multipart part is UTF-8 written by the client: a lone surrogate cannot travel."""
    text = value.text if isinstance(value, Raw) else value
    return text.encode("utf-8", "replace").decode()


def discover(app: FastAPI, client: TestClient, world: World) -> list[Route]:
    """Every route with the fields its pages' forms send (GET forms are followed once, so the
    wizard's later steps are seen with the settings its first step sends)."""
    routes = page_routes(app)
    pages = [r for r in routes if r.method == "GET" and set(r.params) <= set(world.ids)]
    for route in pages:
        response = client.get(url_of(route, world, {}))
        learn(routes, forms_of(response.text))
    for form_route in [r for r in routes if r.method == "GET" and r.fields]:
        query = body_of(dict(form_route.fields))
        response = client.get(f"{url_of(form_route, world, {})}?{query}")
        learn(routes, forms_of(response.text))
    return routes


def requests_for(
    route: Route,
) -> st.SearchStrategy[tuple[dict[str, Value], dict[str, Value | None]]]:
    """(path overrides, fields): one field (or an id of the path) made nasty, the others as
    the page offers them, sometimes nasty or left out too."""
    names = sorted(route.fields)

    @st.composite
    def build(draw: st.DrawFn) -> tuple[dict[str, Value], dict[str, Value | None]]:
        fields: dict[str, Value | None] = dict(route.fields)
        path: dict[str, Value] = {}
        targets = [*names, *(f"path:{p}" for p in route.params)]
        target = draw(st.sampled_from(targets)) if targets else None
        for name in names:
            if name == target:
                fields[name] = draw(values_for(name))
            elif draw(st.integers(0, 9)) == 0:
                fields[name] = draw(st.one_of(st.just(OMITTED), values_for(name)))
        if target is not None and target.startswith("path:"):
            path[target[5:]] = draw(path_values())
        return path, fields

    return build()


def examples_for(route: Route) -> int:
    """A few random requests per route beyond the sweep, within the tier's time budget."""
    return min(6, 2 + len(route.fields) + len(route.params))


def destructive_last(routes: list[Route]) -> list[Route]:
    """The shard's routes, those that delete or revoke last: one world serves them all."""
    return sorted(routes, key=lambda r: any(w in r.path for w in ("delete", "revoke")))


def representatives(fields: dict[str, str]) -> list[str]:
    """One field of each kind: the mapping form has `source:<target>` and `constant:<target>`
    for every column, read by the same code; sweeping each would cost minutes."""
    kinds: dict[str, str] = {}
    for name in sorted(fields):
        kinds.setdefault(name.split(":", 1)[0] + (":" if ":" in name else ""), name)
    return list(kinds.values())


def sweep(client: TestClient, route: Route, world: World) -> list[str]:
    """One request per field and value of its sweep, the other fields as the page offers
    them; returns what answered a 5xx."""
    failed = []
    for name in representatives(route.fields):
        for value in sweep_for(name):
            status, sent = send(
                client, route, url_of(route, world, {}), {**route.fields, name: value}
            )
            if status >= 500:
                failed.append(f"{status} {sent}")
    return failed


def explore(client: TestClient, route: Route, world: World) -> None:
    """Random requests (hypothesis, replayed from a fixed seed). Raises on a 5xx."""

    @settings(settings.get_profile("security"), max_examples=examples_for(route))
    @given(request=requests_for(route))
    def no_server_error(request: tuple[dict[str, Value], dict[str, Value | None]]) -> None:
        path, fields = request
        status, sent = send(client, route, url_of(route, world, path), fields)
        assert status < 500, sent

    no_server_error()


@pytest.mark.parametrize("shard", range(SHARDS))
def test_no_page_answers_a_server_error_to_nasty_input(
    shard: int,
    db: Database,
    admin: Actor,
    admin_client: TestClient,
    settings_for: Settings,
) -> None:
    app = admin_client.app
    assert isinstance(app, FastAPI)
    world = build_world(db, admin, admin_client, settings_for.data_dir / "imports")
    failures: list[str] = []
    for route in destructive_last(discover(app, admin_client, world)[shard::SHARDS]):
        try:
            failures += [f"{route}: {f}" for f in sweep(admin_client, route, world)]
            explore(admin_client, route, world)
        except Exception as error:
            notes = " ".join(getattr(error, "__notes__", []))
            failures.append(f"{route}: {type(error).__name__}: {error} {notes}"[:2000])
    assert not failures, "\n".join(failures)
