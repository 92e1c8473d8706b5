"""Schema migrations: ordered SQL files, applied once each, recorded in ``schema_migrations``.

The files live in the package (``algo_trade_data/sql/``, so an installed wheel carries them; the
repository's top-level ``sql/`` is a symlink to that folder). Names:

``NNN_name.sql``
    applied on every server, in version order, each in its own transaction.
``NNN_name.timescaledb.sql``
    applied only when TimescaleDB is available, right after the plain file of the same version. It is
    recorded on its own, so a database migrated on plain PostgreSQL gets it later once the extension
    appears (``create_hypertable(..., migrate_data => TRUE)`` moves the stored rows into chunks).

Inside a file, a line ``-- @optional: <what>`` starts a block that runs in a savepoint and is skipped
when TimescaleDB refuses it for its license (compression and retention policies need the community
license; this project's builds are Apache-only). The block lasts until the next ``-- @optional`` or
``-- @required`` line. Skipped blocks are recorded in ``schema_migrations.skipped`` and reported in
ONE warning per migration run. Any other error fails the migration and rolls its file back.

:func:`migrate` is idempotent and safe to run on every start, also from several processes at once
(a session advisory lock serialises them). A file changed after it was applied is an error: schema
changes go into a new file.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any, Literal

import asyncpg
from loguru import logger

from algo_trade_core import DatabaseError

__all__ = [
    "AppliedMigration",
    "Migration",
    "MigrationError",
    "MigrationReport",
    "TimescaleStatus",
    "discover_migrations",
    "is_license_error",
    "migrate",
    "sql_directory",
    "timescaledb_status",
]

# A fixed key for pg_advisory_lock: "algo_trade migrate" (any constant works; it only has to be shared).
_LOCK_KEY = 0x616C676F5F6D6967

_FILE_RE = re.compile(r"^(?P<version>\d{3,})_(?P<name>[a-z0-9_]+?)(?P<ts>\.timescaledb)?\.sql$")
_MARKER_RE = re.compile(r"^--\s*@(?P<kind>optional|required)\b:?\s*(?P<label>.*?)\s*$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER NOT NULL,
    variant     TEXT NOT NULL DEFAULT 'base',      -- base | timescaledb
    name        TEXT NOT NULL,                     -- the file name
    checksum    TEXT NOT NULL,                     -- sha256 of the file (line endings normalised)
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    skipped     TEXT[] NOT NULL DEFAULT '{}',      -- optional blocks the server refused (license)
    PRIMARY KEY (version, variant)
)
"""

Variant = Literal["base", "timescaledb"]


class MigrationError(DatabaseError):
    """A migration file is invalid, was changed after it was applied, or failed to apply."""


@dataclass(frozen=True, slots=True)
class Block:
    """A run of statements in a migration file; optional blocks may be refused by the license."""

    sql: str
    optional: bool = False
    label: str = ""


@dataclass(frozen=True, slots=True)
class Migration:
    """One SQL file."""

    version: int
    name: str
    variant: Variant
    filename: str
    sql: str
    checksum: str

    @property
    def key(self) -> tuple[int, Variant]:
        return (self.version, self.variant)

    def blocks(self) -> list[Block]:
        """Split the file at ``-- @optional`` / ``-- @required`` marker lines."""
        blocks: list[Block] = []
        lines: list[str] = []
        optional, label = False, ""
        for line in self.sql.splitlines():
            match = _MARKER_RE.match(line.strip())
            if match is None:
                lines.append(line)
                continue
            blocks.append(Block("\n".join(lines), optional, label))
            lines = []
            optional = match["kind"] == "optional"
            label = match["label"] or f"{self.filename} optional block"
        blocks.append(Block("\n".join(lines), optional, label))
        return [b for b in blocks if _has_statements(b.sql)]


@dataclass(frozen=True, slots=True)
class AppliedMigration:
    """One row of ``schema_migrations``."""

    version: int
    variant: str
    name: str
    checksum: str
    applied_at: datetime
    skipped: list[str]


@dataclass(frozen=True, slots=True)
class TimescaleStatus:
    """What the server offers: the extension's files, its preloading, its presence in this database."""

    available: bool
    preloaded: bool
    installed_version: str | None
    license: str | None = None

    @property
    def usable(self) -> bool:
        return self.installed_version is not None or (self.available and self.preloaded)


