"""The secrets vault: values sealed with AES-256-GCM under the hub's master key.

Resources hold only ``secret://name`` references; connectors resolve them when a
Connection opens. The master keys (:mod:`isthmus.governance.keyring`) live outside the
store — in ``ISTHMUS_MASTER_KEY`` or a key file — never beside the ciphertext.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

from isthmus.errors import ConfigurationError, FatalError
from isthmus.governance.keyring import KeySource, MasterKeys, VaultKeyMismatch
from isthmus.model.base import SECRET_PATTERN
from isthmus.settings import Settings
from isthmus.store.leases import LeaseRepository
from isthmus.store.secrets import SecretRepository
from isthmus.store.signing import SigningKeyRepository

__all__ = ["Rekeyed", "SecretMissing", "Vault", "VaultKeyMismatch", "master_keys"]

SCHEME = "secret://"
SECRET_NAME_PATTERN = SECRET_PATTERN.replace("^secret://", "^")
_NAME = re.compile(SECRET_NAME_PATTERN)


class SecretMissing(ConfigurationError):
    code = "secret-missing"
    title = "A referenced secret is not in the vault"
    remediation = "Store it with 'isthmus secret set NAME' (the detail names it)."


class InvalidSecretName(FatalError):
    status = 422
    code = "invalid-secret-name"
    title = "Invalid secret name"
    remediation = "Use lower-case letters, digits, '.', '_', '-' and '/'."


class SecretBusy(FatalError):
    status = 503
    code = "secret-busy"
    title = "Another hub process is still using a secret"
    remediation = "Retry shortly; if it persists, check the other hub processes' logs."


def master_keys(settings: Settings) -> MasterKeys:
    return MasterKeys.in_home(
        settings.home,
        settings.master_key,
        settings.master_keys_previous,
        settings.master_key_file,
        settings.vault_key,
    )


@dataclass(frozen=True)
class Rekeyed:
    """What a re-encryption did: values sealed anew, and what remains under other keys."""

    secrets: int
    signing_keys: int
    remaining: dict[str, int]


_SEALED = b"sealed"  # the context of values the hub keeps for itself


def _context(name: str) -> bytes:
    return b"secret:" + name.encode()


class Vault:
    def __init__(
        self, repository: SecretRepository, keys: MasterKeys, leases: LeaseRepository | None = None
    ) -> None:
        self._repository = repository
        self._leases = leases or LeaseRepository(repository.engine)
        self.keys = keys

    @classmethod
    def open(cls, repository: SecretRepository, settings: Settings) -> Vault:
        return cls(repository, master_keys(settings))

    @classmethod
    def with_key(cls, repository: SecretRepository, key: str) -> Vault:
        """A vault on one master key (base64 of 32 bytes): for scripts and tests."""
        return cls(repository, MasterKeys(KeySource(key)))

    @staticmethod
    def name_of(reference: str) -> str:
        name = reference.removeprefix(SCHEME)
        if not _NAME.match(name):
            raise InvalidSecretName(f"'{name}' is not a valid secret name.")
        return name

    def seal(self, plaintext: bytes) -> bytes:
        """Encrypt something the hub keeps for itself (e.g. a signing key)."""
        return self.keys.seal(plaintext, _SEALED)

    def unseal(self, token: bytes) -> bytes:
        return self.keys.unseal(token, _SEALED)

    def seal_for(self, purpose: str, plaintext: str) -> bytes:
        """Encrypt a value the hub holds for someone (a credential awaiting pickup); it
        opens only for the same ``purpose``."""
        return self.keys.seal(plaintext.encode(), b"held:" + purpose.encode())

    def unseal_for(self, purpose: str, token: bytes) -> str:
        return self.keys.unseal(token, b"held:" + purpose.encode()).decode()

    async def set(self, name: str, value: str) -> None:
        name = self.name_of(name)
        await self._repository.put(name, self.keys.seal(value.encode(), _context(name)))

    async def resolve(self, reference: str) -> str:
        name = self.name_of(reference)
        token = await self._repository.get(name)
        if token is None:
            raise SecretMissing(f"The vault has no secret '{name}'.")
        try:
            return self.keys.unseal(token, _context(name)).decode()
        except VaultKeyMismatch as exc:
            raise VaultKeyMismatch(f"Secret '{name}' cannot be opened: {exc.detail}") from exc

    async def rekey(self, signing: SigningKeyRepository) -> Rekeyed:
        """Seal every value not under the current master key anew (secrets and signing
        keys); a value written meanwhile is left to its writer. Safe to run from several
        processes at once."""
        done_secrets = done_signing = 0
        for name, token in (await self._repository.sealed()).items():
            if not self.keys.is_current(token):
                with suppress(VaultKeyMismatch):  # its key is unknown: left, and counted
                    plain = self.keys.unseal(token, _context(name))
                    fresh = self.keys.seal(plain, _context(name))
                    done_secrets += await self._repository.reseal(name, token, fresh)
        for key in await signing.list():
            if not self.keys.is_current(key.private_jwk):
                with suppress(VaultKeyMismatch):
                    fresh = self.seal(self.unseal(key.private_jwk))
                    done_signing += await signing.reseal(key.kid, key.private_jwk, fresh)
        current = self.keys.current_id
        remaining = {k: n for k, n in (await self.sealed_by(signing)).items() if k != current}
        return Rekeyed(done_secrets, done_signing, remaining)

    async def sealed_by(self, signing: SigningKeyRepository) -> dict[str, int]:
        """How many values each master key seals (by key id): what a rotation must redo."""
        tokens = [*(await self._repository.sealed()).values()]
        tokens += [key.private_jwk for key in await signing.list()]
        return dict(Counter(self.keys.sealed_by(t) for t in tokens))

    @asynccontextmanager
    async def lock(
        self, reference: str, hold_seconds: float = 30.0, wait_seconds: float = 30.0
    ) -> AsyncIterator[None]:
        """Hold ``reference`` against every hub process on this store. A holder that
        dies frees it after ``hold_seconds``; waiting longer than ``wait_seconds`` is a
        :class:`SecretBusy` problem."""
        name = "secret/" + self.name_of(reference)
        holder = secrets.token_hex(8)
        deadline = time.monotonic() + wait_seconds
        pause = 0.005
        while not await self._leases.take(name, holder, hold_seconds):
            if time.monotonic() > deadline:
                raise SecretBusy(f"Secret '{name[7:]}' stayed locked by another process.")
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.2)
        try:
            yield
        finally:
            await self._leases.release(name, holder)

    async def names(self) -> list[str]:
        return sorted(await self._repository.versions())

    async def delete(self, name: str) -> None:
        await self._repository.delete(self.name_of(name))
