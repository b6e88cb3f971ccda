"""Policy use cases: list, detail, create, edit the draft, publish immutable versions, assign to groups.

Every write checks ``POLICIES_WRITE`` and appends its audit entry in the same transaction.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from mdm_desktop.domain.accounts import Permission, Principal
from mdm_desktop.domain.audit import canonical_json
from mdm_desktop.domain.devices import Ownership
from mdm_desktop.domain.errors import ConflictError, NotFoundError, ValidationError
from mdm_desktop.domain.policy_baselines import find_baseline
from mdm_desktop.domain.policy_settings import SettingsError, check_settings
from mdm_desktop.services.audit_log import AuditLog
from mdm_desktop.services.clock import Clock
from mdm_desktop.services.compliance_engine import Progress, Scope, reevaluate_scope, summary_details
from mdm_desktop.services.dto import PolicyAssignmentInfo, PolicyDetail, PolicySummary, PolicyVersionInfo
from mdm_desktop.services.guard import Guard
from mdm_desktop.services.operations import mutating
from mdm_desktop.services.policy_imports import ImportFormat, read_policy_file
from mdm_desktop.services.policy_views import EffectiveSettings, effective_view
from mdm_desktop.store.repositories import policies as repo
from mdm_desktop.store.unit_of_work import UnitOfWorkFactory

NAME_MAX = 128
DESCRIPTION_MAX = 2000
NOTES_MAX = 2000
SETTINGS_MAX_BYTES = 64 * 1024
SETTINGS_MAX_DEPTH = 8


def clinic_baseline_settings() -> dict[str, Any]:
    """Starting settings for a new policy: a sensible baseline for a clinic (a fresh copy each call)."""
    return {
        "passcode": {"required": True, "min_length": 6},
        "encryption": {"required": True},
        "os_updates": {"max_patch_age_days": 90},
        "integrity": {"allow_compromised": False},
        "check_in": {"max_age_days": 14},
    }


def clean_name(name: str) -> str:
    """Validate and normalise a policy name (surrounding and repeated spaces removed).

    Raises:
        ValidationError: The name is empty, too long or holds control characters.
    """
    if not isinstance(name, str):
        raise ValidationError("Enter a name for the policy.")
    cleaned = " ".join(name.split())
    if not cleaned:
        raise ValidationError("Enter a name for the policy.", hint="A name such as 'Clinic phones' helps others.")
    if len(cleaned) > NAME_MAX:
        raise ValidationError(
            f"The policy name is {len(cleaned)} characters long; use at most {NAME_MAX}.",
            hint="Shorten the name and put the rest in the description.",
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in cleaned):
        raise ValidationError("The policy name contains control characters.", hint="Use ordinary text.")
    return cleaned


def clean_text(value: str, what: str, limit: int) -> str:
    """Validate free text (description, notes): a string of at most ``limit`` characters."""
    if not isinstance(value, str):
        raise ValidationError(f"The {what} must be text.")
    value = value.strip()
    if len(value) > limit:
        raise ValidationError(f"The {what} is {len(value)} characters long; use at most {limit}.")
    if "\x00" in value:
        raise ValidationError(f"The {what} contains a NUL character.", hint="Use ordinary text.")
    return value


def clean_settings(settings: Mapping[str, Any], *, require_valid: bool = True) -> dict[str, Any]:
    """Validate settings: plain JSON values, not too deep or large, and valid for the settings model.

    The model is :mod:`mdm_desktop.domain.policy_settings`; old key names are accepted. With
    ``require_valid=False`` (a draft being edited) only the shape is checked: values the model
    rejects are kept, and publishing refuses them later.

    Returns:
        A deep copy made of plain ``dict``/``list``/scalars.

    Raises:
        ValidationError: The settings cannot be stored as a policy.
    """
    if not isinstance(settings, Mapping):
        raise ValidationError("Policy settings must be a set of named values (a JSON object).")

    def check(value: Any, path: str, depth: int) -> Any:
        if depth > SETTINGS_MAX_DEPTH:
            raise ValidationError(f"Policy settings are nested too deeply at '{path}'.")
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for key, item in value.items():
                if not isinstance(key, str) or not key.strip():
                    raise ValidationError(f"Policy setting names must be non-empty text (at '{path or 'top'}').")
                out[key] = check(item, f"{path}.{key}" if path else key, depth + 1)
            return out
        if isinstance(value, list | tuple):
            return [check(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
        if isinstance(value, float) and not math.isfinite(value):
            raise ValidationError(f"Policy setting '{path}' is not a finite number.")
        if value is None or isinstance(value, str | bool | int | float):
            return value
        raise ValidationError(
            f"Policy setting '{path}' has a value of type {type(value).__name__}, which cannot be stored.",
            hint="Use text, numbers, true/false, lists or nested settings.",
        )

    cleaned = check(settings, "", 0)
    if len(json.dumps(cleaned).encode()) > SETTINGS_MAX_BYTES:
        raise ValidationError(f"Policy settings are larger than {SETTINGS_MAX_BYTES // 1024} KiB.")
    assert isinstance(cleaned, dict)
    checked = check_settings(cleaned)
    if require_valid and not checked.ok:
        raise SettingsError(checked.problems)
    return cleaned


class PolicyService:
    """Reads and changes policies for the console and the CLI."""

    def __init__(self, uow: UnitOfWorkFactory, guard: Guard, audit: AuditLog, clock: Clock) -> None:
        self._uow = uow
        self._guard = guard
        self._audit = audit
        self._clock = clock

    # -- reads ---------------------------------------------------------------------------------------

    def list_policies(self, actor: Principal) -> tuple[PolicySummary, ...]:
        """Every policy with its latest version, assignment count and whether the draft changed, by name."""
        self._guard.require(actor, Permission.POLICIES_READ, "policies.list")
        with self._uow() as uow:
            return repo.list_summaries(uow)

    def policy_detail(self, actor: Principal, policy_id: int) -> PolicyDetail:
        """Draft settings, versions with their settings, and assignments with group names."""
        self._guard.require(actor, Permission.POLICIES_READ, "policies.view", target=str(policy_id))
        with self._uow() as uow:
            found = repo.detail(uow, policy_id)
        if found is None:
            raise NotFoundError(f"Policy {policy_id} does not exist.", hint="Refresh the policy list.")
        return found

    # -- writes --------------------------------------------------------------------------------------

    @mutating("policies.create")
    def create_policy(
        self, actor: Principal, name: str, description: str = "", settings: Mapping[str, Any] | None = None
    ) -> PolicySummary:
        """Create a policy whose draft holds ``settings`` (the clinic baseline when ``None``).

        Raises:
            ValidationError: Name, description or settings are malformed; nothing is written.
            ConflictError: Another policy already has this name.
        """
        self._guard.require(actor, Permission.POLICIES_WRITE, "policies.create")
        return self._create(actor, name, description, clinic_baseline_settings() if settings is None else settings)

    def _create(
        self,
        actor: Principal,
        name: str,
        description: str,
        settings: Mapping[str, Any],
        origin: Mapping[str, Any] | None = None,
    ) -> PolicySummary:
        clean = clean_name(name)
        desc = clean_text(description, "description", DESCRIPTION_MAX)
        draft = clean_settings(settings)
        details: dict[str, Any] = {"name": clean, "description": desc, "settings": draft}
        details.update(origin or {})
        with self._uow(write=True) as uow:
            if repo.name_taken(uow, clean):
                raise ConflictError(
                    f"A policy named '{clean}' already exists.", hint="Choose another name or open that policy."
                )
            policy = repo.add_policy(uow, clean, desc, draft, self._clock())
            self._audit.record(
                uow,
                actor,
                "policies.create",
                target_kind="policy",
                target=policy.uid,
                details=details,
            )
            result = repo.summary(uow, policy.id)
            uow.commit()
        assert result is not None
        return result

    @mutating("policies.create_from_baseline", "policies.create")
    def create_from_baseline(
        self, actor: Principal, baseline: str, name: str | None = None, description: str | None = None
    ) -> PolicySummary:
        """Create a policy whose draft is a built-in baseline (named after it unless ``name`` is given).

        Raises:
            NotFoundError: No baseline has that name.
            ValidationError, ConflictError: as for :meth:`create_policy`.
        """
        self._guard.require(actor, Permission.POLICIES_WRITE, "policies.create", target=baseline)
        found = find_baseline(baseline)
        return self._create(
            actor,
            found.name if name is None else name,
            found.description if description is None else description,
            found.to_dict(),
            origin={"baseline": found.name},
        )

    @mutating("policies.import", "policies.create")
    def import_policy(
        self,
        actor: Principal,
        data: bytes,
        name: str | None = None,
        source: str = "",
        fmt: ImportFormat | str = ImportFormat.JSON,
    ) -> PolicySummary:
        """Create a policy whose draft holds the settings of a policy file.

        Args:
            actor: The signed-in user.
            data: The file's bytes (treated as hostile: validated completely before anything is stored).
            name: The new policy's name (default: the name in the file).
            source: The file's name, for the audit entry.
            fmt: The file's format: the console's own file (``policy export --format settings``), an Apple
                configuration profile or an Android Management API policy
                (:func:`~mdm_desktop.services.policy_imports.read_policy_file`; what it could not map is
                recorded in the audit entry).

        Raises:
            ValidationError: The file is not a valid policy file, or its settings are invalid; nothing is written.
            ConflictError: A policy with that name exists.
        """
        self._guard.require(actor, Permission.POLICIES_WRITE, "policies.create", target=source)
        imported = read_policy_file(data, fmt, source)
        origin: dict[str, Any] = {"imported_from": source or "file"}
        if imported.unmapped:
            origin["not_imported"] = list(imported.unmapped)
        return self._create(
            actor,
            imported.name if name is None else name,
            imported.description,
            imported.settings,
            origin=origin,
        )

    @mutating("policies.update_draft")
    def update_draft(
        self,
        actor: Principal,
        policy_id: int,
        *,
        name: str | None = None,
        description: str | None = None,
        settings: Mapping[str, Any] | None = None,
        allow_problems: bool = False,
    ) -> PolicySummary:
        """Change a policy's name, description or draft settings (published versions never change).

        With ``allow_problems`` a draft may be saved while some settings are wrong (the editor saves work
        in progress); it cannot be published until they are corrected.

        Raises:
            ValidationError, ConflictError, NotFoundError: as for :meth:`create_policy`.
        """
        self._guard.require(actor, Permission.POLICIES_WRITE, "policies.update_draft", target=str(policy_id))
        new_name = clean_name(name) if name is not None else None
        new_desc = clean_text(description, "description", DESCRIPTION_MAX) if description is not None else None
        new_settings = clean_settings(settings, require_valid=not allow_problems) if settings is not None else None
        with self._uow(write=True) as uow:
            policy = repo.get_policy(uow, policy_id, for_update=True)
            if policy is None:
                raise NotFoundError(f"Policy {policy_id} does not exist.", hint="Refresh the policy list.")
            changes: dict[str, Any] = {}
            if new_name is not None and new_name != policy.name:
                if repo.name_taken(uow, new_name, except_id=policy.id):
                    raise ConflictError(f"A policy named '{new_name}' already exists.", hint="Choose another name.")
                changes["name"] = {"from": policy.name, "to": new_name}
                policy.name = new_name
            if new_desc is not None and new_desc != policy.description:
                changes["description"] = {"from": policy.description, "to": new_desc}
                policy.description = new_desc
            if new_settings is not None and canonical_json(new_settings) != canonical_json(policy.draft_settings):
                changes["settings"] = {"from": policy.draft_settings, "to": new_settings}
                policy.draft_settings = new_settings
            if changes:
                policy.updated_at = self._clock()
                uow.session.flush()
                self._audit.record(
                    uow, actor, "policies.update_draft", target_kind="policy", target=policy.uid, details=changes
                )
            result = repo.summary(uow, policy.id)
            uow.commit()
        assert result is not None
        return result

    @mutating("policies.publish")
    def publish(self, actor: Principal, policy_id: int, notes: str = "") -> PolicyVersionInfo:
        """Freeze the current draft as the next numbered, immutable version.

        Raises:
            ValidationError: The notes are too long, or the draft's settings are invalid
                (:class:`SettingsError` lists every problem).
            NotFoundError: The policy does not exist.
            ConflictError: The draft is identical to the latest version (nothing to publish).
        """
        self._guard.require(actor, Permission.POLICIES_WRITE, "policies.publish", target=str(policy_id))
        clean_notes = clean_text(notes, "release notes", NOTES_MAX)
        with self._uow(write=True) as uow:
            policy = repo.get_policy(uow, policy_id, for_update=True)
            if policy is None:
                raise NotFoundError(f"Policy {policy_id} does not exist.", hint="Refresh the policy list.")
            draft = dict(policy.draft_settings or {})
            checked = check_settings(draft)
            if not checked.ok:
                raise SettingsError(checked.problems)
            latest = repo.latest_version(uow, policy.id)
            if latest is not None and canonical_json(latest.settings) == canonical_json(draft):
                raise ConflictError(
                    f"The draft of '{policy.name}' is the same as version {latest.version}; there is nothing new "
                    "to publish.",
                    hint="Change the draft first, or assign the existing version.",
                )
            version = repo.add_version(uow, policy, draft, clean_notes, actor.name, self._clock())
            self._audit.record(
                uow,
                actor,
                "policies.publish",
                target_kind="policy",
                target=policy.uid,
                details={"name": policy.name, "version": version.version, "notes": clean_notes, "settings": draft},
            )
            info = repo.version_info(version)
            uow.commit()
        return info

    @mutating("policies.assign")
    def assign(
        self,
        actor: Principal,
        version_id: int,
        group_id: int,
        ownership: Ownership | None = None,
        progress: Progress | None = None,
    ) -> PolicyAssignmentInfo:
        """Assign a published version to a device group (all devices, or only one ownership type).

        An earlier version of the same policy assigned to the same group and ownership scope is replaced.
        The group's devices are re-evaluated in the same transaction (``progress(done, total)`` is called
        as it goes); the audit entry records how many changed state.

        Raises:
            NotFoundError: The version or group does not exist.
            ConflictError: This exact version is already assigned there.
        """
        self._guard.require(actor, Permission.POLICIES_WRITE, "policies.assign", target=str(version_id))
        if ownership is not None and not isinstance(ownership, Ownership):
            raise ValidationError("Choose corporate, BYOD, or all devices for the assignment.")
        with self._uow(write=True) as uow:
            version = repo.get_version(uow, version_id)
            if version is None:
                raise NotFoundError(f"Policy version {version_id} does not exist.", hint="Refresh the policy list.")
            policy = repo.get_policy(uow, version.policy_id, for_update=True)
            assert policy is not None
            group = repo.get_group(uow, group_id)
            if group is None:
                raise NotFoundError(f"Device group {group_id} does not exist.", hint="Refresh the group list.")
            scope = ownership.label if ownership is not None else "all"
            replaced: list[int] = []
            for existing, existing_version in repo.assignments_of_policy_to_group(uow, policy.id, group.id, ownership):
                if existing_version.id == version.id:
                    raise ConflictError(
                        f"Version {version.version} of '{policy.name}' is already assigned to {group.name} "
                        f"({scope} devices).",
                    )
                replaced.append(existing_version.version)
                repo.delete(uow, existing)
            row = repo.add_assignment(uow, version, group.id, ownership, actor.name, self._clock())
            uow.session.flush()
            evaluated = reevaluate_scope(uow.session, self._clock(), Scope(group_ids=frozenset({group.id})), progress)
            self._audit.record(
                uow,
                actor,
                "policies.assign",
                target_kind="policy",
                target=policy.uid,
                details={
                    "name": policy.name,
                    "version": version.version,
                    "group": group.name,
                    "ownership": ownership.value if ownership is not None else None,
                    "replaced_versions": replaced,
                    "compliance": summary_details(evaluated),
                },
            )
            info = repo.assignment_info(row, version, group.name)
            uow.commit()
        return info

    @mutating("policies.unassign")
    def unassign(self, actor: Principal, assignment_id: int) -> PolicyAssignmentInfo:
        """Remove one assignment of a policy version from a device group; the devices stop getting it.

        Returns:
            The assignment as it was.

        Raises:
            NotFoundError: The assignment does not exist (perhaps someone removed it already).
        """
        self._guard.require(actor, Permission.POLICIES_WRITE, "policies.unassign", target=str(assignment_id))
        with self._uow(write=True) as uow:
            found = repo.get_assignment(uow, assignment_id)
            if found is None:
                raise NotFoundError(
                    f"Assignment {assignment_id} does not exist; it may have been removed already.",
                    hint="Refresh the policy.",
                )
            row, version, policy, group_name = found
            info = repo.assignment_info(row, version, group_name)
            repo.get_policy(uow, policy.id, for_update=True)
            repo.delete(uow, row)
            uow.session.flush()
            evaluated = reevaluate_scope(uow.session, self._clock(), Scope(group_ids=frozenset({row.group_id})))
            self._audit.record(
                uow,
                actor,
                "policies.unassign",
                target_kind="policy",
                target=policy.uid,
                details={
                    "name": policy.name,
                    "version": version.version,
                    "group": group_name,
                    "ownership": info.ownership.value if info.ownership is not None else None,
                    "compliance": summary_details(evaluated),
                },
            )
            uow.commit()
        return info

    def effective_settings(self, actor: Principal, group_id: int, ownership: Ownership) -> EffectiveSettings:
        """The settings the ``ownership`` devices of a group get from every policy assigned to them, and why.

        Raises:
            NotFoundError: The group does not exist.
            ValidationError: ``ownership`` is not an ownership type.
        """
        self._guard.require(actor, Permission.POLICIES_READ, "policies.effective", target=str(group_id))
        if not isinstance(ownership, Ownership):
            raise ValidationError("Choose corporate or BYOD devices.")
        with self._uow() as uow:
            group = repo.get_group(uow, group_id)
            if group is None:
                raise NotFoundError(f"Device group {group_id} does not exist.", hint="Refresh the group list.")
            assigned = [
                (f"{name} v{version.version}" + (" (all devices)" if row.ownership is None else ""), version.settings)
                for row, version, name in repo.assignments_applying_to(uow, group_id, ownership)
            ]
            group_name = group.name
        return effective_view(group_id, group_name, ownership, assigned)