@dataclass(slots=True)
class MigrationReport:
    """What :func:`migrate` did."""

    applied: list[str] = field(default_factory=list)  # file names, in the order applied
    skipped: list[str] = field(default_factory=list)  # optional blocks refused by the license
    timescaledb: bool = False
    license: str | None = None
    notes: list[str] = field(default_factory=list)  # things the operator should know (one line each)

    def skipped_warning(self) -> str | None:
        """Return the one warning about refused optional features, or None when nothing was refused."""
        if not self.skipped:
            return None
        return (
            f"TimescaleDB ({self.license or 'apache'} license) refused {len(self.skipped)} optional "
            f"feature(s): {'; '.join(self.skipped)}. Continuing without them: tables stay uncompressed, "
            "and retention runs as drop_chunks from the application (DatabaseClient.apply_retention)."
        )


def sql_directory() -> Traversable:
    """Return the folder of the packaged migration files (``algo_trade_data/sql``)."""
    return resources.files("algo_trade_data") / "sql"


def _has_statements(sql: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in sql.splitlines())


def _checksum(text: str) -> str:
    return hashlib.sha256(text.replace("\r\n", "\n").encode()).hexdigest()


def discover_migrations(sql_dir: Traversable | Path | None = None) -> list[Migration]:
    """Read and order the migration files of ``sql_dir`` (default: the packaged ones).

    Raises:
        MigrationError: a ``.sql`` file is misnamed, or two files claim the same version.
    """
    folder = sql_directory() if sql_dir is None else sql_dir
    if not folder.is_dir():
        raise MigrationError(f"migration folder {folder} does not exist")
    migrations: list[Migration] = []
    names: dict[int, str] = {}
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_RE.match(entry.name)
        if match is None:
            raise MigrationError(
                f"migration file {entry.name} in {folder}: expected NNN_name.sql or "
                "NNN_name.timescaledb.sql (NNN: 3+ digits, name: lower-case letters, digits, _)"
            )
        version = int(match["version"])
        if names.setdefault(version, match["name"]) != match["name"]:
            raise MigrationError(
                f"migration version {version:03d} is claimed by two names in {folder}: "
                f"{names[version]} and {match['name']}"
            )
        text = entry.read_text(encoding="utf-8")
        migrations.append(
            Migration(
                version=version,
                name=match["name"],
                variant="timescaledb" if match["ts"] else "base",
                filename=entry.name,
                sql=text,
                checksum=_checksum(text),
            )
        )
    migrations.sort(key=lambda m: (m.version, m.variant != "base"))
    return migrations


def is_license_error(exc: BaseException) -> bool:
    """True for TimescaleDB's "not supported under the current "apache" license" refusals."""
    return (
        isinstance(exc, asyncpg.PostgresError)
        and getattr(exc, "sqlstate", None) == "0A000"
        and "license" in str(exc)
    )


async def timescaledb_status(conn: Any) -> TimescaleStatus:
    """Ask the server whether TimescaleDB is available, preloaded, and installed in this database."""
    row = await conn.fetchrow(
        """
        SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') AS available,
               coalesce(current_setting('shared_preload_libraries', true), '') AS preload,
               (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') AS installed
        """
    )
    preloaded = "timescaledb" in [p.strip() for p in row["preload"].split(",")]
    license_ = None
    if row["installed"] is not None or preloaded:
        license_ = await conn.fetchval("SELECT current_setting('timescaledb.license', true)")
    return TimescaleStatus(
        available=row["available"],
        preloaded=preloaded,
        installed_version=row["installed"],
        license=license_,
    )


