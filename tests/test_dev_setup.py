"""The developer set-up: where scripts/db.sh keeps the cluster, and `make help` naming the real port.

As root the server runs as `postgres`, which cannot enter a project under a 0700 folder (/root on
Debian): the cluster must then live in a folder `postgres` owns, one per project path, found again
by every later command.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the server-user rules differ for a normal user")


def make_project(parent: Path, name: str) -> Path:
    """A project folder holding a copy of scripts/db.sh (db.sh locates the project from its own path)."""
    project = parent / name
    (project / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "db.sh", project / "scripts" / "db.sh")
    return project


def db_sh(project: Path, *args: str) -> str:
    result = subprocess.run(
        ["bash", str(project / "scripts" / "db.sh"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "ALGO_TRADE_PGDATA": ""},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture
def closed_folder() -> Iterator[Path]:
    """A folder only root may enter (like /root): mode 0700."""
    path = Path(tempfile.mkdtemp(prefix="algo-trade-closed-"))
    path.chmod(0o700)
    try:
        yield path
    finally:
        shutil.rmtree(path)


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A folder everyone may enter (mode 0755), outside the 0700 pytest temporary folders."""
    path = Path(tempfile.mkdtemp(prefix="algo-trade-open-", dir="/var/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path)


@needs_root
def test_a_project_the_server_user_cannot_reach_keeps_its_cluster_where_it_can(closed_folder: Path) -> None:
    project = make_project(closed_folder, "my algo trade")
    other = make_project(closed_folder, "other")
    where = Path(db_sh(project, "where"))
    assert not where.is_relative_to(closed_folder)
    assert where.name.startswith("my_algo_trade-")  # readable, and keyed by the project path
    reachable = subprocess.run(
        ["runuser", "-u", "postgres", "--", "test", "-x", str(where.parent.parent)],
        check=False,
        cwd="/",
    )
    assert reachable.returncode == 0, f"postgres cannot reach {where.parent.parent}"
    assert db_sh(project, "where") == str(where)  # deterministic: db-down, db-status and test find it
    assert Path(db_sh(other, "where")) not in (where, where.parent)
    assert (
        "outside the project: user postgres cannot reach"
        in subprocess.run(
            ["bash", str(project / "scripts" / "db.sh"), "status"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
    )


@needs_root
def test_a_reachable_project_keeps_its_cluster_inside(open_folder: Path) -> None:
    project = make_project(open_folder, "algo-trade")
    assert db_sh(project, "where") == str(project / ".pgdata")


def test_make_help_names_the_port_in_use() -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", "-s", "help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "ALGO_TRADE_PGPORT": "55123"},
        timeout=60,
    )
    assert "127.0.0.1:55123" in result.stdout
    assert "54329" not in result.stdout
