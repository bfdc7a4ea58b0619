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

A rotating refresh token (the refresh token grant) is spent by one hub process at a
time: the vault's lock (a lease in the store) is held from reading the newest token
to keeping the one the endpoint sent back, so processes never race with a spent one.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn
from urllib.parse import urlencode

import orjson
import structlog
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import import_key
from yarl import URL

from isthmus.connectors.base import Headers, SecretLocks, SecretResolver, SecretStore
from isthmus.connectors.declarative.spec import (
    PLACEHOLDER,
    ApiKeyAuth,
    Auth,
    BasicAuth,
    BearerAuth,
    ClientCredentialsAuth,
    JwtBearerAuth,
    RefreshTokenAuth,
    TokenGrant,
    render,
)
from isthmus.connectors.http import OriginPools
from isthmus.errors import ConfigurationError, FatalError, IsthmusError
from isthmus.mapping import Mapping as Jsonata

log = structlog.get_logger(__name__)


class TokenRefreshFailed(FatalError):
    status = 502
    code = "token-refresh-failed"
    title = "The connector could not get an access token"
    remediation = (
        "Check the Connection's client id and secret (and that the client may use the "
        "scopes asked for); the hub retries on the next call."
    )


class Credentials(ABC):
    """What to add to each call. ``token`` names the credential used, so a caller can
    report exactly that one as expired."""

    refreshable = False
    expired_when: Jsonata | None = None  # an error body that says the token expired

    @abstractmethod
    async def get(self) -> tuple[Headers, dict[str, str], str]:
        """Headers and query parameters to add, and the token they carry."""

    def expired(self, token: str) -> None:  # noqa: B027 - fixed credentials never expire
        """The API refused ``token`` as expired: fixed credentials have nothing to renew."""


class FixedCredentials(Credentials):
    def __init__(self, headers: Headers, params: dict[str, str]) -> None:
        self._value = (headers, params, "")

    async def get(self) -> tuple[Headers, dict[str, str], str]:
        return self._value


@dataclass
class TokenState:
    """An access token and what guards it. Shared where credentials must outlive one
    connector (a rotating refresh token): a reopened Connection finds the token still
    valid instead of spending the refresh token again."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    token: str = ""
    due: float = 0.0
    refresh: str = ""  # the refresh token now current, where there is one


# Per refresh token (its vault entry and endpoint), for this process.
_SHARED: weakref.WeakValueDictionary[tuple[str, str], TokenState] = weakref.WeakValueDictionary()


class TokenCredentials(Credentials):
    """An OAuth 2.0 access token from a token endpoint; subclasses say which grant."""

    refreshable = True

    def __init__(
        self,
        auth: TokenGrant,
        values: dict[str, str],
        base: URL,
        pools: OriginPools,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.auth = auth
        self.expired_when = Jsonata(auth.expired_when) if auth.expired_when else None
        self._values = values
        given = URL(render(auth.token_url, values))
        # a path is under the base URL, as stream paths are (Workday's /ccx/oauth2/…)
        self._url = given if given.is_absolute() else URL(str(base) + str(given))
        if self._url.scheme not in ("http", "https") or not self._url.host:
            raise ConfigurationError("The spec's tokenUrl is not an http(s) URL.")
        if self._url.scheme != "https" and not pools.allow_private:
            raise ConfigurationError(
                "The token endpoint must be an https:// URL: the client's secret goes there.",
                remediation="Fix the spec's tokenUrl (http is only for private networks).",
            )
        self._pools = pools
        self._clock = clock
        self.state = TokenState()
        self.fetches = 0  # tokens fetched: a counter tests and health read

    async def get(self) -> tuple[Headers, dict[str, str], str]:
        state = self.state
        if not state.token or self._clock() >= state.due:
            seen = state.token
            async with state.lock:
                if state.token == seen:  # nobody got a new one while this caller waited
                    await self._fetch()
        token = state.token
        return [(b"authorization", b"Bearer " + token.encode())], {}, token

    def expired(self, token: str) -> None:
        if token == self.state.token:
            self.state.token = ""

    @abstractmethod
    def _grant(self) -> tuple[dict[str, str], list[tuple[bytes, bytes]]]:
        """The token request's form and any extra headers."""

    async def _received(self, answer: dict[str, Any]) -> None:
        """The token endpoint's whole answer, before its token is used."""

    def _client(
        self, client_id: str, secret: str | None, where: str
    ) -> tuple[dict[str, str], list[tuple[bytes, bytes]]]:
        """The client's credentials, in the form or as Basic (RFC 6749 §2.3.1); a public
        client (no secret) names itself only."""
        return client_auth(
            render(client_id, self._values), render(secret or "", self._values), where
        )

    async def _fetch(self) -> None:
        started = self._clock()
        status, data = await self._ask()
        if not _granted(status, data) and await self._recovered():
            status, data = await self._ask()
        if not _granted(status, data):
            self._failed(f"the token endpoint answered HTTP {status} without a token")
        assert isinstance(data, dict)
        lifetime = data.get("expires_in")
        state = self.state
        state.token = data["access_token"]
        if isinstance(lifetime, int | float) or (isinstance(lifetime, str) and lifetime.isdigit()):
            # never due at once: a short-lived token would be fetched on every call
            margin = min(float(self.auth.refresh_before_seconds), float(lifetime) / 2)
            state.due = started + float(lifetime) - margin
        else:  # no lifetime given (Salesforce): kept until the API says it expired
            state.due = float("inf")
        self.fetches += 1

    async def _ask(self) -> tuple[int, Any]:
        """One token request: the status and the parsed answer."""
        form, extra = self._grant()
        headers = [
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"accept", b"application/json"),
            *extra,
        ]
        try:
            answer = await self._pools(self._url.origin()).request(
                "POST", self._url.raw_path_qs, headers, urlencode(form).encode()
            )
            data = orjson.loads(answer.body) if answer.body else None
        except (IsthmusError, orjson.JSONDecodeError) as error:
            self._failed(f"the token endpoint could not be used ({type(error).__name__})")
        if answer.status == 200 and isinstance(data, dict):
            await self._received(data)  # a rotated refresh token first, whatever follows
        return answer.status, data

    async def _recovered(self) -> bool:
        """After a refusal: whether something changed that makes a second try worth it."""
        return False

    def _failed(self, why: str) -> NoReturn:
        log.warning("connector.token_refresh_failed", reason=why)
        raise TokenRefreshFailed(f"No access token: {why}.")


