"""The command line: ``python myflow.py COMMAND`` and the ``tideflow`` console command.

:func:`main` and :func:`flow_main` parse arguments, call the async core with
``anyio.run``, and map errors to one line and an exit code (``--traceback`` shows the
whole traceback). Only here is Ctrl-C turned into a cancellation of the run.
"""

from ._main import flow_main, main

__all__ = ("flow_main", "main")
