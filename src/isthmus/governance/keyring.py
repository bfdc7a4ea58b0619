"""The vault's master keys: one that encrypts, older ones that still decrypt.

Values are sealed with AES-256-GCM. A sealed value starts with a version byte and the
id of the key that sealed it, so a rotated key can be told apart from a wrong one and
re-encryption (:meth:`isthmus.governance.vault.Vault.rekey`) knows what to redo.

Where the keys come from, first match wins:

- ``ISTHMUS_MASTER_KEY`` (base64 of 32 bytes) encrypts; ``ISTHMUS_MASTER_KEYS_PREVIOUS``
  (comma-separated) still decrypt — rotation by configuration, for clusters;
- otherwise the key file (``ISTHMUS_MASTER_KEY_FILE``, default ``HOME/master.key``, made
  once with mode 0600): its first line encrypts, the lines after it still decrypt. A
  process that meets a key id it does not know reads the file again, so a rotation done
  by one hub process reaches the others without a restart.

Stores made before AES-GCM hold Fernet tokens; the old ``vault.key`` (or
``ISTHMUS_VAULT_KEY``) still opens them until they are re-encrypted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from isthmus.errors import ConfigurationError, FatalError
from isthmus.home import read_or_create

VERSION = b"\x01"
KEY_BYTES = 32
NONCE_BYTES = 12
ID_BYTES = 8
_HEADER = len(VERSION) + ID_BYTES + NONCE_BYTES
_RELOAD_PAUSE_SECONDS = 1.0  # a flood of unknown ids must not re-read the file each time


class VaultKeyMismatch(FatalError):
    status = 500
    code = "vault-key-mismatch"
    title = "A secret cannot be decrypted"
    remediation = (
        "Start the hub with the master key the value was sealed with (or list it in "
        "ISTHMUS_MASTER_KEYS_PREVIOUS / the key file's later lines until 'isthmus secret "
        "rekey' has re-encrypted everything)."
    )


def new_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def key_id(key: bytes) -> bytes:
    """A public fingerprint of a key: tells keys apart, reveals nothing of them."""
    return hashlib.sha256(b"isthmus-master-key:" + key).digest()[:ID_BYTES]


def parse_key(text: str, where: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip().replace("+", "-").replace("/", "_") + "==")
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise ConfigurationError(
            f"The master key in {where} is not 32 bytes in base64.",
            remediation="Make one with 'isthmus secret new-master-key' (or "
            "'openssl rand -base64 32').",
        )
    return raw


def _file_keys(path: Path) -> list[bytes]:
    lines = [line.strip() for line in path.read_text().splitlines()]
    keys = [parse_key(line, str(path)) for line in lines if line and not line.startswith("#")]
    if not keys:
        raise ConfigurationError(f"The key file {path} holds no key.")
    return keys


def _stamp(path: Path) -> tuple[int, int]:
    """What changes when the key file is replaced (it is replaced whole, never edited)."""
    status = path.stat()
    return status.st_mtime_ns, status.st_ino


def write_key_file(path: Path, keys: list[str]) -> None:
    """Replace the key file in one step (never half written), owner-only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("# first line encrypts; later lines only decrypt (until rekeyed)\n")
        handle.write("".join(key + "\n" for key in keys))
    os.replace(temporary, path)


@dataclass(frozen=True)
class KeySource:
    """Where the keys come from, as the settings say."""

    key: str | None = None  # ISTHMUS_MASTER_KEY
    previous: tuple[str, ...] = ()  # ISTHMUS_MASTER_KEYS_PREVIOUS
    file: Path | None = None  # the key file, when no key is configured
    legacy: str | None = None  # a Fernet key of stores sealed before AES-GCM


