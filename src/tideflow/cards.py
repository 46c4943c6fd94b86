"""Cards: the components a step appends to its ``@card``\\ s, and reading stored cards.

``from tideflow.cards import Markdown, Table, Image, Artifact, VegaChart, ProgressBar,
get_cards``; see the cards guide.
"""

# Explicit re-exports: `from ._module import Name as Name` marks each name as public.
# ruff: noqa: PLC0414

from ._cards._access import Card as Card
from ._cards._access import CardContainer as CardContainer
from ._cards._access import get_cards as get_cards
from ._cards._components import Artifact as Artifact
from ._cards._components import CardComponent as CardComponent
from ._cards._components import Image as Image
from ._cards._components import Markdown as Markdown
from ._cards._components import ProgressBar as ProgressBar
from ._cards._components import Table as Table
from ._cards._components import VegaChart as VegaChart

__all__ = (
    "Artifact",
    "Card",
    "CardComponent",
    "CardContainer",
    "Image",
    "Markdown",
    "ProgressBar",
    "Table",
    "VegaChart",
    "get_cards",
)

for _value in (
    Artifact,
    Card,
    CardComponent,
    CardContainer,
    Image,
    Markdown,
    ProgressBar,
    Table,
    VegaChart,
    get_cards,
):
    _value.__module__ = __name__
del _value
