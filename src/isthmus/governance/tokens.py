"""The OAuth 2.0 authorization server of the gateway: client credentials in, signed
JWT access tokens out (RFC 6749 §4.4, RFC 9068), and their hardened validation.

Validation follows RFC 8725: the algorithm comes from our own key (looked up by ``kid``),
never from the token's header; ``alg=none``, HMAC signed with a public key, an unknown
``kid`` and header-supplied keys (``jku``, ``x5u``, ``jwk``, ``x5c``) are all refused;
``typ`` must be ``at+jwt``; ``iss``, ``aud``, ``exp`` and ``nbf`` are checked.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import orjson
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, KeyParameters, OKPKey, import_key

from isthmus.errors import FatalError, Unauthenticated
from isthmus.governance.vault import Vault
from isthmus.store.signing import SigningKeyRepository

TOKEN_TYPE = "at+jwt"
MAX_TTL_SECONDS = 900
LEEWAY_SECONDS = 30
MAX_TOKEN_BYTES = 8192
# A retired key stays published until every token it signed has expired.
RETENTION = timedelta(seconds=MAX_TTL_SECONDS + LEEWAY_SECONDS)
Algorithm = Literal["ES256", "Ed25519"]
_FORBIDDEN_HEADERS = ("jku", "x5u", "jwk", "x5c", "crit")


class InvalidToken(Unauthenticated):
    code = "invalid-token"
    title = "The access token is not valid"
    remediation = "Get a new token from /oauth/token with the App's client credentials."

    def __init__(self, detail: str) -> None:
        super().__init__(
            detail,
            headers={"WWW-Authenticate": 'Bearer realm="isthmus", error="invalid_token"'},
            extensions={"error": "invalid_token"},
        )


class OAuthError(FatalError):
    """A token request refused with an RFC 6749 §5.2 error (also in ``error``)."""

    status = 400
    code = "oauth-error"
    title = "The token request was refused"
    remediation = (
        "POST grant_type=client_credentials with the App's name as client_id and its "
        "client secret (or one of its API keys) as client_secret (HTTP Basic or form fields)."
    )

    def __init__(
        self, error: str, detail: str, status: int = 400, headers: dict[str, str] | None = None
    ) -> None:
        if error == "invalid_client":  # RFC 6749 §5.2: name the scheme clients should use
            headers = {"WWW-Authenticate": 'Basic realm="isthmus"', **(headers or {})}
        super().__init__(
            detail,
            extensions={"error": error, "error_description": detail},
            headers={"Cache-Control": "no-store", **(headers or {})},
        )
        self.status = status  # type: ignore[misc]


@dataclass(frozen=True)
class VerifierKey:
    kid: str
    alg: str
    key: Key


@dataclass(frozen=True)
class TokenKeys:
    """The keys as the gateway's snapshot holds them: one to sign, several to verify."""

    signer: VerifierKey | None
    verifiers: dict[str, VerifierKey]
    jwks: bytes

    @classmethod
    def empty(cls) -> TokenKeys:
        return cls(None, {}, b'{"keys":[]}')


@dataclass(frozen=True)
class AccessClaims:
    app: str
    audience: str
    environment: str
    scopes: frozenset[str]
    token_id: str
    key_id: str  # the API key the token was issued for: revoking it ends the token


def _generate(alg: Algorithm) -> Key:
    kid = secrets.token_urlsafe(12)
    parameters: KeyParameters = {"kid": kid, "alg": alg, "use": "sig"}
    if alg == "Ed25519":
        return OKPKey.generate_key("Ed25519", parameters=parameters)
    return ECKey.generate_key("P-256", parameters=parameters)


