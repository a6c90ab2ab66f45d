"""Reachability of the services Alexandria depends on."""

import time

import httpx
from django.conf import settings
from django.db import connection
from kombu import Connection


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        detail = check()
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "detail": detail, "ms": round((time.perf_counter() - started) * 1000, 1)}


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def _broker() -> str:
    if not settings.CELERY_BROKER_URL:
        return "none configured: tasks run eagerly in-process"
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        return conn.transport_cls


def _chroma() -> str:
    if settings.CHROMA_URL:
        response = httpx.get(settings.CHROMA_URL.rstrip("/") + "/api/v2/heartbeat", timeout=2)
        response.raise_for_status()
        return "server"
    settings.CHROMA_PATH.mkdir(parents=True, exist_ok=True)
    return f"embedded at {settings.CHROMA_PATH}"


def service_health() -> dict:
    checks = {"database": _timed(_database), "broker": _timed(_broker), "chroma": _timed(_chroma)}
    return {"status": "ok" if all(c["ok"] for c in checks.values()) else "degraded", **checks}
