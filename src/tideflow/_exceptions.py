"""The exceptions tideflow raises, grouped by what a user does about them.

Every exception derives from :class:`TideflowError`; its families say what to fix::

    TideflowError
    ├── FlowDefinitionError        the flow is wrong: fix the flow (step, file, line, fix)
    │   ├── FlowFileNotFound       the flow file does not exist (also a FileNotFoundError)
    │   └── DecoratorError         an unknown step decorator or a bad decorator argument
    ├── UsageError                 a call, option or value is wrong: fix the call
    │   ├── ParameterError         a parameter value is missing or has the wrong form
    │   ├── CommandError           a command-line usage error
    │   ├── ResumeError            a run cannot be resumed as asked
    │   ├── TagError               a tag operation breaks the tag rules
    │   └── InvalidPathspec (ValueError)  a pathspec does not have the expected shape
    ├── ClientLookupError          the client cannot give that object: check its name
    │   ├── NotFound (LookupError) a flow, run, step, task or artifact does not exist
    │   └── NamespaceMismatch      an object is outside the current namespace
    ├── RunError                   something failed inside a run: see the task's error
    │   ├── TaskFailed             a task attempt raised (pathspec, attempt, traceback text)
    │   ├── SecretsError           a @secrets source cannot be read
    │   └── MergeArtifactsError    merge_artifacts() cannot merge (MergeArtifactsException)
    │       ├── UnhandledInMergeArtifactsException  values differ between inputs
    │       └── MissingInMergeArtifactsException    include= names an artifact no input has
    ├── StoreError                 a store cannot be opened or reached (bad URL, server down)
    │   └── ArtifactError          an artifact cannot be stored or loaded
    └── TideflowInternalError      a bug in tideflow: please report it

:class:`TaskException` is apart: it is not raised by tideflow but describes what a failed
task raised, as recorded (``task.exception``).
"""

from __future__ import annotations

import errno

