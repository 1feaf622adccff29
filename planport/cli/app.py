"""The `planport` command: serve, worker, db, config, admin, demo, import.

Commands translate arguments to service calls and print results; errors a user can fix are
printed in one line (with the fix) and exit with status 1, never as a traceback.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from planport import __version__
from planport.cli import apikeys as cli_apikeys
from planport.cli import connections as cli_connections
from planport.cli import imports as cli_imports
from planport.cli import runs as cli_runs
from planport.cli import schedules as cli_schedules
from planport.domain.errors import PlanportError

# Why lazy: `planport --help` and `planport version` must answer at once, and the modules behind
# the commands (SQLAlchemy and its dialects, Alembic, pyarrow, argon2) take over a second to
# import. Each command imports what it uses; only typer, rich and the domain load up front.
AsOption = Annotated[
    str | None,
    typer.Option(
        "--as",
        help="Act as this member (default with --configuration: the configuration's owner).",
    ),
]
RequiredAsOption = Annotated[
    str | None, typer.Option("--as", help="Act as this member (required).")
]
ScheduleArg = Annotated[str, typer.Argument(help="The schedule's ID (`planport schedule list`).")]

if TYPE_CHECKING:
    from planport.execution import Executor
    from planport.processes import SchedulerThread
    from planport.services import Database
    from planport.settings import Settings

app = typer.Typer(
    help="Planport keeps planning models fresh.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
admin_app = typer.Typer(help="Workspace admins.", no_args_is_help=True)
secrets_app = typer.Typer(help="Secrets stored encrypted.", no_args_is_help=True)
connection_app = typer.Typer(
    help="Connections to source systems (S3-compatible storage).", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(cli_imports.import_app, name="import")
app.add_typer(cli_schedules.schedule_app, name="schedule")
app.add_typer(cli_runs.runs_app, name="runs")
app.add_typer(admin_app, name="admin")
app.add_typer(cli_apikeys.apikey_app, name="apikey")
app.add_typer(connection_app, name="connection")
app.add_typer(secrets_app, name="secrets")
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


def _settings() -> Settings:
    from pydantic import ValidationError

    from planport.logs import configure_logging
    from planport.settings import get_settings

    try:
        settings = get_settings()
    except ValidationError as error:
        for problem in error.errors():
            variable = "PLANPORT_" + str(problem["loc"][0]).upper()
            errors.print(f"[red]Invalid setting {variable}:[/] {problem['msg']}")
        raise typer.Exit(2) from None
    configure_logging(settings.log_level, settings.log_format)
    return settings


def _database(settings: Settings) -> Database:
    from planport.services import Database

    return Database.from_settings(settings)


@contextmanager
def _database_errors() -> Iterator[None]:
    """Say in one line that the database cannot be used, instead of a traceback. The driver's
    first line names host and port, never the password."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except SQLAlchemyError as error:
        detail = str(getattr(error, "orig", None) or type(error).__name__).splitlines()[0]
        raise _fail(
            f"The database cannot be used: {detail}. Check PLANPORT_DATABASE_URL."
        ) from None


