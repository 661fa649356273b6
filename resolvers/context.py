"""The per-request context: request id, DataLoaders (built fresh per request), the viewer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from resolvers.loaders import Loaders


@dataclass
class Context:
    request: Any = None
    response: Any = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    loaders: Loaders = field(default_factory=Loaders)