class TokenAuthority:
    """Owns the signing keys (in the store, sealed by the vault)."""

    def __init__(
        self, repository: SigningKeyRepository, vault: Vault, algorithm: Algorithm
    ) -> None:
        self.repository = repository
        self.vault = vault
        self.algorithm = algorithm

    def _new(self) -> tuple[str, str, bytes, dict[str, Any]]:
        key = _generate(self.algorithm)
        sealed = self.vault.seal(orjson.dumps(key.as_dict(private=True)))
        return str(key.kid), self.algorithm, sealed, key.as_dict(private=False)

    async def ensure_key(self) -> None:
        await self.repository.ensure(self._new)

    async def rotate(self) -> str:
        """A new signing key; the old one keeps verifying until its tokens expire."""
        kid, alg, sealed, public = self._new()
        await self.repository.add(kid, alg, sealed, public, retire_others=True)
        return kid

    def _private(self, sealed: bytes) -> Key:
        return import_key(orjson.loads(self.vault.unseal(sealed)))

    async def load(self) -> TokenKeys:
        now = datetime.now(UTC)
        stored = [
            k
            for k in await self.repository.list()
            if k.retired_at is None or now - k.retired_at < RETENTION
        ]
        verifiers = {k.kid: VerifierKey(k.kid, k.alg, self._private(k.private_jwk)) for k in stored}
        active = [k for k in stored if k.retired_at is None]
        signer = verifiers[active[-1].kid] if active else None
        jwks = orjson.dumps({"keys": [k.public_jwk for k in stored]})
        return TokenKeys(signer, verifiers, jwks)


def issue(
    keys: TokenKeys,
    *,
    issuer: str,
    app: str,
    key_id: str,
    environment: str,
    audience: str,
    scopes: frozenset[str],
    ttl: int,
) -> tuple[str, int]:
    """A signed access token and its lifetime in seconds."""
    if keys.signer is None:
        raise OAuthError("server_error", "The hub has no signing key yet.", status=503)
    lifetime = min(ttl, MAX_TTL_SECONDS)
    now = int(time.time())
    claims = {
        "iss": issuer,
        "sub": app,
        "client_id": app,
        "aud": audience,
        "scope": " ".join(sorted(scopes)),
        "isthmus_env": environment,
        "isthmus_key": key_id,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "jti": secrets.token_urlsafe(16),
    }
    signer = keys.signer
    header = {"alg": signer.alg, "kid": signer.kid, "typ": TOKEN_TYPE}
    return jwt.encode(header, claims, signer.key, algorithms=[signer.alg]), lifetime


def looks_like_jwt(credential: str) -> bool:
    return credential.count(".") == 2 and not credential.startswith("isk_")


def verify(keys: TokenKeys, token: str, *, issuer: str) -> AccessClaims:
    """The claims of a valid access token; raises :class:`InvalidToken` otherwise."""
    if len(token) > MAX_TOKEN_BYTES:
        raise InvalidToken("The token is too large.")
    try:
        header = _header(token)
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise InvalidToken("The token is not a JWT.") from exc
    if any(name in header for name in _FORBIDDEN_HEADERS):
        raise InvalidToken("The token names its own key or critical extensions; refused.")
    if str(header.get("typ", "")).lower() not in (TOKEN_TYPE, "application/" + TOKEN_TYPE):
        raise InvalidToken("The token is not an access token (typ must be at+jwt).")
    verifier = keys.verifiers.get(str(header.get("kid", "")))
    if verifier is None:
        raise InvalidToken("The token was not signed by a key of this hub.")
    try:
        # The algorithm is the key's own: whatever the header claims must match it.
        decoded = jwt.decode(token, verifier.key, algorithms=[verifier.alg])
    except (JoseError, ValueError) as exc:
        raise InvalidToken("The token's signature does not verify.") from exc
    claims = decoded.claims
    now = time.time()
    if claims.get("iss") != issuer:
        raise InvalidToken("The token was issued by someone else.")
    exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat"))
    if not isinstance(exp, int | float) or exp + LEEWAY_SECONDS < now:
        raise InvalidToken("The token has expired.")
    if isinstance(nbf, int | float) and nbf - LEEWAY_SECONDS > now:
        raise InvalidToken("The token is not valid yet.")
    app, audience = claims.get("sub"), claims.get("aud")
    environment, key_id = claims.get("isthmus_env"), claims.get("isthmus_key")
    texts = (app, audience, environment, key_id)
    if not all(isinstance(text, str) for text in texts):
        raise InvalidToken("The token lacks its subject, audience, environment or key.")
    return AccessClaims(
        str(app),
        str(audience),
        str(environment),
        frozenset(str(claims.get("scope", "")).split()),
        str(claims.get("jti", "")),
        str(key_id),
    )


def _header(token: str) -> dict[str, Any]:
    segment = token.split(".", 1)[0]
    padded = segment + "=" * (-len(segment) % 4)
    header = orjson.loads(base64.urlsafe_b64decode(padded))
    if not isinstance(header, dict):
        raise ValueError("header is not an object")
    return header
