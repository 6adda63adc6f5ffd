"""Named entries registered by decorator: the policy builders and the trainer hooks use it.

A built-in name maps to the module that registers it, imported the first time the name is
asked for, so that naming a method in a config loads it without this package importing every
method up front.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar('T')


class Registry(Generic[T]):
    """Named entries, registered by decorator; built-in names import their module on demand."""

    def __init__(self, kind: str, builtin: dict[str, str]):
        self.kind, self.builtin = kind, builtin
        self.entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Return a decorator that registers its class under ``name`` (a name is taken once)."""
        def add(entry: T) -> T:
            if name in self.entries and self.entries[name] is not entry:
                raise ValueError(f"{self.kind} '{name}' is already registered")
            self.entries[name] = entry
            return entry
        return add

    def get(self, name: str) -> T:
        """Return the entry of ``name``; ValueError naming the known ones otherwise."""
        if name not in self.entries and name in self.builtin:
            importlib.import_module(self.builtin[name])
        if name not in self.entries:
            raise ValueError(f"unknown {self.kind} '{name}' (known: {', '.join(self.names())})")
        return self.entries[name]

    def names(self) -> list[str]:
        """Return the registered and built-in names."""
        return sorted(set(self.entries) | set(self.builtin))
