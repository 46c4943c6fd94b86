"""Runner, NBRunner and ExecutingRun: start and follow runs from Python.

:mod:`._runner` holds :class:`Runner` (the async core and its blocking facade),
:mod:`._executing` the :class:`ExecutingRun` it returns, and :mod:`._notebook`
:class:`NBRunner` with the notebook cell's source for task processes.
"""

from ._executing import ExecutingRun
from ._notebook import NBRunner
from ._runner import Runner

__all__ = ("ExecutingRun", "NBRunner", "Runner")