def _fail(message: str) -> typer.Exit:
    errors.print(f"[red]Error:[/] {message}")
    return typer.Exit(1)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [PLANPORT_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [PLANPORT_PORT].")] = None,
    worker: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker",
            help="Execute import runs in this process (thread executor). With --no-worker, "
            "`planport worker` processes execute them. [PLANPORT_EXECUTOR=celery: always sent "
            "to Celery workers]",
        ),
    ] = True,
    scheduler: Annotated[
        bool | None,
        typer.Option(
            "--scheduler/--no-scheduler",
            help="Fire schedules in this process. With --no-scheduler, `planport scheduler` "
            "processes do. [PLANPORT_SCHEDULER]",
        ),
    ] = None,
) -> None:
    """Serve Planport's pages. Refuses to start on a database that is not migrated."""
    import uvicorn

    from planport.execution import executor_for
    from planport.web.app import create_app
    from planport.web.serving import StoppingServer

    # Links (alerts) follow the address served unless PLANPORT_BASE_URL is set.
    os.environ.update(
        {k: str(v) for k, v in {"PLANPORT_HOST": host, "PLANPORT_PORT": port}.items() if v}
    )
    settings = _settings()
    db = _database(settings)
    _require_current(db)
    executor = executor_for(settings, db, run_here=worker)
    console.print(
        f"Planport {__version__} on http://{host or settings.host}:{port or settings.port}"
    )
    executor.start()
    firing = _scheduler_thread(settings, db, executor) if _wanted(scheduler, settings) else None
    web = create_app(settings, db, executor)
    config = uvicorn.Config(
        web,
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,
        access_log=False,
        # The client address (sign-in throttling, audit) is the connection's peer: no
        # X-Forwarded-For is believed, not even from loopback, until trusted proxies are
        # configurable (PLANPORT_TRUSTED_PROXIES, with the Import API).
        proxy_headers=False,
    )
    try:
        # What start-up built (modules, the app, its routes, SQLAlchemy's mappers) lives as
        # long as the process: moved out of the collector's sight, a full collection no
        # longer walks it, which made the slowest 1 % of API answers under load twice as slow.
        gc.collect()
        gc.freeze()
        StoppingServer(config, web.state.work_limits).run()
    finally:
        if firing is not None:
            firing.stop()
        executor.stop()


def _wanted(flag: bool | None, settings: Settings) -> bool:
    return settings.scheduler if flag is None else flag


def _scheduler_thread(settings: Settings, db: Database, executor: Executor) -> SchedulerThread:
    from planport.processes import SchedulerThread, build_scheduler

    thread = SchedulerThread(build_scheduler(settings, db, executor))
    thread.start()
    return thread


@app.command()
def scheduler() -> None:
    """Fire schedules until SIGTERM or Ctrl-C. Any number may run on PostgreSQL; on SQLite one
    (a second one says which process holds the lock). Queued runs go to the executor of
    PLANPORT_EXECUTOR: Celery workers, or thread workers polling the database."""
    import signal
    import threading

    from planport.execution import executor_for
    from planport.processes import build_scheduler
    from planport.scheduling.leases import LeaseHeld

    settings = _settings()
    db = _database(settings)
    _require_current(db)
    executor = executor_for(settings, db, run_here=False)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    console.print(f"Planport scheduler {__version__} ({db.engine.dialect.name})")
    try:
        build_scheduler(settings, db, executor).run(stop)
    except LeaseHeld as error:
        raise _fail(str(error)) from None
    except KeyboardInterrupt:
        pass


@app.command()
def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(help="Imports run at once [PLANPORT_WORKER_THREADS]."),
    ] = None,
) -> None:
    """Execute import runs: a Celery worker (PLANPORT_EXECUTOR=celery) or, with the thread
    executor, a process of import threads polling the database. Also sweeps lost runs."""
    settings = _settings()
    db = _database(settings)
    _require_current(db)
    threads = concurrency or settings.worker_threads
    if settings.executor == "celery":
        from planport.execution.celery_app import run_worker

        console.print(f"Planport worker (Celery, {threads} threads) on {settings.celery_queue}")
        run_worker(settings, db, concurrency=threads)
        return
    _thread_worker(settings, db, threads)


def _thread_worker(settings: Settings, db: Database, threads: int) -> None:
    """A thread executor until SIGTERM or Ctrl-C; running imports get a grace period."""
    import signal
    import threading

    from planport.execution.threads import ThreadExecutor

    executor = ThreadExecutor(db, settings, threads=threads)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    executor.start()
    console.print(f"Planport worker (threads, {executor.size}) polling the database")
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        executor.stop(timeout=30.0)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the current schema (safe to repeat)."""
    from planport.services import migrate

    db = _database(_settings())
    with _database_errors():
        before = migrate.current_revision(db)
        migrate.upgrade(db)
        after = migrate.current_revision(db)
    console.print(
        f"Database at revision {after}" + ("" if before == after else f" (was {before or 'empty'})")
    )


@db_app.command("current")
def db_current() -> None:
    """Print the database's revision and whether it is current; exit 1 when it is not."""
    from planport.services import migrate

    db = _database(_settings())
    _require_current(db)
    console.print(f"Database at revision {migrate.current_revision(db)} (current)")


