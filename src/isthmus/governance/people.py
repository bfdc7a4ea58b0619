"""Who acts: the admin token's holder, the command line, or a person signed in to the
portal — and what each may do. Ownership follows ``metadata.owner``: a person owns a
resource that names them or one of their teams.

Passwords are hashed with scrypt (memory-hard, in the standard library), salted, with
the parameters stored beside the hash so they can be raised later.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field

from isthmus.errors import FatalError, Unauthenticated
from isthmus.model import Resource
from isthmus.store.users import StoredUser, UserRepository

_N, _R, _P = 2**14, 8, 1  # 16 MiB per hash: about 50 ms here, slow enough to guess badly
USER_NAME = re.compile(r"^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$")
MIN_PASSWORD = 10


class NotOwner(FatalError):
    status = 403
    code = "not-owner"
    title = "Only its owner may do this"
    remediation = "Ask the owner named in the resource's metadata.owner (or an admin)."


class WeakPassword(FatalError):
    status = 422
    code = "weak-password"
    title = "The password is too short"
    remediation = f"Use at least {MIN_PASSWORD} characters; a phrase of several words is best."


@dataclass(frozen=True)
class Principal:
    name: str
    display_name: str = ""
    teams: frozenset[str] = field(default_factory=frozenset)
    admin: bool = False
    session_epoch: int = 0

    def owns(self, resource: Resource) -> bool:
        owner = resource.metadata.owner
        return self.admin or (owner is not None and owner in ({self.name} | self.teams))

    def require_owner(self, resource: Resource, doing: str) -> None:
        if not self.owns(resource):
            owner = resource.metadata.owner or "nobody"
            raise NotOwner(
                f"Only {resource.kind} '{resource.metadata.name}''s owner ({owner}) may {doing}."
            )


ADMIN = Principal("admin", "Administrator", admin=True)


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise WeakPassword(f"The password has {len(password)} characters.")
    salt = secrets.token_bytes(16)
    derived = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P)
    encode = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${encode(salt).decode()}${encode(derived).decode()}"


def password_matches(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        derived = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(derived, base64.b64decode(expected))


# Checked against when the user does not exist, so a wrong name costs as long as a
# wrong password (no telling which names exist by timing).
_DECOY = hash_password("decoy-password-never-matches")


def principal_of(user: StoredUser) -> Principal:
    return Principal(
        user.name, user.display_name, frozenset(user.teams), user.admin, user.session_epoch
    )


async def sign_in(users: UserRepository, name: str, password: str) -> Principal:
    user = await users.get(name.strip().lower())
    stored = user.password_hash if user is not None else _DECOY
    if not password_matches(password, stored) or user is None:
        raise Unauthenticated(
            "The name or the password is wrong.",
            remediation="Check both; an admin can set a new password with "
            "'isthmus user password NAME'.",
        )
    return principal_of(user)
