"""The flow's ``card`` command: ``card list``, ``card get`` and ``card view``.

A card is named by the task's pathspec (``RUN/STEP/TASK``), by a step (``RUN/STEP``, or
just ``STEP`` for the latest run) when that step has one task, and ``--id`` / ``--type``
pick one card among a task's.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .._cards._access import Card, list_task_cards
from .._exceptions import CommandError, NotFound

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    from .._metadata._records import TaskRecord
    from ._manage import _Context

__all__ = ("add_card_command", "card_command")


def add_card_command(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Add ``card list|get|view`` to a flow's parser.

    :param add: adds a sub-command's parser, as ``add_subparsers().add_parser`` does.
    """
    from ._parser import FlowParser

    card = add("card", help="list, save or open the cards of a task")
    actions = card.add_subparsers(dest="card_action", metavar="ACTION", parser_class=FlowParser)
    actions.required = True
    listing = actions.add_parser("list", help="list the cards of a run, a step or a task")
    listing.add_argument("pathspec", nargs="?", default=None, metavar="[RUN/]STEP[/TASK]")
    get = actions.add_parser("get", help="print a card's HTML, or save it to FILE")
    get.add_argument("pathspec", metavar="[RUN/]STEP[/TASK]")
    get.add_argument("file", nargs="?", default=None, metavar="FILE")
    view = actions.add_parser("view", help="open a card in a web browser")
    view.add_argument("pathspec", metavar="[RUN/]STEP[/TASK]")
    for parser in (listing, get, view):
        parser.add_argument("--id", default=None, help="only the card with this id")
        parser.add_argument("--type", default=None, help="only the cards of this type")


def _latest_run(context: _Context) -> str:
    runs = context.store.list_runs(context.flow, limit=1)
    if not runs:
        raise NotFound(f"{context.flow} has no runs yet: run it first.")
    return runs[0].run_id


def _tasks(context: _Context, pathspec: str | None) -> list[TaskRecord]:
    if pathspec is None:
        run_id = _latest_run(context)
        steps = context.store.list_steps(context.flow, run_id)
        return [t for s in steps for t in context.tasks(f"{run_id}/{s.step}")]
    if "/" not in pathspec.strip("/"):
        pathspec = f"{_latest_run(context)}/{pathspec.strip('/')}"
    return context.tasks(pathspec)


def _cards(context: _Context, task: TaskRecord, args: argparse.Namespace) -> list[Card]:
    blobs, root = context.stores.blobs, context.stores.root
    cards = list_task_cards(blobs, task.pathspec, args.id, args.type, root)
    if not cards and task.origin_pathspec:
        cards = list_task_cards(blobs, task.origin_pathspec, args.id, args.type, root)
    return cards


def _one_card(context: _Context, args: argparse.Namespace) -> Card:
    found = [c for t in _tasks(context, args.pathspec) for c in _cards(context, t, args)]
    if not found:
        raise NotFound(
            f"No card found for {args.pathspec}"
            + (f" with id {args.id}" if args.id else "")
            + (f" of type {args.type}" if args.type else "")
            + f". See the cards with: card list {args.pathspec}"
        )
    if len(found) > 1:
        listed = ", ".join(f"{c.pathspec} {c.type} id={c.id}" for c in found)
        raise CommandError(
            f"{args.pathspec} has {len(found)} cards ({listed}): pick one with the task's "
            "pathspec, --id or --type."
        )
    return found[0]


def card_command(context: _Context, args: argparse.Namespace) -> int:
    """Run ``card list``, ``card get`` or ``card view``."""
    if args.card_action == "list":
        tasks = _tasks(context, args.pathspec)
        shown = 0
        for task in tasks:
            for card in _cards(context, task, args):
                shown += 1
                print(f"{card.pathspec}  type={card.type}  id={card.id or '-'}  {card.path}")
        if not shown:
            print("No cards found.")
        return 0
    card = _one_card(context, args)
    if args.card_action == "get":
        if args.file:
            Path(args.file).write_text(card.get(), encoding="utf-8")
            print(f"Saved the card to {args.file}.")
        else:
            sys.stdout.write(card.get())
        return 0
    opened = card.view()
    print(f"Opened {opened}.")
    return 0
