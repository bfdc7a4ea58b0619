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
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Protocol

from isthmus.errors import ConfigurationError, FatalError
from isthmus.governance.keyring import KeySource, MasterKeys, VaultKeyMismatch
from isthmus.model.base import SECRET_PATTERN
from isthmus.settings import Settings
from isthmus.store.keys import KeyRepository
from isthmus.store.leases import LeaseRepository
from isthmus.store.secrets import SecretRepository
from isthmus.store.signing import SigningKeyRepository

__all__ = ["Rekeyed", "SecretMissing", "Vault", "VaultKeyMismatch", "master_keys", "purpose"]

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

    resealed: int
    remaining: dict[str, int]


class SealedValues(Protocol):
    """A store table holding values the master key seals, by id."""

    async def sealed(self) -> dict[str, bytes]: ...

    async def reseal(self, ident: str, old: bytes, new: bytes) -> bool: ...


class OldKeysInUse(FatalError):
    status = 409
    code = "vault-old-keys-in-use"
    title = "Values are still sealed under older master keys"
    remediation = (
        "Give every hub process the current key, run 'isthmus secret rekey', and try again; "
        "a value under a key no process has must be stored anew."
    )


_SEALED = b"sealed"  # the context of values the hub keeps for itself


def purpose(key_id: str) -> str:
    """What a credential awaiting pickup is sealed as: it opens as that one only."""
    return f"credential:{key_id}"


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

    def seal_for(self, key_id: str, plaintext: str) -> bytes:
        """Encrypt a credential the hub holds for its App's owner until collected; it
        opens only as that credential's."""
        return self.keys.seal(plaintext.encode(), b"held:" + purpose(key_id).encode())

    def unseal_for(self, key_id: str, token: bytes) -> str:
        return self.keys.unseal(token, b"held:" + purpose(key_id).encode()).decode()

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

    def _holders(self) -> list[tuple[SealedValues, Callable[[str], bytes]]]:
        """Everything in the store that the master key seals, with how each value's
        context is made: secrets, token signing keys, credentials awaiting pickup."""
        engine = self._repository.engine
        return [
            (self._repository, _context),
            (SigningKeyRepository(engine), lambda _: _SEALED),
            (KeyRepository(engine), lambda key_id: b"held:" + purpose(key_id).encode()),
        ]

    async def rekey(self) -> Rekeyed:
        """Seal every value not under the current master key anew; a value written
        meanwhile is left to its writer, one under an unknown key is left and counted.
        Safe to run from several processes at once."""
        done = 0
        for holder, context in self._holders():
            for ident, token in (await holder.sealed()).items():
                if self.keys.is_current(token):
                    continue
                with suppress(VaultKeyMismatch):
                    fresh = self.keys.seal(self.keys.unseal(token, context(ident)), context(ident))
                    done += await holder.reseal(ident, token, fresh)
        current = self.keys.current_id
        remaining = {k: n for k, n in (await self.sealed_by()).items() if k != current}
        return Rekeyed(done, remaining)

    async def sealed_by(self) -> dict[str, int]:
        """How many values each master key seals (by key id): what a rotation must redo."""
        counts: Counter[str] = Counter()
        for holder, _ in self._holders():
            counts.update(self.keys.sealed_by(t) for t in (await holder.sealed()).values())
        return dict(counts)

    async def forget_old_keys(self) -> Rekeyed:
        """Drop the key file's older keys, once every value is sealed under the current
        one (resealed first); refused while any value still needs an older key."""
        done = await self.rekey()
        if done.remaining:
            raise OldKeysInUse(
                f"{sum(done.remaining.values())} values are still sealed under older keys "
                f"({', '.join(sorted(done.remaining))}).",
                extensions={"sealedBy": done.remaining},
            )
        self.keys.forget_old()
        return done

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