async def applied_migrations(conn: Any) -> list[AppliedMigration]:
    """Return the rows of ``schema_migrations`` (empty when the table does not exist yet)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return []
    rows = await conn.fetch(
        "SELECT version, variant, name, checksum, applied_at, skipped FROM schema_migrations "
        "ORDER BY version, variant"
    )
    return [AppliedMigration(**dict(r)) for r in rows]


async def migrate(
    conn: Any,
    *,
    sql_dir: Traversable | Path | None = None,
    timescaledb: bool | None = None,
    warn: bool = True,
) -> MigrationReport:
    """Apply the pending migration files to the database of ``conn`` (an asyncpg connection).

    Args:
        conn: a connection that is not inside a transaction.
        sql_dir: the migration folder (default: the packaged ``algo_trade_data/sql``).
        timescaledb: None detects it (available and preloaded → ``CREATE EXTENSION``, then the
            ``*.timescaledb.sql`` files); False keeps plain PostgreSQL tables even when it is there.
        warn: log the one warning about license-refused features here (``DatabaseClient.connect``
            passes False and folds them into its own single warning).

    Raises:
        MigrationError: a file was changed after it was applied, the database knows a migration this
            code does not have, or a statement failed (that file is rolled back; earlier files stay).
    """
    migrations = discover_migrations(sql_dir)
    report = MigrationReport()
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        raise MigrationError(f"migrate: could not take the migration lock: {exc}") from exc
    try:
        await _migrate_locked(conn, migrations, report, timescaledb)
    except asyncpg.PostgresError as exc:
        raise MigrationError(f"migrate: {type(exc).__name__}: {exc}") from exc
    finally:
        if not conn.is_closed():
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    if report.applied:
        logger.info("database migrated: applied {}", ", ".join(report.applied))
    if warn and (message := report.skipped_warning()):
        logger.warning(message)
    return report


async def _migrate_locked(
    conn: Any, migrations: list[Migration], report: MigrationReport, timescaledb: bool | None
) -> None:
    await conn.execute(_CREATE_TABLE)
    status = await timescaledb_status(conn)
    use_timescale = status.usable if timescaledb is None else timescaledb
    if use_timescale and status.installed_version is None:
        if not status.available:
            raise MigrationError("TimescaleDB was requested but the server does not have the extension")
        await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        status = await timescaledb_status(conn)
    elif timescaledb is None and status.available and not status.preloaded:
        report.notes.append(
            "TimescaleDB is installed on the server but not in shared_preload_libraries; using plain "
            "PostgreSQL tables (restart the cluster with it preloaded: make db-up)"
        )
        logger.warning(report.notes[-1])
    report.timescaledb = use_timescale
    report.license = status.license

    applied = {(a.version, a.variant): a for a in await applied_migrations(conn)}
    known: dict[tuple[int, str], Migration] = {m.key: m for m in migrations}
    for key, row in applied.items():
        migration = known.get(key)
        if migration is None:
            raise MigrationError(
                f"the database has migration {row.name} (version {row.version}, {row.variant}) applied, "
                "but this code has no such file: it was migrated by a newer version of algo-trade"
            )
        if migration.checksum != row.checksum:
            raise MigrationError(
                f"migration file {migration.filename} was changed after it was applied on "
                f"{row.applied_at:%Y-%m-%d %H:%M} UTC (checksum recorded {row.checksum[:12]}…, "
                f"file now {migration.checksum[:12]}…); never edit an applied migration: put the "
                "change in a new file with the next version number"
            )
    for migration in migrations:
        if migration.key in applied or (migration.variant == "timescaledb" and not use_timescale):
            continue
        skipped = await _apply(conn, migration)
        report.applied.append(migration.filename)
        report.skipped.extend(skipped)


async def _apply(conn: Any, migration: Migration) -> list[str]:
    skipped: list[str] = []
    async with conn.transaction():
        for block in migration.blocks():
            if not block.optional:
                try:
                    await conn.execute(block.sql)
                except asyncpg.PostgresError as exc:
                    raise MigrationError(
                        f"migration {migration.filename} failed: {type(exc).__name__}: {exc}"
                    ) from exc
                continue
            try:
                async with conn.transaction():  # a savepoint: a refused block leaves nothing behind
                    await conn.execute(block.sql)
            except asyncpg.PostgresError as exc:
                if not is_license_error(exc):
                    raise MigrationError(
                        f"migration {migration.filename}, optional block '{block.label}' failed: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
                skipped.append(block.label)
        await conn.execute(
            "INSERT INTO schema_migrations (version, variant, name, checksum, skipped) "
            "VALUES ($1, $2, $3, $4, $5)",
            migration.version,
            migration.variant,
            migration.filename,
            migration.checksum,
            skipped,
        )
    return skipped
