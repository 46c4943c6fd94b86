"""The public modules export exactly what their ``__all__`` says, under their own names."""

from __future__ import annotations

import importlib
import pickle
import pkgutil

import pytest

import tideflow

PUBLIC_MODULES = [
    "tideflow",
    *(
        f"tideflow.{info.name}"
        for info in pkgutil.iter_modules(tideflow.__path__)
        if not info.name.startswith("_")
    ),
]


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_all_lists_every_public_name(module_name: str) -> None:
    """Every name in ``__all__`` exists, and every public attribute is in ``__all__``."""
    module = importlib.import_module(module_name)
    exported = set(module.__all__)
    assert isinstance(module.__all__, tuple)
    for name in exported:
        assert hasattr(module, name), f"{module_name}.{name} is in __all__ but missing"
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, type(importlib))
        and name not in ("annotations", "TYPE_CHECKING")
    }
    assert public <= exported | {"annotations"}, sorted(public - exported)


def test_classes_show_the_public_module() -> None:
    """Public classes and functions name ``tideflow``, not a private module; exceptions
    name ``tideflow.exception``, where they are documented and which tracebacks print."""
    for name in tideflow.__all__:
        value = getattr(tideflow, name)
        if isinstance(value, type):
            home = "tideflow.exception" if issubclass(value, BaseException) else "tideflow"
            assert value.__module__ == home, name


def test_public_classes_pickle_by_their_public_name() -> None:
    """A pickled public class refers to ``tideflow.<name>`` and loads back."""
    assert pickle.loads(pickle.dumps(tideflow.FlowSpec)) is tideflow.FlowSpec
    assert pickle.loads(pickle.dumps(tideflow.JSONType)) is tideflow.JSONType


def test_every_public_name_has_a_docstring() -> None:
    """Every exported class and function documents itself."""
    for name in tideflow.__all__:
        value = getattr(tideflow, name)
        if isinstance(value, type) or callable(value):
            assert (value.__doc__ or "").strip(), f"tideflow.{name} has no docstring"
