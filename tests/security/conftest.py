"""The security tests use the API's fixtures: an app on both databases and a token per role."""

from tests.api.conftest import app_engine, client, tokens

__all__ = ["app_engine", "client", "tokens"]