class ClientCredentials(TokenCredentials):
    auth: ClientCredentialsAuth

    def _grant(self) -> tuple[dict[str, str], list[tuple[bytes, bytes]]]:
        auth, values = self.auth, self._values
        client, headers = self._client(auth.client_id, auth.client_secret, auth.credentials_in)
        form = {"grant_type": "client_credentials", **client}
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


class RefreshToken(TokenCredentials):
    auth: RefreshTokenAuth

    def __init__(
        self,
        auth: RefreshTokenAuth,
        values: dict[str, str],
        base: URL,
        pools: OriginPools,
        vault: SecretResolver,
        reference: str,
    ) -> None:
        super().__init__(auth, values, base, pools)
        self._vault = vault
        self._reference = reference  # the secret:// the refresh token lives in
        key = (reference, str(self._url))
        shared = _SHARED.get(key)
        if shared is None:
            shared = _SHARED[key] = TokenState(refresh=render(auth.refresh_token, values))
        self.state = shared

    async def _fetch(self) -> None:
        if not isinstance(self._vault, SecretLocks):
            await super()._fetch()
            return
        # One hub process at a time spends the refresh token: the one before may have
        # rotated it, so the vault's is read first (under the lock, it is the newest).
        async with self._vault.lock(self._reference):
            await self._recovered()
            await super()._fetch()

    def _grant(self) -> tuple[dict[str, str], list[tuple[bytes, bytes]]]:
        auth = self.auth
        client, headers = self._client(auth.client_id, auth.client_secret, auth.credentials_in)
        refresh = self.state.refresh
        return {"grant_type": "refresh_token", "refresh_token": refresh, **client}, headers

    async def _received(self, answer: dict[str, Any]) -> None:
        rotated = answer.get("refresh_token")
        if not isinstance(rotated, str) or not rotated or rotated == self.state.refresh:
            return
        # The old token is spent. The new one is used from memory at once, then kept in
        # the vault for restarts; a vault that cannot take it is an alert, not an outage.
        self.state.refresh = rotated
        log.info("connector.refresh_token_rotated", secret=self._reference)
        try:
            if not isinstance(self._vault, SecretStore):
                raise TypeError("a vault that cannot be written")
            await self._vault.set(self._reference, rotated)
        except Exception as error:  # whatever the vault raised: say so, keep going
            log.warning(
                "connector.refresh_token_not_saved",
                secret=self._reference,
                error=type(error).__name__,
            )

    async def _recovered(self) -> bool:
        # Another hub process may have rotated it: the vault then holds the new one.
        try:
            stored = await self._vault.resolve(self._reference)
        except IsthmusError:
            return False
        if not stored or stored == self.state.refresh:
            return False
        self.state.refresh = stored
        return True


def client_auth(
    client_id: str, secret: str, where: str
) -> tuple[dict[str, str], list[tuple[bytes, bytes]]]:
    if not secret:
        return {"client_id": client_id}, []
    if where == "basic":
        pair = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        return {}, [(b"authorization", f"Basic {pair}".encode())]
    return {"client_id": client_id, "client_secret": secret}, []


def _granted(status: int, data: Any) -> bool:
    return status == 200 and isinstance(data, dict) and isinstance(data.get("access_token"), str)


def credentials_for(
    auth: Auth | None,
    values: dict[str, str],
    base: URL,
    pools: OriginPools,
    vault: SecretResolver,
    references: Mapping[str, object],
) -> Credentials:
    """The credentials ``auth`` describes. ``values`` are the Connection's, resolved;
    ``references`` as written (``secret://…``), for credentials the System rotates."""
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
    if isinstance(auth, RefreshTokenAuth):
        name = PLACEHOLDER.fullmatch(auth.refresh_token)[1]  # type: ignore[index]
        reference = str(references.get(name, ""))
        if not reference.startswith("secret://"):
            raise ConfigurationError(
                f"The refresh token ('{name}') must be a secret:// reference: a rotated one "
                "is written back to the vault."
            )
        return RefreshToken(auth, values, base, pools, vault, reference)
    return ClientCredentials(auth, values, base, pools)
