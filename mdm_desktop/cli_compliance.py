"""``mdm-desktop compliance report --out FILE.csv``: the compliance report for a security officer's files.

One row per device rule that is failing, unknown or exempt (with the exception behind each exemption);
see :mod:`mdm_desktop.services.compliance_report`. Needs a CLI session whose user may read reports.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mdm_desktop.cli_session import EXIT_OK, signed_in


def add_parsers(commands: Any, store: argparse.ArgumentParser, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add ``compliance`` and its subcommands to the top-level subparsers ``commands``."""
    compliance = commands.add_parser(
        "compliance",
        parents=[store],
        help="compliance reports",
        description="Compliance reports. Needs a CLI session (mdm-desktop login).",
    )
    sub = compliance.add_subparsers(title="commands", metavar="COMMAND", required=True, parser_class=parser_class)
    report = sub.add_parser(
        "report",
        parents=[store],
        help="write the compliance report (CSV) to FILE",
        description="Write a CSV with one row per device rule that is failing, unknown or exempt: the device, "
        "the rule, since when it fails, the reason in words, and for an exempt rule the approved exception "
        "behind it. The export is audited.",
    )
    report.add_argument("--out", type=Path, required=True, metavar="FILE", help="the CSV file to write")
    report.add_argument("--force", action="store_true", help="replace FILE if it exists")
    report.add_argument("--json", action="store_true", help="print a JSON object")
    report.set_defaults(handler=cmd_compliance_report)


def cmd_compliance_report(args: argparse.Namespace) -> int:
    """Write the report."""
    with signed_in(args) as (ctx, session):
        result = ctx.services.compliance_report.export(session.principal, args.out, overwrite=args.force)
    if args.json:
        print(
            json.dumps(
                {
                    "path": result.path,
                    "rows": result.rows,
                    "devices": result.devices,
                    "exempt": result.exempt,
                    "sha256": result.sha256,
                }
            )
        )
    else:
        print(f"Wrote {result.path}: {result.describe()}. SHA-256 {result.sha256}.")
    return EXIT_OK
