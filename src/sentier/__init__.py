"""sentier: a self-hosted internal developer platform joined on one spine, the software catalog."""

__version__ = "0.1.0"
