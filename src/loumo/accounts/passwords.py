"""The password policy: long enough, not a common password, not the email address."""

from __future__ import annotations

from functools import cache
from importlib import resources

from loumo.accounts.errors import WeakPassword

MIN_PASSWORD_LENGTH = 10


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files("loumo.accounts").joinpath("common_passwords.txt").read_text()
    lines = (line.strip().casefold() for line in text.splitlines())
    return frozenset(line for line in lines if line and not line.startswith("#"))


def check_password_policy(password: str, email: str, field: str = "password") -> None:
    """Length >= 10, not a common password, not the email (or its local part)."""
    folded = password.casefold()
    problem = None
    if len(password) < MIN_PASSWORD_LENGTH:
        problem = f"use at least {MIN_PASSWORD_LENGTH} characters"
    elif folded in common_passwords():
        problem = "this password is too common"
    elif folded in {email.casefold(), email.split("@")[0].casefold()}:
        problem = "the password must not be your email address"
    if problem:
        raise WeakPassword(
            f"The password is too weak: {problem}",
            errors=[{"field": field, "location": "body", "message": problem, "type": "weak"}],
        )
