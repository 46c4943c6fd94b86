"""The exception tree: families by what to fix, exported from ``tideflow.exception`` and,
for the ones users catch, from ``tideflow``; every class pickles as itself."""

from __future__ import annotations

import pickle

import pytest

import tideflow
import tideflow.exception as exc


@pytest.mark.parametrize(
    ("family", "members"),
    [
        (exc.FlowDefinitionError, [exc.FlowFileNotFound, exc.DecoratorError]),
        (
            exc.UsageError,
            [exc.ParameterError, exc.CommandError, exc.ResumeError, exc.TagError],
        ),
        (exc.ClientLookupError, [exc.NotFound, exc.NamespaceMismatch]),
        (
            exc.RunError,
            [exc.TaskFailed, exc.SecretsError, exc.MergeArtifactsError],
        ),
        (exc.StoreError, [exc.ArtifactError]),
    ],
)
def test_families(family: type[Exception], members: list[type[Exception]]) -> None:
    assert issubclass(family, exc.TideflowError)
    for member in members:
        assert issubclass(member, family), member


def test_builtin_bases_are_kept() -> None:
    assert issubclass(exc.NotFound, LookupError)
    assert issubclass(exc.InvalidPathspec, ValueError)
    assert issubclass(exc.InvalidPathspec, exc.UsageError)
    assert issubclass(exc.FlowFileNotFound, FileNotFoundError)
    assert exc.MergeArtifactsException is exc.MergeArtifactsError
    assert exc.MetaflowException is exc.TideflowError


def test_every_class_of_the_module_is_a_tideflow_error_or_task_exception() -> None:
    for name in exc.__all__:
        value = getattr(exc, name)
        assert issubclass(value, (exc.TideflowError, exc.TaskException)), name
        assert value.__module__ == "tideflow.exception", name


def test_the_package_exports_the_same_classes() -> None:
    for name in ("TideflowError", "UsageError", "RunError", "NotFound", "TaskFailed"):
        assert getattr(tideflow, name) is getattr(exc, name)


@pytest.mark.parametrize(
    "error",
    [
        exc.DecoratorError("@retry: times must be an int >= 0, got -1."),
        exc.FlowDefinitionError("bad", step="start", file="f.py", line=3),
        exc.FlowFileNotFound("missing.py"),
        exc.TaskFailed("F/1/start/1", 0, "ValueError: no", exit_code=1),
        exc.UnhandledInMergeArtifactsException("differ", ["x"]),
        exc.ParameterError("alpha: not a number"),
    ],
)
def test_errors_pickle_as_their_own_class(error: Exception) -> None:
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error)
    assert str(again) == str(error)


def test_sole_exception_unwraps_groups_of_one() -> None:
    """What a task group wraps comes out; a group of several stays as it is."""
    from tideflow._exceptions import sole_exception

    inner = exc.StoreError("the store is gone")
    assert sole_exception(ExceptionGroup("a", [ExceptionGroup("b", [inner])])) is inner
    assert sole_exception(inner) is inner
    several = ExceptionGroup("a", [inner, ValueError("x")])
    assert sole_exception(several) is several
    assert "sole_exception" not in exc.__all__
