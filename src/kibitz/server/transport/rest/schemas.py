"""Request bodies of the REST API, as pydantic models mirroring Agora's JSON.

Extra fields are ignored (clients send more than they need, e.g. the Web SDK's
``timestamp`` in the password grant); wrong types are refused rather than coerced where a
coercion would hide a bug (a number where a username belongs).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictStr

__all__ = [
    "ClientCredentialsGrant",
    "Grant",
    "InheritGrant",
    "NewPassword",
    "PasswordGrant",
    "UserSpec",
    "Usernames",
]


def _ttl(value: Any) -> Any:
    """Seconds as a JSON number or a string of digits (Easemob's examples use both)."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise ValueError("ttl must be a whole number of seconds")


Ttl = Annotated[int | None, BeforeValidator(_ttl)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Grant(_Body):
    grant_type: StrictStr


class ClientCredentialsGrant(_Body):
    client_id: StrictStr
    client_secret: StrictStr
    ttl: Ttl = None


class PasswordGrant(_Body):
    username: StrictStr
    password: StrictStr
    ttl: Ttl = None


class InheritGrant(_Body):
    username: StrictStr
    autoCreateUser: StrictBool = False
    ttl: Ttl = None


class UserSpec(_Body):
    username: StrictStr
    password: StrictStr | None = None
    nickname: StrictStr | None = None


class NewPassword(_Body):
    newpassword: StrictStr


class Usernames(_Body):
    usernames: list[StrictStr] = Field(max_length=100)
