"""Shared fixtures. Every test runs with non-loopback network connections blocked."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parent.parent
# The real public datasets; tests that need them skip when the folder is absent.
SHARED_DATA_DIR = Path(
    os.environ.get("AFTERCARE_TEST_DATA_DIR", REPO_ROOT.parent / "shared" / "data")
)


class NetworkBlocked(RuntimeError):
    pass


def _is_loopback(address: object) -> bool:
    if not isinstance(address, tuple) or not address:
        return True  # AF_UNIX paths and other non-IP families stay local
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _is_loopback(address):
        raise NetworkBlocked(f"test tried to connect to non-loopback address {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if not _is_loopback(address):
        raise NetworkBlocked(f"test tried to connect to non-loopback address {address!r}")
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
    if host not in (None, "localhost") and not _is_loopback((host, 0)):
        raise NetworkBlocked(f"test tried to resolve non-loopback host {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True, scope="session")
def block_network() -> None:
    """Fail any connection or DNS look-up that would leave this machine."""
    mp = pytest.MonkeyPatch()
    mp.setattr(socket.socket, "connect", _guarded_connect)
    mp.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    mp.setattr(socket, "getaddrinfo", _guarded_getaddrinfo)
    yield
    mp.undo()


@pytest.fixture
def shared_data_dir() -> Path:
    if not SHARED_DATA_DIR.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATA_DIR}; set AFTERCARE_TEST_DATA_DIR")
    return SHARED_DATA_DIR


@pytest.fixture(scope="session")
def prepared_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with the shipped extract imported and the knowledge base ingested."""
    from agent.config import Settings
    from agent.context.db import init_db, make_engine
    from agent.context.importer import import_online_retail
    from agent.demo import EXTRACT_PATH
    from agent.knowledge.ingest import ingest

    data_dir = tmp_path_factory.mktemp("prepared")
    settings = Settings(data_dir=data_dir)
    engine = make_engine(settings.resolved_database_url)
    init_db(engine)
    import_online_retail(EXTRACT_PATH, engine)
    engine.dispose()
    ingest(settings)
    return data_dir


@pytest.fixture
def prepared_settings(prepared_data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """Settings pointing at the prepared data folder, also through the environment."""
    from agent.config import Settings, get_settings

    monkeypatch.setenv("AFTERCARE_DATA_DIR", str(prepared_data_dir))
    get_settings.cache_clear()
    yield Settings(data_dir=prepared_data_dir)
    get_settings.cache_clear()
