"""What every face shares: who may read which Views, and answers as JSON."""

from __future__ import annotations

import base64
import datetime
import decimal
from typing import Any

import orjson

from isthmus.gateway.http import GatewayResponse
from isthmus.gateway.snapshot import Caller, Snapshot
from isthmus.virtual.service import Access


def access_for(snapshot: Snapshot, caller: Caller) -> Access:
    """The Views published by the Apis the caller's App is granted (an access token:
    only those of the Api it was issued for)."""
    granted = snapshot.granted(caller.app, caller.environment)
    if caller.audience is not None:
        granted = granted & {caller.audience}
    views = frozenset().union(*(snapshot.published_views.get(api, ()) for api in granted))
    return Access(views)


def _plain(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    raise TypeError


def dumps(payload: Any) -> bytes:
    """JSON of rows as DuckDB gives them (decimals as numbers, bytes as base64, times
    in UTC with a 'Z': the virtual layer keeps every time in UTC)."""
    options = orjson.OPT_NON_STR_KEYS | orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z
    return orjson.dumps(payload, default=_plain, option=options)


def json_answer(
    status: int, payload: Any, content_type: bytes = b"application/json"
) -> GatewayResponse:
    return GatewayResponse(status, dumps(payload), [(b"content-type", content_type)])
