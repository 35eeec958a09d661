"""The Kubernetes client layer: client construction, server-side apply, status writes, events.

Built on :mod:`informers.rest` (raw dicts, a timeout on every request, a client-side token bucket and
a bound on in-flight writes). See ``docs/architecture.md`` ("The client layer").
"""
