"""Credentials for a declarative connector's calls: fixed ones, or OAuth 2.0 tokens
(client credentials, or the JWT bearer grant).

A token is fetched when first needed and again ``refresh_before_seconds`` before it
expires (from ``expires_in``; without one, it is kept until the API refuses it). One
fetch at a time: callers that find the token due wait on one lock, and the first to get
it fetches while the others reuse its result. When the API says a token expired (a 401,
or an error body the spec describes) the caller drops that token — only that one, so a
hundred callers holding it cause one fetch, not a hundred — and tries once more. A fetch
that fails is a ``token-refresh-failed`` problem and a ``connector.token_refresh_failed``
log event for alerting.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from collections.abc import Callable
from typing import Any, NoReturn
from urllib.parse import urlencode

import orjson
import structlog
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import import_key
from yarl import URL

from isthmus.connectors.base import Headers
from isthmus.connectors.declarative.spec import (
    ApiKeyAuth,
    Auth,
    BasicAuth,
    BearerAuth,
    ClientCredentialsAuth,
    JwtBearerAuth,
    render,
)
from isthmus.connectors.http import OriginPools
from isthmus.errors import FatalError, IsthmusError
from isthmus.mapping import Mapping

log = structlog.get_logger(__name__)


class TokenRefreshFailed(FatalError):
    status = 502
    code = "token-refresh-failed"
    title = "The connector could not get an access token"
    remediation = (
        "Check the Connection's client id and secret (and that the client may use the "
        "scopes asked for); the hub retries on the next call."
    )


class Credentials:
    """What to add to each call. ``token`` names the credential used, so a caller can
    report exactly that one as expired."""

    refreshable = False
    expired_when: Mapping | None = None  # an error body that says the token expired

    async def get(self) -> tuple[Headers, dict[str, str], str]:
        raise NotImplementedError

    def expired(self, token: str) -> None:
        """The API refused ``token`` as expired."""


class FixedCredentials(Credentials):
    def __init__(self, headers: Headers, params: dict[str, str]) -> None:
        self._value = (headers, params, "")

    async def get(self) -> tuple[Headers, dict[str, str], str]:
        return self._value


class TokenCredentials(Credentials):
    """An OAuth 2.0 access token from a token endpoint; subclasses say which grant."""

    refreshable = True

    def __init__(
        self,
        auth: ClientCredentialsAuth | JwtBearerAuth,
        values: dict[str, str],
        base: URL,
        pools: OriginPools,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.auth = auth
        self.expired_when = Mapping(auth.expired_when) if auth.expired_when else None
        self._values = values
        self._url = base.join(URL(render(auth.token_url, values)))
        self._pools = pools
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token = ""
        self._due = 0.0
        self.fetches = 0  # tokens fetched: a counter tests and health read

    async def get(self) -> tuple[Headers, dict[str, str], str]:
        if not self._token or self._clock() >= self._due:
            async with self._lock:
                if not self._token or self._clock() >= self._due:  # not done meanwhile
                    await self._fetch()
        return [(b"authorization", b"Bearer " + self._token.encode())], {}, self._token

    def expired(self, token: str) -> None:
        if token == self._token:
            self._token = ""

    def _grant(self) -> tuple[dict[str, str], list[tuple[bytes, bytes]]]:
        """The token request's form and any extra headers."""
        raise NotImplementedError

    async def _fetch(self) -> None:
        form, extra = self._grant()
        headers = [
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"accept", b"application/json"),
            *extra,
        ]
        started = self._clock()
        try:
            answer = await self._pools(self._url.origin()).request(
                "POST", self._url.raw_path_qs, headers, urlencode(form).encode()
            )
            data = orjson.loads(answer.body) if answer.status == 200 else None
        except (IsthmusError, orjson.JSONDecodeError) as error:
            self._failed(f"the token endpoint could not be used ({type(error).__name__})")
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(data, dict) or not isinstance(token, str) or not token:
            self._failed(f"the token endpoint answered HTTP {answer.status} without a token")
        lifetime = data.get("expires_in")
        self._token = token
        if isinstance(lifetime, int | float) or (isinstance(lifetime, str) and lifetime.isdigit()):
            self._due = started + max(0.0, float(lifetime) - self.auth.refresh_before_seconds)
        else:  # no lifetime given (Salesforce): kept until the API says it expired
            self._due = float("inf")
        self.fetches += 1

    def _failed(self, why: str) -> NoReturn:
        log.warning("connector.token_refresh_failed", reason=why)
        raise TokenRefreshFailed(f"No access token: {why}.")


class ClientCredentials(TokenCredentials):
    auth: ClientCredentialsAuth

    def _grant(self) -> tuple[dict[str, str], list[tuple[bytes, bytes]]]:
        auth, values = self.auth, self._values
        form = {"grant_type": "client_credentials"}
        headers: list[tuple[bytes, bytes]] = []
        client_id, secret = render(auth.client_id, values), render(auth.client_secret, values)
        if auth.credentials_in == "basic":
            pair = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
            headers.append((b"authorization", f"Basic {pair}".encode()))
        else:
            form |= {"client_id": client_id, "client_secret": secret}
        if auth.scopes:
            form["scope"] = " ".join(auth.scopes)
        if auth.audience:
            form["audience"] = render(auth.audience, values)
        return form, headers


class JwtBearer(TokenCredentials):
    auth: JwtBearerAuth

    def _grant(self) -> tuple[dict[str, str], list[tuple[bytes, bytes]]]:
        auth, values = self.auth, self._values
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": render(auth.issuer, values),
            "aud": render(auth.audience, values),
            "iat": now,
            "exp": now + auth.lifetime_seconds,
            "jti": secrets.token_urlsafe(12),
        }
        if auth.subject:
            claims["sub"] = render(auth.subject, values)
        if auth.scopes:
            claims["scope"] = " ".join(auth.scopes)
        try:
            key = import_key(
                render(auth.private_key, values), "RSA" if auth.algorithm == "RS256" else "EC"
            )
            assertion = jwt.encode({"alg": auth.algorithm, "typ": "JWT"}, claims, key)
        except (ValueError, JoseError):
            self._failed("the Connection's private key could not sign the assertion")
        grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
        return {"grant_type": grant, "assertion": assertion}, []


def credentials_for(
    auth: Auth | None, values: dict[str, str], base: URL, pools: OriginPools
) -> Credentials:
    if auth is None:
        return FixedCredentials([], {})
    if isinstance(auth, ApiKeyAuth):
        value = render(auth.value, values)
        if auth.where == "query":
            return FixedCredentials([], {auth.name: value})
        return FixedCredentials([(auth.name.lower().encode(), value.encode("latin-1"))], {})
    if isinstance(auth, BasicAuth):
        pair = f"{render(auth.username, values)}:{render(auth.password, values)}"
        header = b"Basic " + base64.b64encode(pair.encode())
        return FixedCredentials([(b"authorization", header)], {})
    if isinstance(auth, BearerAuth):
        token = render(auth.token, values).encode("latin-1")
        return FixedCredentials([(b"authorization", b"Bearer " + token)], {})
    if isinstance(auth, JwtBearerAuth):
        return JwtBearer(auth, values, base, pools)
    return ClientCredentials(auth, values, base, pools)
