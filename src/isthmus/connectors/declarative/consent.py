"""A person's consent for an authorization code Connection (OAuth 2.0 with PKCE).

`isthmus connection authorize` runs this once: it shows the System's consent page, takes
the code the System redirects to a callback on loopback (RFC 8252), trades it with the
PKCE verifier for tokens, and keeps the refresh token in the vault, where the connector
finds it from then on.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
from collections.abc import Callable
from urllib.parse import urlencode

import orjson
from aiohttp import web
from yarl import URL

from isthmus.connectors.base import SecretStore
from isthmus.connectors.declarative.auth import client_auth
from isthmus.connectors.declarative.config import DeclarativeConfig, resolve_values
from isthmus.connectors.declarative.spec import (
    PLACEHOLDER,
    AuthorizationCodeAuth,
    DeclarativeSpec,
    render,
)
from isthmus.connectors.http import Limits, OriginPool
from isthmus.errors import ConfigurationError, FatalError


class ConsentFailed(FatalError):
    status = 400
    code = "consent-failed"
    title = "The authorization did not complete"
    remediation = "Run 'isthmus connection authorize' again and approve the access asked for."


def pkce() -> tuple[str, str]:
    """A code verifier and its S256 challenge (RFC 7636 §4)."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def authorize(
    spec: DeclarativeSpec,
    config: DeclarativeConfig,
    vault: SecretStore,
    *,
    port: int,
    show: Callable[[str], object],
    environment: str = "sandbox",
    wait_seconds: float = 300.0,
) -> str:
    """Run the consent; the refresh token goes to the vault. Returns its reference."""
    plain = {n: str(f.default) for n, f in spec.config.items() if f.default is not None}
    plain |= {n: str(v) for n, v in config.values.items() if not str(v).startswith("secret://")}
    try:
        auth = spec.auth_for(plain)  # an auth option is chosen by a plain value
    except ValueError as exc:
        raise ConfigurationError(f"The Connection's values do not fit the spec: {exc}.") from None
    if not isinstance(auth, AuthorizationCodeAuth):
        raise ConfigurationError(
            "The Connection's spec does not authenticate with an authorization code.",
            remediation="Only 'oauth2-authorization-code' Connections need a person's consent.",
        )
    field = PLACEHOLDER.fullmatch(auth.refresh_token)[1]  # type: ignore[index]
    reference = str(config.values.get(field, ""))
    if not reference.startswith("secret://"):
        raise ConfigurationError(f"'{field}' must be a secret:// reference to keep the token in.")
    # every value but the refresh token, which is what this makes
    given = {name: value for name, value in config.values.items() if name != field}
    declared = spec.model_copy(
        update={"config": {k: v for k, v in spec.config.items() if k != field}}
    )
    values = await resolve_values(declared, given, vault)
    redirect = f"http://127.0.0.1:{port}/callback"
    verifier, challenge = pkce()
    state = secrets.token_urlsafe(16)
    code = await _code(
        URL(render(auth.authorize_url, values)).update_query(
            response_type="code",
            client_id=render(auth.client_id, values),
            redirect_uri=redirect,
            scope=" ".join(auth.scopes),
            state=state,
            code_challenge=challenge,
            code_challenge_method="S256",
        ),
        state,
        port,
        show,
        wait_seconds,
    )
    base = URL((config.base_url or spec.base_urls.get(environment) or spec.base_url).rstrip("/"))
    token_url = URL(render(auth.token_url, values))
    if not token_url.is_absolute():
        token_url = URL(render(str(base), values) + str(token_url))
    client, headers = client_auth(
        render(auth.client_id, values),
        render(auth.client_secret or "", values),
        auth.credentials_in,
    )
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect,
        "code_verifier": verifier,
        **client,
    }
    pool = OriginPool(
        token_url.origin(), allow_private=config.allow_private_network, limits=Limits()
    )
    try:
        answer = await pool.request(
            "POST",
            token_url.raw_path_qs,
            [
                (b"content-type", b"application/x-www-form-urlencoded"),
                (b"accept", b"application/json"),
                *headers,
            ],
            urlencode(form).encode(),
        )
    finally:
        await pool.close()
    try:
        data = orjson.loads(answer.body) if answer.body else None
    except orjson.JSONDecodeError:
        data = None
    refresh = data.get("refresh_token") if isinstance(data, dict) else None
    if answer.status != 200 or not isinstance(refresh, str) or not refresh:
        raise ConsentFailed(
            f"The token endpoint answered HTTP {answer.status} without a refresh token "
            "(ask for offline access if the System needs it)."
        )
    await vault.set(reference, refresh)
    return reference


async def _code(
    consent: URL, state: str, port: int, show: Callable[[str], object], wait_seconds: float
) -> str:
    """Show the consent page's address; wait for the System's redirect to the callback."""
    arrived: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def callback(request: web.Request) -> web.Response:
        if request.query.get("state") != state:
            return web.Response(status=400, text="This answer is not for this authorization.")
        if "code" not in request.query:
            error = request.query.get("error", "no code")
            if not arrived.done():
                arrived.set_exception(ConsentFailed(f"The System answered: {error[:100]}."))
            return web.Response(
                text="The authorization did not complete. You can close this window."
            )
        if not arrived.done():
            arrived.set_result(request.query["code"])
        return web.Response(text="Isthmus is authorized. You can close this window.")

    app = web.Application()
    app.router.add_get("/callback", callback)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        show(str(consent))
        async with asyncio.timeout(wait_seconds):
            return await arrived
    except TimeoutError:
        raise ConsentFailed(f"No answer came back within {wait_seconds:g} s.") from None
    finally:
        await runner.cleanup()
