"""Prometheus collectors and the /metrics, /healthz and /readyz server. Knows nothing of AIM."""
