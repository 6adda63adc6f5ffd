"""Policy architectures: a registry of builders that make actors and critics for robots."""

from synergy_control.policies.registry import (POLICIES, PolicyBuilder, PolicyContext, get_policy,
                                               register_policy)

__all__ = ['POLICIES', 'PolicyBuilder', 'PolicyContext', 'get_policy', 'register_policy']
