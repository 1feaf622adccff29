"""Failure alerts: when to send them (policy), what they say (messages), how they go out."""
