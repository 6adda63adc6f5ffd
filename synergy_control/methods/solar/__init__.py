"""SOLAR: synergy discovery by affinity propagation and synergy-aware modular policies."""
