"""DataLoaders, one per entity and key, created per request."""

from __future__ import annotations


class Loaders:
    pass
