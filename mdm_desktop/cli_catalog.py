"""``mdm-desktop catalog add-build APP_ID FILE --version V``: add a build of a catalog app from a file.

The file's bytes go into the store (so every workstation and gateway can serve them to devices) with
the SHA-256 computed as they are read; an install command for the app then sends the newest build.
Needs a CLI session whose user may change the catalog.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mdm_desktop.cli_session import EXIT_OK, signed_in


def _app_id(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a catalog app id (a positive number)")
    return int(text)


def add_parsers(commands: Any, store: argparse.ArgumentParser, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add ``catalog`` and its subcommands to the top-level subparsers ``commands``."""
    catalog = commands.add_parser(
        "catalog",
        parents=[store],
        help="app catalog: add a build of an app",
        description="The app catalog. Needs a CLI session (mdm-desktop login).",
    )
    sub = catalog.add_subparsers(title="commands", metavar="COMMAND", required=True, parser_class=parser_class)
    add = sub.add_parser(
        "add-build",
        parents=[store],
        help="store FILE as a new version of catalog app APP_ID",
        description="Store FILE (at most 1 GiB) as version V of catalog app APP_ID. Its SHA-256 is computed as "
        "it is read; devices download it from the gateway by that hash and check it before installing.",
    )
    add.add_argument("app_id", type=_app_id, metavar="APP_ID", help="the catalog app's id")
    add.add_argument("file", type=Path, metavar="FILE", help="the installer or package file")
    add.add_argument("--version", dest="build_version", required=True, metavar="V", help="the build's version")
    add.add_argument("--json", action="store_true", help="print a JSON object")
    add.set_defaults(handler=cmd_catalog_add_build)


def cmd_catalog_add_build(args: argparse.Namespace) -> int:
    """Add a build."""
    with signed_in(args) as (ctx, session):
        info = ctx.services.catalog.add_build(session.principal, args.app_id, args.file, args.build_version)
    if args.json:
        print(
            json.dumps(
                {
                    "id": info.id,
                    "version": info.version,
                    "sha256": info.sha256,
                    "size_bytes": info.size_bytes,
                    "file_name": info.file_name,
                }
            )
        )
    else:
        print(f"Added version {info.version} ({info.size_bytes:,} bytes), SHA-256 {info.sha256}.", file=sys.stdout)
    return EXIT_OK
