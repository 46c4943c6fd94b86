"""``tideflow db``: manage the metadata database.

``tideflow db upgrade [--url URL]`` creates or migrates the tables of a PostgreSQL
metadata store (default: the one ``TIDEFLOW_METADATA_URL`` names). ``tideflow db copy
--from sqlite:///path/metadata.db --to postgresql://...`` copies a local history into
PostgreSQL, run ids and all (default source: the store root's ``metadata.db``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .._config import find_root, load_config
from .._exceptions import CommandError
from .._stores._bundle import open_metadata
from ._parser import FlowParser

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ("db_main",)


def _parser() -> FlowParser:
    parser = FlowParser(prog="tideflow db", description="manage the metadata database")
    commands = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=FlowParser)
    commands.required = True
    upgrade = commands.add_parser("upgrade", help="create or migrate the PostgreSQL tables")
    upgrade.add_argument("--url", default=None, help="default: TIDEFLOW_METADATA_URL")
    copy = commands.add_parser("copy", help="copy a SQLite history into PostgreSQL")
    copy.add_argument(
        "--from", dest="source", default=None, help="sqlite:///path (default: the store root's)"
    )
    copy.add_argument("--to", dest="target", default=None, help="default: TIDEFLOW_METADATA_URL")
    copy.add_argument("--root", default=None, help="the store folder (default: .tideflow)")
    return parser


def _postgres(url: str | None, root: Path, option: str) -> Any:
    from .._metadata._postgres import PostgresMetadataStore

    if url is None:
        raise CommandError(
            f"tideflow db: name the PostgreSQL database with {option} postgresql://... "
            "or TIDEFLOW_METADATA_URL"
        )
    store = open_metadata(url, root=root)
    if not isinstance(store, PostgresMetadataStore):
        store.close()
        raise CommandError(f"tideflow db: {option} must be a postgresql:// URL, not {url!r}")
    return store


def _sqlite_path(url: str | None, root: Path) -> Path:
    if url is None:
        return root / "metadata.db"
    parts = urlsplit(url)
    if parts.scheme != "sqlite" or not (parts.netloc + parts.path):
        raise CommandError(
            f"tideflow db copy: --from must be sqlite:///path/metadata.db, not {url!r}"
        )
    return Path(parts.netloc + parts.path)


def db_main(argv: Sequence[str]) -> int:
    """Run ``tideflow db ACTION ...``; return the exit code."""
    args = _parser().parse_args(list(argv))
    config = load_config(root=getattr(args, "root", None))
    root = find_root(config)
    if args.action == "upgrade":
        with _postgres(args.url or config.metadata_url, root, "--url") as store:
            before, after = store.upgrade()
            if before == after:
                print(f"{store.url} is up to date (schema version {after}).")
            elif before == 0:
                print(f"Created the tideflow tables in {store.url} (schema version {after}).")
            else:
                print(f"Upgraded {store.url} from schema version {before} to {after}.")
        return 0
    from .._metadata._pg_copy import copy_sqlite_to_postgres

    source = _sqlite_path(args.source, root)
    with _postgres(args.target or config.metadata_url, root, "--to") as store:
        result = copy_sqlite_to_postgres(source, store)
        print(
            f"Copied {result.copied} runs from {source} to {store.url}"
            + (f" ({result.skipped} were there already)." if result.skipped else ".")
        )
    return 0
