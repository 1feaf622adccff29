"""Pages of the workspace: signing in and out, members, API keys, your account."""

from planport.web.pages.workspace import account, api_keys, members, sessions

__all__ = ["account", "api_keys", "members", "sessions"]
