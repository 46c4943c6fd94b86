"""``@project``: a flow-level decorator that puts a flow's runs in a project and a branch.

Runs of a ``@project(name="recs")`` flow belong to a branch: ``user.<username>`` by
default, ``test.<branch>`` with ``--branch NAME``, ``prod`` with ``--production`` and
``prod.<branch>`` with both. Steps read them from ``current.project_name``,
``current.branch_name``, ``current.is_production`` and ``current.project_flow_name``
(``recs.user.alice.TrainFlow``), and each run carries the system tags
``project:<name>`` and ``project_branch:<branch>``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from .._exceptions import FlowDefinitionError, ParameterError
from ._config import DelayedValue, resolve_delayed

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = (
    "ProjectInfo",
    "check_project_options",
    "has_project",
    "project",
    "project_from_tags",
    "project_info",
    "project_tags",
)

T = TypeVar("T", bound=type)

_ATTR = "__tf_project__"
_NAME = re.compile(r"^[a-z0-9_]+$")
_BRANCH = re.compile(r"^[A-Za-z0-9_.-]+$")
#: The longest project or branch name (the reference's limit for deployments).
MAX_LENGTH = 128


def project(
    cls: Any = None,
    /,
    *,
    name: str | None = None,
    branch: str | None = None,
    production: bool = False,
) -> Any:
    """Put the flow in the project ``name``: ``@project(name="recs")`` above the class.

    Each argument may come from the flow's configs (``name=config_expr("cfg.project")``);
    it is then checked when the run starts.

    :param name: lowercase letters, digits and ``_``.
    :param branch: the branch runs go to when ``--branch`` is not given.
    :param production: run on the production branch unless told otherwise.
    :raises FlowDefinitionError: for a missing or malformed name, or a use on a non-class.
    """
    if cls is not None:
        raise FlowDefinitionError(
            'Write @project(name="..."), with the name of the project, above the flow class.'
        )
    if not isinstance(name, DelayedValue):
        _check_name(name, FlowDefinitionError)
    if branch is not None and not isinstance(branch, DelayedValue):
        _check_branch(branch, FlowDefinitionError, "@project: branch")
    settings = (name, branch, production)

    def attach(flow_cls: T) -> T:
        if not isinstance(flow_cls, type):
            raise FlowDefinitionError("@project decorates a FlowSpec subclass.")
        type.__setattr__(flow_cls, _ATTR, settings)
        return flow_cls

    return attach


def _check_name(name: Any, error: type[Exception]) -> None:
    if not isinstance(name, str) or not _NAME.match(name) or len(name) > MAX_LENGTH:
        raise error(
            f"@project: name must be lowercase letters, digits and _ (at most {MAX_LENGTH} "
            f'characters), as in @project(name="my_project"); got {name!r}.'
        )


def _check_branch(branch: Any, error: type[Exception], what: str = "--branch") -> None:
    if not isinstance(branch, str) or not _BRANCH.match(branch) or len(branch) > MAX_LENGTH:
        raise error(
            f"{what} takes letters, digits, '.', '-' and '_' (at most {MAX_LENGTH} "
            f"characters); got {branch!r}."
        )


def has_project(cls: type) -> bool:
    """Whether the flow class is decorated with ``@project``."""
    return isinstance(getattr(cls, _ATTR, None), tuple)


def check_project_options(cls: type, branch: str | None, production: bool) -> None:
    """Refuse ``--branch``/``--production`` on a flow without ``@project``, or a bad branch.

    :raises ParameterError: naming the option and the fix.
    """
    if not has_project(cls):
        if branch is not None or production:
            option = "--branch" if branch is not None else "--production"
            raise ParameterError(
                f"{option} applies to flows decorated with @project only: add "
                f'@project(name="...") to {cls.__name__}, or leave {option} out.'
            )
        return
    if branch is not None:
        _check_branch(branch, ParameterError)


def _settings(cls: type, scope: Mapping[str, Any]) -> tuple[str, str | None, bool]:
    """The decorator's name, branch and production flag, config-derived ones evaluated."""
    name, branch, production = (resolve_delayed(v, scope) for v in getattr(cls, _ATTR))
    _check_name(name, ParameterError)
    if branch is not None:
        _check_branch(branch, ParameterError, "@project: branch")
    return name, branch, bool(production)


class ProjectInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A run's project, branch and whether the branch is a production one."""

    project_name: str
    branch_name: str
    is_production: bool
    flow_name: str

    @property
    def project_flow_name(self) -> str:
        """``<project>.<branch>.<FlowName>``."""
        return f"{self.project_name}.{self.branch_name}.{self.flow_name}"


def project_info(
    cls: type,
    username: str,
    branch: str | None = None,
    production: bool = False,
    scope: Mapping[str, Any] | None = None,
) -> ProjectInfo | None:
    """The project and branch of a run of ``cls``; ``None`` when it has no ``@project``.

    ``scope`` holds the run's configs, for decorator arguments that come from them.

    :raises ParameterError: for ``branch``/``production`` on a flow without ``@project``,
        or a malformed name or branch.
    """
    check_project_options(cls, branch, production)
    if not has_project(cls):
        return None
    name, default_branch, default_production = _settings(cls, scope or {})
    branch = default_branch if branch is None else branch
    production = production or default_production
    if production:
        branch_name = f"prod.{branch}" if branch else "prod"
    elif branch:
        branch_name = f"test.{branch}"
    else:
        branch_name = f"user.{username}"
    return ProjectInfo(
        project_name=name,
        branch_name=branch_name,
        is_production=production,
        flow_name=cls.__name__,
    )


def project_tags(info: ProjectInfo | None) -> tuple[str, ...]:
    """The system tags of a run in a project."""
    if info is None:
        return ()
    return (f"project:{info.project_name}", f"project_branch:{info.branch_name}")


def project_from_tags(flow_name: str, tags: tuple[str, ...]) -> ProjectInfo | None:
    """The project of a run, read back from its system tags (in a task process)."""
    found = dict(tag.split(":", 1) for tag in tags if tag.startswith("project"))
    name, branch = found.get("project"), found.get("project_branch")
    if name is None or branch is None:
        return None
    return ProjectInfo(
        project_name=name,
        branch_name=branch,
        is_production=branch == "prod" or branch.startswith("prod."),
        flow_name=flow_name,
    )
