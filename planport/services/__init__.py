"""Use cases. Every transaction lives here; web, API and CLI call these functions only."""
