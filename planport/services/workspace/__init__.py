"""The workspace: members and their sessions, who may do what, sign-in throttling, secrets.

- `members`: people, passwords, sessions, the `Actor` a request acts as.
- `access`: roles and grants; every permission check of every feature goes through
  `access.may` / `access.require`.
- `sign_ins`: the per-account and per-address sign-in throttle and its audit trail.
- `secret_box`: the key that encrypts secrets at rest (PLANPORT_SECRET_KEY).

Imports from: domain, store, settings, logs. Nothing of the other features.
"""

from planport.services.workspace import access, members, secret_box, sign_ins
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
    "clean_email",
    "members",
    "secret_box",
    "sign_ins",
]
