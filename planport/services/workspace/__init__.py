"""The workspace: members and their sessions, who may do what, sign-in throttling, secrets.

- `members`: people, passwords, sessions, the `Actor` a request acts as.
- `access`: roles and grants; every permission check of every feature goes through
  `access.may` / `access.require`.
- `sign_ins`: the per-account and per-address sign-in throttle and its audit trail.
- `api_keys`, `allow_lists`: keys for the Import API and the addresses they may be used from.
- `secret_box`: the key that encrypts secrets at rest (PLANPORT_SECRET_KEY).

Imports from: domain, store, settings, logs. Nothing of the other features.
"""

from planport.services.workspace import (
    access,
    allow_lists,
    api_keys,
    members,
    secret_box,
    sign_ins,
)
from planport.services.workspace.access import AccessView, RoleView
from planport.services.workspace.members import Login, MemberView, actor_for, clean_email
from planport.services.workspace.sign_ins import SignInThrottled, SignInView, ThrottlePolicy

__all__ = [
    "AccessView",
    "Login",
    "MemberView",
    "RoleView",
    "SignInThrottled",
    "SignInView",
    "ThrottlePolicy",
    "access",
    "actor_for",
    "allow_lists",
    "api_keys",
    "clean_email",
    "members",
    "secret_box",
    "sign_ins",
]