__all__ = (
    "ArtifactError",
    "ClientLookupError",
    "CommandError",
    "DecoratorError",
    "FlowDefinitionError",
    "FlowFileNotFound",
    "InvalidPathspec",
    "MergeArtifactsError",
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


class TideflowError(Exception):
    """Base class of every error tideflow raises on purpose."""


def sole_exception(error: BaseException) -> BaseException:
    """``error`` out of the exception groups of one exception each that wrap it (a task
    group wraps what its task raised): the one exception inside, or ``error`` itself."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


class UsageError(TideflowError):
    """A call, an option or a value given to tideflow is wrong; nothing was started or
    changed. The message names the problem and the fix."""


class ClientLookupError(TideflowError):
    """The client cannot give the object asked for: it does not exist, or it is outside
    the current namespace."""


class RunError(TideflowError):
    """Something failed inside a run: a task, or what a step asked of tideflow."""


class TaskException(Exception):
    """What a failed task raised, as recorded: ``task.exception``, and the value of
    ``@catch(var=...)``.

    ``type`` is the exception's class with its module (``builtins.ValueError``,
    ``mymodule.MyError``), ``exception`` its message and ``stacktrace`` the formatted
    traceback from inside the task; ``message`` and ``traceback`` are other names for
    the last two. ``str()`` gives ``"ValueError: message"``. The original exception
    object is not kept: its class may not be importable where it is read.
    """

    def __init__(self, type: str, message: str, traceback: str) -> None:
        super().__init__(type, message, traceback)
        self.type = _qualified(type)
        self.exception = self.message = message
        self.stacktrace = self.traceback = traceback

    def __str__(self) -> str:
        name = self.type.removeprefix("builtins.")
        return f"{name}: {self.message}" if self.message else name


def _qualified(name: str) -> str:
    """``builtins.ValueError`` for ``ValueError``; other names as they are."""
    import builtins

    if "." not in name and isinstance(getattr(builtins, name, None), type):
        return f"builtins.{name}"
    return name


class FlowDefinitionError(TideflowError):
    """The flow class or its graph is invalid.

    The message names the step, the file and the line, and says how to fix it.
    """

    def __init__(
        self,
        message: str,
        *,
        step: str | None = None,
        file: str | None = None,
        line: int | None = None,
    ) -> None:
        super().__init__(message, step, file, line)
        self.message = message
        self.step = step
        self.file = file
        self.line = line

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_definition_error,
            (type(self), self.message, self.step, self.file, self.line),
        )

    def __str__(self) -> str:
        where = []
        if self.file is not None:
            where.append(f"{self.file}" + (f", line {self.line}" if self.line else ""))
        if self.step is not None:
            where.append(f"step '{self.step}'")
        prefix = f"{' in '.join(reversed(where))}: " if where else ""
        return prefix + self.message


def _rebuild_definition_error(
    cls: type[FlowDefinitionError],
    message: str,
    step: str | None,
    file: str | None,
    line: int | None,
) -> FlowDefinitionError:
    return cls(message, step=step, file=file, line=line)


class FlowFileNotFound(FlowDefinitionError, FileNotFoundError):
    """The flow file given to ``Runner`` or the command line does not exist.

    It is a :exc:`FileNotFoundError` too, whose ``filename`` is the missing path.

    :param path: the path that was looked for.
    """

    def __init__(self, path: str) -> None:
        message = (
            f"Flow file {path} does not exist. Pass the path of a .py file that defines a "
            "FlowSpec subclass."
        )
        OSError.__init__(self, errno.ENOENT, message, path)
        self.message = message
        self.step = None
        self.file = path
        self.line = None

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.file,))

    def __str__(self) -> str:
        return self.message


class ParameterError(UsageError):
    """A parameter value is missing, unknown or has the wrong form."""


class DecoratorError(FlowDefinitionError):
    """A step decorator is unknown or got a bad argument."""


class StoreError(TideflowError):
    """A store cannot be opened or reached: an unknown URL scheme, a missing optional extra,
    a server that is down or refuses the credentials.
    """


class ArtifactError(StoreError):
    """An artifact cannot be stored or loaded."""


class MergeArtifactsError(RunError):
    """``merge_artifacts()`` cannot merge; nothing was merged.

    ``artifact_names`` lists the artifacts at fault. The reference API calls this class
    ``MergeArtifactsException``.
    """

    def __init__(self, message: str, artifact_names: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.artifact_names = list(artifact_names or [])

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.message, self.artifact_names))

    def __str__(self) -> str:
        return self.message


class UnhandledInMergeArtifactsException(MergeArtifactsError):
    """``merge_artifacts()`` met artifacts whose values differ between the inputs."""


class MissingInMergeArtifactsException(MergeArtifactsError):
    """``merge_artifacts(include=...)`` names artifacts that no input has."""


class TaskFailed(RunError):
    """A task attempt failed.

    Carries the task's pathspec, the attempt number, the exit code (when the process
    exited abnormally) and the text of the traceback raised inside the task.
    """

    def __init__(
        self,
        pathspec: str,
        attempt: int,
        message: str,
        *,
        exit_code: int | None = None,
        traceback: str | None = None,
    ) -> None:
        super().__init__(pathspec, attempt, message, exit_code, traceback)
        self.pathspec = pathspec
        self.attempt = attempt
        self.message = message
        self.exit_code = exit_code
        self.traceback = traceback

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_task_failed,
            (self.pathspec, self.attempt, self.message, self.exit_code, self.traceback),
        )

    def __str__(self) -> str:
        return f"Task {self.pathspec} (attempt {self.attempt}) failed: {self.message}"


def _rebuild_task_failed(
    pathspec: str, attempt: int, message: str, exit_code: int | None, traceback: str | None
) -> TaskFailed:
    return TaskFailed(pathspec, attempt, message, exit_code=exit_code, traceback=traceback)


class ResumeError(UsageError):
    """A run cannot be resumed as asked (unknown origin run, changed graph, ...)."""


class CommandError(UsageError):
    """A command-line usage error: an unknown command, option or argument."""


class NotFound(ClientLookupError, LookupError):
    """A flow, run, step, task or artifact does not exist."""


class InvalidPathspec(UsageError, ValueError):
    """A pathspec does not have the shape the object expects."""


class NamespaceMismatch(ClientLookupError):
    """An object exists but is outside the current namespace."""


class SecretsError(RunError):
    """A ``@secrets`` source cannot be read, or gives a malformed secret."""


class TagError(UsageError):
    """A tag operation breaks the tag rules (system tag removal, length, count)."""


class TideflowInternalError(TideflowError):
    """An internal invariant was broken: this is a bug in tideflow, please report it."""


def _show_public_module() -> None:
    # Tracebacks, also those printed inside task processes, name tideflow.exception.X.
    for name in __all__:
        globals()[name].__module__ = "tideflow.exception"


_show_public_module()
