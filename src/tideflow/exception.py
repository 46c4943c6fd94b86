"""The exceptions tideflow raises, and the reference API's names for them.

Every class derives from :class:`TideflowError`, in families that say what to fix
(:mod:`tideflow._exceptions` draws the tree): :class:`FlowDefinitionError` (the flow),
:class:`UsageError` (the call), :class:`ClientLookupError` (the object's name),
:class:`RunError` (inside a run) and :class:`StoreError` (a store). The families and the
errors users catch most are importable from ``tideflow`` too. Code ported from the
reference API can keep catching ``MetaflowNotFound``, ``MetaflowNamespaceMismatch``,
``MetaflowInvalidPathspec``, ``MetaflowTaggingError``, ``MetaflowException`` and
``MergeArtifactsException``: they are other names for :class:`NotFound`,
:class:`NamespaceMismatch`, :class:`InvalidPathspec`, :class:`TagError`,
:class:`TideflowError` and :class:`MergeArtifactsError`.
"""

# Every class of the tree, under the names (and in the list) of the private module.
from . import _exceptions
from ._exceptions import *

#: The reference API's name for :class:`NotFound`.
MetaflowNotFound = NotFound
#: The reference API's name for :class:`NamespaceMismatch`.
MetaflowNamespaceMismatch = NamespaceMismatch
#: The reference API's name for :class:`InvalidPathspec`.
MetaflowInvalidPathspec = InvalidPathspec
#: The reference API's name for :class:`TagError`.
MetaflowTaggingError = TagError
#: The reference API's name for :class:`TideflowError`.
MetaflowException = TideflowError
#: The reference API's name for :class:`MergeArtifactsError`, the base of
#: :class:`UnhandledInMergeArtifactsException` and :class:`MissingInMergeArtifactsException`.
MergeArtifactsException = MergeArtifactsError

__all__: tuple[str, ...] = (
    "MergeArtifactsException",
    "MetaflowException",
    "MetaflowInvalidPathspec",
    "MetaflowNamespaceMismatch",
    "MetaflowNotFound",
    "MetaflowTaggingError",
)
__all__ += _exceptions.__all__
