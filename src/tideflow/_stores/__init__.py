"""The store interfaces, and the one place that builds stores from configuration.

Import from the submodules: :mod:`._interfaces` (the Protocols) and :mod:`._bundle`
(:class:`Stores`, :func:`open_stores`). This package's ``__init__`` imports nothing, so a
backend can import the interfaces without loading every other backend.
"""
