"""The client API: read every past and running flow, run, step, task and artifact.

``Flow``, ``Run``, ``Step``, ``Task`` and ``DataArtifact`` block their caller for the
length of a store read; ``AsyncFlow``, ``AsyncRun``, ``AsyncStep``, ``AsyncTask`` and
``AsyncDataArtifact`` do the same reads in worker threads, under asyncio or trio. See the
client guide for the object hierarchy, namespaces and tags.
"""

# The names and their list are those of the private package, written once there.
from ._client import *
from ._client import __all__

# Names that tideflow's own __init__ does not export still show this module, not a private
# one, in reprs, tracebacks and pickles.
for _value in [globals()[_name] for _name in __all__]:
    if getattr(_value, "__module__", "").startswith("tideflow._"):
        _value.__module__ = __name__
del _value
