"""Generic list/watch caches, indexers, the work queue, rate limiting and leader election.

Knows Kubernetes, knows nothing of AIM (enforced by import-linter).
"""
