"""``mdm-desktop policy baselines|create|export|import``: policies from the command line.

``baselines`` lists the built-in baselines with the rules each setting cites (no session needed).
``create --from-baseline NAME`` creates a policy whose draft is that baseline. ``export NAME --format
mobileconfig|android --out FILE`` writes a published version as an Apple configuration profile
(optionally signed with ``--sign``: the site CA, or ``--sign-cert``/``--sign-key``) or an Android
Management API policy, and prints what the file could not state. These need a CLI session whose user
may read (export) or change (create, import, signing with the site CA) policies. ``import FILE``
creates a policy from a file written by ``export --format settings``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mdm_desktop.cli_session import EXIT_OK, signed_in
from mdm_desktop.domain.errors import ValidationError
from mdm_desktop.domain.policy_baselines import BASELINES
from mdm_desktop.domain.policy_settings import spec
from mdm_desktop.exports.report import ExportFormat
from mdm_desktop.exports.settings_json import MAX_FILE_BYTES
from mdm_desktop.services.policy_exports import SigningRequest
from mdm_desktop.services.policy_imports import ImportFormat, read_policy_file


def add_parsers(commands: Any, store: argparse.ArgumentParser, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add ``policy`` and its subcommands to the top-level subparsers ``commands``."""
    policy = commands.add_parser(
        "policy",
        parents=[store],
        help="policies: built-in baselines, create from a baseline, export to Apple or Android formats",
        description="Policies. 'create' and 'export' need a CLI session (mdm-desktop login).",
    )
    sub = policy.add_subparsers(title="commands", metavar="COMMAND", required=True, parser_class=parser_class)

    baselines = sub.add_parser(
        "baselines",
        help="list the built-in baselines and the rule behind each setting",
        description="List the built-in baselines, each setting with its value and the STIG, CIS or HIPAA rule "
        "it implements.",
    )
    baselines.add_argument("--json", action="store_true", help="print a JSON array")
    baselines.set_defaults(handler=cmd_policy_baselines)

    create = sub.add_parser(
        "create",
        parents=[store],
        help="create a policy from a built-in baseline",
        description="Create a policy whose draft holds a built-in baseline's settings. Publish it in the console "
        "before assigning or exporting it.",
    )
    create.add_argument(
        "--from-baseline", required=True, metavar="BASELINE", help="the baseline's name (see 'policy baselines')"
    )
    create.add_argument("--name", metavar="NAME", help="the new policy's name (default: the baseline's)")
    create.add_argument("--json", action="store_true", help="print a JSON object")
    create.set_defaults(handler=cmd_policy_create)

    export = sub.add_parser(
        "export",
        parents=[store],
        help="write a published version as an Apple profile or an Android policy",
        description="Write a published version of policy NAME (the latest unless --version) to FILE: an Apple "
        "configuration profile (.mobileconfig; passcode, restrictions and Wi-Fi payloads) or an Android "
        "Management API policy (JSON). Settings the format cannot state are listed, never dropped silently. "
        "--sign signs the Apple profile (CMS) with the site CA, or with --sign-cert and --sign-key (PEM files).",
    )
    export.add_argument("name", metavar="NAME", help="the policy's name")
    export.add_argument("--format", dest="fmt", required=True, choices=[f.value for f in ExportFormat])
    export.add_argument("--out", metavar="FILE", type=Path, required=True, help="where to write the file")
    export.add_argument("--version", dest="policy_version", type=int, metavar="N", help="the version to export")
    export.add_argument("--sign", action="store_true", help="sign the Apple profile")
    export.add_argument("--sign-cert", metavar="PEM", type=Path, help="signing certificate (default: the site CA)")
    export.add_argument("--sign-key", metavar="PEM", type=Path, help="its private key, unencrypted PEM")
    export.add_argument("--force", action="store_true", help="replace FILE if it exists")
    export.add_argument("--json", action="store_true", help="print the export report as JSON")
    export.set_defaults(handler=cmd_policy_export)

    imported = sub.add_parser(
        "import",
        parents=[store],
        help="create a policy from a policy file, an Apple profile or an Android policy",
        description="Create a policy whose draft holds the settings of a policy file: an MDM Desktop policy file "
        "('policy export NAME --format settings', --format json, the default), an Apple configuration profile "
        "(--format mobileconfig; a signed profile's signature is checked with openssl) or an Android Management "
        "API policy (--format android). Keys without a matching setting are listed. The file is checked "
        "completely first; a damaged or hostile file is refused and nothing is stored.",
    )
    imported.add_argument("file", metavar="FILE", type=Path, help="the policy file")
    imported.add_argument(
        "--format",
        dest="fmt",
        choices=[f.value for f in ImportFormat],
        default=ImportFormat.JSON.value,
        help="the file's format (default: json)",
    )
    imported.add_argument("--name", metavar="NAME", help="the new policy's name (default: the name in the file)")
    imported.add_argument("--json", action="store_true", help="print a JSON object")
    imported.set_defaults(handler=cmd_policy_import)