@app.command()
def config() -> None:
    """Print the effective settings, with secrets masked."""
    for variable, value in _settings().masked().items():
        print(f"{variable}={value}")


@admin_app.command("create")
def admin_create(
    email: str,
    password: Annotated[
        str,
        typer.Option(
            prompt=True, hide_input=True, confirmation_prompt=True, envvar="PLANPORT_ADMIN_PASSWORD"
        ),
    ],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
) -> None:
    """Create a workspace admin (the first one, or another)."""
    from planport.domain.enums import AccountType
    from planport.services.workspace import members

    db = _database(_settings())
    _require_current(db)
    try:
        created = members.create_member(
            db, email, password, display_name=name, account_type=AccountType.ADMIN
        )
    except PlanportError as error:
        raise _fail(error.message) from None
    console.print(f"Workspace admin {created.email} created.")


@admin_app.command("set-password")
def admin_set_password(
    email: str,
    password: Annotated[
        str,
        typer.Option(
            prompt=True, hide_input=True, confirmation_prompt=True, envvar="PLANPORT_ADMIN_PASSWORD"
        ),
    ],
) -> None:
    """Set a member's password and end their sessions."""
    from planport.services.workspace import members

    db = _database(_settings())
    _require_current(db)
    try:
        members.set_password(db, email, password)
    except PlanportError as error:
        raise _fail(error.message) from None
    console.print(f"Password of {email} changed; their sessions have ended.")


@app.command()
def demo(
    email: Annotated[str, typer.Option(help="E-mail of the demo admin.")] = "demo@planport.local",
    password: Annotated[
        str, typer.Option(help="Password of the demo admin when it is created.")
    ] = "planport-demo",
) -> None:
    """Migrate if needed and load the FP&A demo application and sample files (safe to repeat)."""
    from planport import demo as demo_service
    from planport.services import migrate

    settings = _settings()
    db = _database(settings)
    try:
        with _database_errors():
            migrate.upgrade(db)
            result = demo_service.load_demo(
                db,
                settings.data_dir / "samples",
                email=email,
                password=password,
                import_root=settings.effective_import_root,
            )
    except PlanportError as error:
        raise _fail(error.message) from None
    state = "loaded" if result.created else "already loaded"
    console.print(f"FP&A demo {state}. Sample files in {result.samples_dir}/")
    shown = result.password or "(unchanged; reset with `planport admin set-password`)"
    console.print(
        f"Log in at {settings.base_url} as [bold]{result.email}[/] with password [bold]{shown}[/]"
    )
    if result.example_configuration_id:
        sample = result.samples_dir / "revenue_2027-01.csv"
        console.print(
            f"Try an import: planport import run {result.example_configuration_id} {sample}"
        )
    if result.folder_configuration_id:
        console.print(
            f"Scheduled imports: {demo_service.FOLDER_CONFIGURATION!r} (weekdays 06:00) reads "
            f"{result.import_root}/{demo_service.FOLDER_PATTERN}; "
            f"{demo_service.BLOCK_CONFIGURATION!r} (daily 06:30). See Import Scheduling."
        )


@cli_imports.import_app.command("run")
def import_run(
    configuration: cli_imports.ConfigurationArg,
    file: cli_imports.OptionalFileArg = None,
    as_email: cli_imports.AsOption = None,
) -> None:
    """Import FILE through a saved import configuration; print the Import Summary.

    Without FILE, the configuration reads its own source (a server folder or another block).
    Exits 1 when the run failed.
    """
    db = _database(_settings())
    _require_current(db)
    cli_imports.run_command(db, configuration, file, as_email)


