"""Pages of the workspace: signing in and out, members, your account."""

from planport.web.pages.workspace import account, members, sessions

__all__ = ["account", "members", "sessions"]