class MasterKeys:
    def __init__(self, source: KeySource) -> None:
        self.source = source
        self._legacy = Fernet(source.legacy.encode()) if source.legacy else None
        self._reloaded_at = 0.0  # when an unknown key id last made us read the file
        self._file_stamp: tuple[int, int] | None = None
        self._load()

    @classmethod
    def in_home(cls, home: Path, key: str | None = None, previous: str | None = None,
                file: Path | None = None, legacy: str | None = None) -> MasterKeys:  # fmt: skip
        """The keys as a hub with this home and these settings finds them."""
        older = tuple(k.strip() for k in (previous or "").split(",") if k.strip())
        if key is None:
            file = file or home / "master.key"
            read_or_create(file, new_key)
        old_fernet = home / "vault.key"
        if legacy is None and old_fernet.exists():
            legacy = old_fernet.read_text().strip()
        return cls(KeySource(key, older, None if key else file, legacy))

    def _load(self) -> None:
        source = self.source
        if source.key is not None:
            where = "ISTHMUS_MASTER_KEY"
            keys = [parse_key(source.key, where)]
            keys += [parse_key(k, "ISTHMUS_MASTER_KEYS_PREVIOUS") for k in source.previous]
        else:
            assert source.file is not None
            self._file_stamp = _stamp(source.file)
            keys = _file_keys(source.file)
        self._current = keys[0]
        self._ids = {key_id(k): AESGCM(k) for k in keys}

    def _follow_file(self) -> None:
        """Read the key file again if another process rotated it: a value this process
        seals must be under the file's current key, or a later 'forget-old-keys' would
        strand it."""
        if self.source.file is not None and _stamp(self.source.file) != self._file_stamp:
            self._load()

    @property
    def current_id(self) -> str:
        return key_id(self._current).hex()

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        """Encrypt under the current key; ``context`` (what the value is, e.g. the
        secret's name) is authenticated, so a value moved to another row fails to open."""
        self._follow_file()
        nonce = secrets.token_bytes(NONCE_BYTES)
        ident = key_id(self._current)
        sealed = self._ids[ident].encrypt(nonce, plaintext, context)
        return VERSION + ident + nonce + sealed

    def unseal(self, token: bytes, context: bytes) -> bytes:
        if not token.startswith(VERSION):
            return self._unseal_legacy(token)
        ident, nonce = token[1 : 1 + ID_BYTES], token[1 + ID_BYTES : _HEADER]
        cipher = self._cipher(ident)
        try:
            return cipher.decrypt(nonce, token[_HEADER:], context)
        except InvalidTag as exc:
            raise VaultKeyMismatch("A sealed value failed its integrity check.") from exc

    def sealed_by(self, token: bytes) -> str:
        """The id of the key a value is sealed under ('fernet' for the old format)."""
        return token[1 : 1 + ID_BYTES].hex() if token.startswith(VERSION) else "fernet"

    def is_current(self, token: bytes) -> bool:
        return token.startswith(VERSION + key_id(self._current))

    def _cipher(self, ident: bytes) -> AESGCM:
        cipher = self._ids.get(ident)
        stale = time.monotonic() - self._reloaded_at > _RELOAD_PAUSE_SECONDS
        if cipher is None and self.source.file is not None and stale:
            self._reloaded_at = time.monotonic()
            self._load()  # another process may have rotated the file's key
            cipher = self._ids.get(ident)
        if cipher is None:
            raise VaultKeyMismatch(
                f"A value is sealed under master key {ident.hex()}, which this hub lacks."
            )
        return cipher

    def _unseal_legacy(self, token: bytes) -> bytes:
        if self._legacy is None:
            raise VaultKeyMismatch(
                "A value is sealed in the vault's old format and the old key is not set."
            )
        try:
            return self._legacy.decrypt(token)
        except InvalidToken as exc:
            raise VaultKeyMismatch(
                "A value in the old format was sealed under another key."
            ) from exc

    def rotate_file(self) -> str:
        """A new current key in the key file, the old ones kept for decrypting; the id of
        the new key. Only for keys kept in a file."""
        if self.source.file is None:
            raise ConfigurationError(
                "The master key comes from ISTHMUS_MASTER_KEY, not a file.",
                remediation="Rotate by configuration: add the new key to "
                "ISTHMUS_MASTER_KEYS_PREVIOUS on every hub and restart them; then make it "
                "ISTHMUS_MASTER_KEY (the old one in PREVIOUS) and restart again; then run "
                "'isthmus secret rekey'.",
            )
        old = [base64.urlsafe_b64encode(k).decode() for k in _file_keys(self.source.file)]
        write_key_file(self.source.file, [new_key(), *old])
        self._load()
        return self.current_id

    def forget_old(self) -> None:
        """Keep only the current key in the key file. The caller checks first that
        nothing is sealed under the others (:meth:`Vault.forget_old_keys`)."""
        if self.source.file is not None:
            write_key_file(self.source.file, [base64.urlsafe_b64encode(self._current).decode()])
            self._load()
