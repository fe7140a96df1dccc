"""Which object store to use: the configured one, or the embedded SeaweedFS a portal on this
machine runs. Apart from the portal's runtime, so that an agent can import it alone."""

from __future__ import annotations

from pathlib import Path

from classroom.settings import Settings, SettingsError
from storage.seaweed import S3Connection, read_connection


def embedded_store_dir(settings: Settings) -> Path:
    return settings.data_dir / "s3"


def configured_connection(settings: Settings) -> S3Connection | None:
    s = settings.storage
    if not s.endpoint:
        return None
    if not (s.access_key and s.secret_key):
        raise SettingsError(
            "invalid setting CLASSROOM_STORAGE__ACCESS_KEY (storage.access_key): "
            "an external endpoint needs access_key and secret_key"
        )
    return S3Connection(s.endpoint, s.access_key, s.secret_key, s.secure)


def agent_connection(settings: Settings) -> S3Connection:
    """For an agent: the configured store, or the embedded one a portal on this machine runs."""
    conn = configured_connection(settings) or read_connection(embedded_store_dir(settings))
    if conn is None:
        raise SettingsError(
            "invalid setting CLASSROOM_STORAGE__ENDPOINT (storage.endpoint): not set, and no "
            f"embedded object store is running in {embedded_store_dir(settings)}"
        )
    return conn