def cmd_policy_baselines(args: argparse.Namespace) -> int:
    """Print the built-in baselines."""
    if args.json:
        print(json.dumps([baseline_record(b.name) for b in BASELINES], indent=2))
        return EXIT_OK
    for baseline in BASELINES:
        print(f"{baseline.name}: {baseline.description}")
        for item in baseline.settings:
            cited = "; ".join(str(c) for c in item.sources) or "-"
            print(f"  {spec(item.key).label} ({item.key}) = {json.dumps(item.value)}  [{cited}]")
        print()
    return EXIT_OK


def baseline_record(name: str) -> dict[str, Any]:
    """A baseline as a JSON-ready mapping."""
    baseline = next(b for b in BASELINES if b.name == name)
    return {
        "name": baseline.name,
        "description": baseline.description,
        "ownership": baseline.ownership.value if baseline.ownership is not None else None,
        "platforms": sorted(p.value for p in baseline.platforms),
        "settings": [
            {"key": s.key, "value": s.value, "citations": [str(c) for c in s.sources]} for s in baseline.settings
        ],
    }


def cmd_policy_create(args: argparse.Namespace) -> int:
    """Create a policy from a baseline."""
    with signed_in(args) as (ctx, session):
        created = ctx.services.policies.create_from_baseline(session.principal, args.from_baseline, args.name)
    if args.json:
        print(json.dumps({"id": created.id, "name": created.name, "uid": created.uid}))
    else:
        print(f"Created policy '{created.name}' from the baseline; publish it in the console to use it.")
    return EXIT_OK


def cmd_policy_export(args: argparse.Namespace) -> int:
    """Export a published version."""
    if (args.sign_cert is None) != (args.sign_key is None):
        raise ValidationError("Give both --sign-cert and --sign-key, or neither.")
    if args.sign_cert is not None and not args.sign:
        raise ValidationError("--sign-cert and --sign-key need --sign.")
    signing: SigningRequest | None = None
    if args.sign:
        signing = (
            SigningRequest.from_files(args.sign_cert, args.sign_key)
            if args.sign_cert is not None
            else SigningRequest.site_ca()
        )
    with signed_in(args) as (ctx, session):
        result = ctx.services.policy_exports.export(
            session.principal,
            args.name,
            args.fmt,
            args.out,
            version=args.policy_version,
            signing=signing,
            overwrite=args.force,
        )
    if args.json:
        print(
            json.dumps({"file": result.path, "size": result.size, "sha256": result.sha256, **result.report.to_dict()})
        )
        return EXIT_OK
    print(f"Wrote {result.path} ({result.size:,} bytes, SHA-256 {result.sha256}).")
    for line in result.report.lines():
        print(line)
    return EXIT_OK


def cmd_policy_import(args: argparse.Namespace) -> int:
    """Create a policy from a policy file."""
    path: Path = args.file
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ValidationError(f"Cannot read {path}: {exc.strerror}.") from exc
    preview = read_policy_file(data, args.fmt, path.name)  # refused here, before signing in, when malformed
    with signed_in(args) as (ctx, session):
        created = ctx.services.policies.import_policy(session.principal, data, args.name, path.name, args.fmt)
    if args.json:
        record = {"id": created.id, "name": created.name, "uid": created.uid}
        print(json.dumps({**record, "not_imported": list(preview.unmapped), "notes": list(preview.notes)}))
        return EXIT_OK
    print(f"Created policy '{created.name}' from {path.name}; publish it in the console to use it.")
    if preview.unmapped:
        print(f"Not imported ({len(preview.unmapped)}; no matching setting):")
        for line in preview.unmapped:
            print(f"  {line}")
    for note in preview.notes:
        print(note)
    return EXIT_OK
