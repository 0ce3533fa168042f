"""Use-cases of the compute-network brain: awareness (this package's ``awareness``), ports.

Imports ``measure``, ``security``, ``routing``, ``scheduling`` and ``model`` only; adapters
(twin, storage, execution) implement the Protocols in ``ports`` (DESIGN.md §3).
"""
