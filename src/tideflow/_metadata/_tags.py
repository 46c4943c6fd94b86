"""The rules a run's tags follow, as pure functions.

A tag is a non-empty string of at most :data:`MAX_TAG_LENGTH` characters. A run has system
tags (set when it starts, never removed) and at most :data:`MAX_USER_TAGS` user tags.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .._exceptions import TagError

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = (
    "MAX_TAG_LENGTH",
    "MAX_USER_TAGS",
    "check_tags",
    "edit_user_tags",
    "one_tag",
    "some_tags",
)

MAX_TAG_LENGTH: Final = 500
MAX_USER_TAGS: Final = 50


def check_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """Return ``tags`` without duplicates, in their order, after checking each one.

    :raises TagError: if ``tags`` is a single string, or a tag is not a string, is empty or
        is too long.
    """
    if isinstance(tags, str | bytes):
        raise TagError(
            f"Tags must be a list of strings, not a single {type(tags).__name__}: "
            f"pass [{tags!r}] for one tag."
        )
    tags = list(tags)  # a generator must survive being read twice
    for tag in tags:
        if not isinstance(tag, str):
            raise TagError(
                f"Tag {tag!r} is not a string ({type(tag).__name__}). Tags are non-empty "
                f"strings of at most {MAX_TAG_LENGTH} characters."
            )
        if not tag:
            raise TagError(
                f"A tag cannot be empty. Tags are non-empty strings of at most "
                f"{MAX_TAG_LENGTH} characters."
            )
        if len(tag) > MAX_TAG_LENGTH:
            raise TagError(
                f"Tag '{tag[:20]}...' is {len(tag)} characters long. Tags are non-empty "
                f"strings of at most {MAX_TAG_LENGTH} characters."
            )
    return tuple(dict.fromkeys(tags))


def one_tag(method: str, tag: object) -> str:
    """The argument of a single-tag method (``add_tag``, ``remove_tag``, ``replace_tag``).

    :raises TagError: if it is not a string (a list, for example: the plural method takes
        those).
    """
    if not isinstance(tag, str):
        plural = method.replace("_tag", "_tags")
        raise TagError(
            f"{method}() takes one tag, as a string, not {type(tag).__name__} {tag!r}. "
            f"To pass several tags, call {plural}([...])."
        )
    return tag


def some_tags(remove: Iterable[str], add: Iterable[str]) -> tuple[list[str], list[str]]:
    """The arguments of ``replace_tags``, read once.

    :raises TagError: if there is no tag to remove and none to add.
    """
    removed = list(check_tags(remove))
    added = list(check_tags(add))
    if not removed and not added:
        raise TagError(
            "replace_tags() was given no tag to remove and no tag to add: pass at least one."
        )
    return removed, added


def edit_user_tags(
    run: str,
    system: frozenset[str],
    user: frozenset[str],
    *,
    remove: tuple[str, ...] = (),
    add: tuple[str, ...] = (),
) -> frozenset[str]:
    """Return a run's user tags after removing ``remove`` and then adding ``add``.

    ``run`` names the run in messages, such as ``"Run 'Flow/12'"``.

    Adding a tag the run has as a system tag changes nothing; removing a user tag the run
    does not have changes nothing.

    :raises TagError: if ``remove`` holds a system tag, or the run would have more than
        :data:`MAX_USER_TAGS` user tags.
    """
    if protected := [tag for tag in remove if tag in system]:
        raise TagError(
            f"Tag '{protected[0]}' of {run[0].lower()}{run[1:]} is a system tag and cannot be "
            "removed. Only user tags can be removed."
        )
    result = (user - frozenset(remove)) | (frozenset(add) - system)
    if len(result) > MAX_USER_TAGS:
        raise TagError(
            f"{run} would have {len(result)} user tags, but a run can have at most "
            f"{MAX_USER_TAGS}. Remove some tags first."
        )
    return result
