"""Cards: HTML reports of a task, made with ``@card`` and ``current.card``.

:mod:`._components` holds the components, :mod:`._render` the pages, :mod:`._store` where
they are kept, :mod:`._collector` ``current.card``, :mod:`._task` the task-side rendering
and :mod:`._access` the readers (``get_cards``, the ``card`` command, the UI).
"""
