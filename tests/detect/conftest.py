"""The detection tests over HTTP use the API's fixtures: an app on both databases, a small
catalog and a token per role."""

from tests.api.conftest import app_engine, client, tokens

__all__ = ["app_engine", "client", "tokens"]
