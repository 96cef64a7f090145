"""The portal: server-rendered pages over the same view models as the JSON API."""

from sentier.web.app import LoginRequired, install

__all__ = ["LoginRequired", "install"]