@cli_imports.import_app.command("preview")
def import_preview(
    configuration: cli_imports.ConfigurationArg,
    file: cli_imports.FileArg,
    rows: Annotated[int, typer.Option(help="Rows to run through the pipeline.")] = 1000,
    as_email: cli_imports.AsOption = None,
) -> None:
    """Show what importing FILE would do, without writing anything."""
    db = _database(_settings())
    _require_current(db)
    cli_imports.preview_command(db, configuration, file, rows, as_email)


@cli_schedules.schedule_app.command("list")
def schedule_list(
    configuration: cli_runs.ConfigurationOption = None,
    application: cli_runs.ApplicationOption = None,
    as_email: AsOption = None,
) -> None:
    """List schedules: ID, configuration, block, repeat in words, state, next fire (UTC).

    Without a filter, those of every application where the member may import data.
    """
    db = _database(_settings())
    _require_current(db)
    cli_schedules.list_command(db, configuration, application, as_email)


@cli_schedules.schedule_app.command("enable")
def schedule_enable(schedule: ScheduleArg, as_email: RequiredAsOption = None) -> None:
    """Turn a schedule on: it fires from now on (missed fires are not replayed).

    The acting member becomes the schedule's owner, as when editing it on its page.
    """
    db = _database(_settings())
    _require_current(db)
    cli_schedules.set_enabled_command(db, schedule, True, as_email)


@cli_schedules.schedule_app.command("disable")
def schedule_disable(schedule: ScheduleArg, as_email: RequiredAsOption = None) -> None:
    """Turn a schedule off: it stops firing at once; runs already queued still run.

    The acting member becomes the schedule's owner, as when editing it on its page.
    """
    db = _database(_settings())
    _require_current(db)
    cli_schedules.set_enabled_command(db, schedule, False, as_email)


@cli_runs.runs_app.command("list")
def runs_list(
    configuration: cli_runs.ConfigurationOption = None,
    application: cli_runs.ApplicationOption = None,
    limit: Annotated[int, typer.Option(help="How many runs to print, newest first.")] = 20,
    as_email: AsOption = None,
) -> None:
    """List import runs, newest first: ID, configuration, block, trigger, status, started, rows.

    Without a filter, those of every application where the member may import data.
    """
    db = _database(_settings())
    _require_current(db)
    cli_runs.list_command(db, configuration, application, limit, as_email)


@cli_runs.runs_app.command("show")
def runs_show(
    run: Annotated[str, typer.Argument(help="The import run's ID.")],
    as_email: RequiredAsOption = None,
) -> None:
    """Show one import run: status, times, counts, errors and why rows were skipped."""
    db = _database(_settings())
    _require_current(db)
    cli_runs.show_command(db, run, as_email)


@cli_apikeys.apikey_app.command("create")
def apikey_create(
    owner: Annotated[str, typer.Option(help="E-mail of the member whose rights the key has.")],
    key_type: Annotated[
        str, typer.Option("--type", help="import, export or metadata (Modeling Metadata).")
    ],
    name: Annotated[str | None, typer.Option(help="A name saying what uses the key.")] = None,
    expires: Annotated[
        str | None,
        typer.Option(
            help="YYYY-MM-DD: the key works until the end of the day before, in "
            "PLANPORT_TIME_ZONE (default: never expires)."
        ),
    ] = None,
) -> None:
    """Create an API key; prints it alone on the last line (it is shown only once)."""
    settings = _settings()
    db = _database(settings)
    _require_current(db)
    cli_apikeys.create_command(db, owner, key_type, name, expires, settings.time_zone)


@cli_apikeys.apikey_app.command("list")
def apikey_list() -> None:
    """List API keys: ID, prefix, name, type, owner, state, expiration, last use."""
    db = _database(_settings())
    _require_current(db)
    cli_apikeys.list_command(db)


