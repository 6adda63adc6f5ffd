"""Settings fields with range checks, and the error that names the key (no package imports).

A training config, a policy builder's ``Settings`` and a hook's ``Settings`` are dataclasses
whose fields are declared with :func:`option`; the config loader checks each value against its
field's range and raises :class:`ConfigError` naming the key. They live on the ground floor so
that the policies, the hooks and the methods can declare settings without importing the
trainer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field
from typing import Any

Check = tuple[str, Callable[[Any], bool]]
NONNEG: Check = ('>= 0', lambda v: v >= 0)
POSITIVE: Check = ('> 0', lambda v: v > 0)
UNIT: Check = ('in [0, 1]', lambda v: 0 <= v <= 1)
TAU: Check = ('in (0, 1]', lambda v: 0 < v <= 1)
WIDTHS: Check = ('each > 0 (non-empty)', lambda v: len(v) > 0 and min(v) > 0)


class ConfigError(ValueError):
    """A configuration value that would make training fail or misbehave."""


def option(default: Any, check: Check | None = None) -> Any:
    """Declare a field with a default and an optional range check (description, test)."""
    kwargs = {'default_factory': lambda: list(default)} if isinstance(default, list) else {
        'default': default}
    return field(metadata={'check': check}, **kwargs)
