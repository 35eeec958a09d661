"""What ``aimctl get`` and ``aimctl explain`` show, computed from fetched objects (pure; no I/O).

The CLI fetches objects with the user's credentials (:mod:`aimctl.inspect.fetch`) and hands them to
the pure functions here: the state of one object (:mod:`.state`), the rows of ``get``
(:mod:`.table`), the dependency tree of ``explain`` and its first blocker (:mod:`.tree`), the hint
that says what to do (:mod:`.hints`) and the text rendering (:mod:`.render`).
"""
