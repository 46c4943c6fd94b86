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

# Explicit re-exports: `from ._module import Name as Name` marks each name as public.
# ruff: noqa: PLC0414

from ._exceptions import ArtifactError as ArtifactError
from ._exceptions import ClientLookupError as ClientLookupError
from ._exceptions import CommandError as CommandError
from ._exceptions import DecoratorError as DecoratorError
from ._exceptions import FlowDefinitionError as FlowDefinitionError
from ._exceptions import FlowFileNotFound as FlowFileNotFound
from ._exceptions import InvalidPathspec as InvalidPathspec
from ._exceptions import MergeArtifactsError as MergeArtifactsError
from ._exceptions import (
    MissingInMergeArtifactsException as MissingInMergeArtifactsException,
)
from ._exceptions import NamespaceMismatch as NamespaceMismatch
from ._exceptions import NotFound as NotFound
from ._exceptions import ParameterError as ParameterError
from ._exceptions import ResumeError as ResumeError
from ._exceptions import RunError as RunError
from ._exceptions import SecretsError as SecretsError
from ._exceptions import StoreError as StoreError
from ._exceptions import TagError as TagError
from ._exceptions import TaskException as TaskException
from ._exceptions import TaskFailed as TaskFailed
from ._exceptions import TideflowError as TideflowError
from ._exceptions import TideflowInternalError as TideflowInternalError
from ._exceptions import (
    UnhandledInMergeArtifactsException as UnhandledInMergeArtifactsException,
)
from ._exceptions import UsageError as UsageError

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

__all__ = (
    "ArtifactError",
    "ClientLookupError",
    "CommandError",
    "DecoratorError",
    "FlowDefinitionError",
    "FlowFileNotFound",
    "InvalidPathspec",
    "MergeArtifactsError",
    "MergeArtifactsException",
    "MetaflowException",
    "MetaflowInvalidPathspec",
    "MetaflowNamespaceMismatch",
    "MetaflowNotFound",
    "MetaflowTaggingError",
    "MissingInMergeArtifactsException",
    "NamespaceMismatch",
    "NotFound",
    "ParameterError",
    "ResumeError",
    "RunError",
    "SecretsError",
    "StoreError",
    "TagError",
    "TaskException",
    "TaskFailed",
    "TideflowError",
    "TideflowInternalError",
    "UnhandledInMergeArtifactsException",
    "UsageError",
)