@cli_apikeys.apikey_app.command("revoke")
def apikey_revoke(
    key: Annotated[str, typer.Argument(help="The key's ID or prefix (`planport apikey list`).")],
) -> None:
    """Revoke an API key: requests presenting it get 401 from now on."""
    db = _database(_settings())
    _require_current(db)
    cli_apikeys.revoke_command(db, key)


@connection_app.command("create")
def connection_create(
    kind: Annotated[str, typer.Option("--type", help="s3 (S3-compatible storage).")],
    name: Annotated[str, typer.Option(help="The connection's name, unique in the workspace.")],
    application: Annotated[
        list[str] | None,
        typer.Option(help="An application (name or ID) allowed to use it; repeat for more."),
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="A setting, KEY=VALUE; repeat for more.")
    ] = None,
    secret: Annotated[
        list[str] | None,
        typer.Option(
            help="A secret, KEY=VALUE, KEY=@FILE (read from the file) or KEY=- (from standard "
            "input); repeat for more. Stored encrypted, never shown."
        ),
    ] = None,
) -> None:
    """Create a connection to a source system (docs/connections.md lists each type's fields)."""
    settings = _settings()
    db = _database(settings)
    _require_current(db)
    options = cli_connections.ConnectionOptions(application or [], set_ or [], secret or [])
    cli_connections.create_command(db, settings, kind, name, options)


@connection_app.command("list")
def connection_list() -> None:
    """List connections: ID, name, type, applications, last test."""
    db = _database(_settings())
    _require_current(db)
    cli_connections.list_command(db)


@connection_app.command("show")
def connection_show(
    connection: Annotated[str, typer.Argument(help="The connection's name or ID.")],
) -> None:
    """Show a connection's settings and which secrets are set (never their values)."""
    db = _database(_settings())
    _require_current(db)
    cli_connections.show_command(db, connection)


@connection_app.command("test")
def connection_test(
    connection: Annotated[str, typer.Argument(help="The connection's name or ID.")],
) -> None:
    """Try the connection: prints "Connection successful", or exits 1 with the cause."""
    settings = _settings()
    db = _database(settings)
    _require_current(db)
    cli_connections.test_command(db, settings, connection)


@connection_app.command("delete")
def connection_delete(
    connection: Annotated[str, typer.Argument(help="The connection's name or ID.")],
) -> None:
    """Delete a connection and its secrets."""
    db = _database(_settings())
    _require_current(db)
    cli_connections.delete_command(db, connection)


@secrets_app.command("rotate")
def secrets_rotate() -> None:
    """Re-encrypt every stored secret under PLANPORT_SECRET_KEY (the old key given as
    PLANPORT_SECRET_KEY_PREVIOUS); all of them, or none when one cannot be read."""
    from planport.services.workspace.secret_box import SecretUnreadable
    from planport.services.workspace.secret_rotation import rotate_secrets

    settings = _settings()
    db = _database(settings)
    _require_current(db)
    try:
        done = rotate_secrets(db, settings)
    except SecretUnreadable as error:
        raise _fail(error.message) from None
    console.print(
        f"Re-encrypted {done.secrets} secret(s) under PLANPORT_SECRET_KEY: {done.webhooks} "
        f"alert webhook(s), {done.connections} connection(s)."
    )
    if settings.secret_key_previous is not None:
        console.print(
            "Remove PLANPORT_SECRET_KEY_PREVIOUS once every machine runs with the new "
            "PLANPORT_SECRET_KEY."
        )


@app.command()
def version() -> None:
    """Print Planport's version."""
    console.print(__version__)


def _require_current(db: Database) -> None:
    from planport.services import migrate

    try:
        migrate.check_current(db)
    except PlanportError as error:
        raise _fail(error.message) from None


def main() -> None:
    app()


if __name__ == "__main__":
    main()
