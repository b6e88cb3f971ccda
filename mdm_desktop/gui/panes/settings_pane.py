"""The Security pane: the site's security settings, emergency (break-glass) sign-in review, audit retention.

Administrators (``settings.manage``) change the settings; values outside their limits are shown
inline next to the field and nothing is saved. Security officers (``emergency.review``) see the
settings read-only and review each emergency sign-in with a note; the dashboard shows a banner
until every use is reviewed. The Audit retention group (:mod:`~mdm_desktop.gui.panes.audit_retention_widgets`)
sets how long audit entries are kept and prunes older ones.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QItemSelection, Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from mdm_desktop.domain.accounts import Permission
from mdm_desktop.domain.errors import ValidationError
from mdm_desktop.gui.dialogs.admin_dialogs import ConfirmBox, NoteDialog
from mdm_desktop.gui.dialogs.issued_codes_dialog import EmergencyCodeDialog
from mdm_desktop.gui.models.access_model import BreakGlassTableModel
from mdm_desktop.gui.models.device_table_model import format_local_time
from mdm_desktop.gui.panes.audit_retention_widgets import RetentionGroup
from mdm_desktop.gui.panes.base import Pane, PaneContext
from mdm_desktop.gui.panes.catalog_pane import plain_label
from mdm_desktop.gui.resources import icon
from mdm_desktop.gui.tasks import Task
from mdm_desktop.services.audit_retention import RetentionStatus
from mdm_desktop.services.dto import BreakGlassUseInfo, EmergencyCodeStatus, IssuedCodes
from mdm_desktop.services.security_settings import SecuritySettings, setting_label

FIELDS: tuple[tuple[str, str, str], ...] = (
    ("idle_timeout_minutes", "min", "The console hides its data and asks for the password after this long unused."),
    ("absolute_lifetime_hours", "h", "Every session ends after this long, however active."),
    ("lockout_threshold", "failures", "At most 100. The account is locked for the period below."),
    ("lockout_minutes", "min", "An administrator can unlock an account sooner on the Users page."),
    ("password_min_length", "characters", "Never below 8. Long passphrases are easier to remember than symbols."),
    ("break_glass_minutes", "min", "How long a sign-in with the sealed emergency code lasts."),
    ("step_up_minutes", "min", "How long a fresh authenticator code counts for user, key and wipe actions."),
    ("access_max_hours", "h", "The longest temporary access an approver may grant."),
)
"""``(setting, unit, plain explanation)`` of each number on the page, in order."""

COMPOSITION_TEXT = (
    "Off by default. When on, every new password must hold an upper-case letter, a lower-case letter, a "
    "digit and a symbol. NIST SP 800-63B advises against such rules (people answer them with predictable "
    "patterns like 'Summer2025!'); switch them on only if your clinic's written policy demands them. The "
    "minimum length and the check against common and breached passwords apply either way."
)
_SPIN_MAX = 100_000


def field_problem(settings: SecuritySettings, name: str) -> str:
    """The problem with setting ``name`` in ``settings`` alone (empty when it is within its limits)."""
    probe = dataclasses.replace(SecuritySettings(), **{name: getattr(settings, name)})
    problems = probe.problems()
    return problems[0] if problems else ""


@dataclass(frozen=True, slots=True)
class SecurityData:
    """What one refresh of the pane loads."""

    settings: SecuritySettings
    status: EmergencyCodeStatus | None
    uses: tuple[BreakGlassUseInfo, ...] | None
    retention: RetentionStatus | None = None


class SettingsPane(Pane):
    """Security settings and emergency sign-in review.

    Signals:
        loaded: settings and emergency sign-ins were (re)loaded and shown.
        saved: the settings were saved.
        reviewed: an emergency sign-in was reviewed.
    """

    title = "Security"
    object_key = "settings"

    loaded = Signal()
    saved = Signal()
    reviewed = Signal()

    def __init__(self, ctx: PaneContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        principal = ctx.session.principal
        self.can_edit = principal.can(Permission.SETTINGS_MANAGE)
        self.can_review = principal.can(Permission.EMERGENCY_REVIEW)
        self.can_list_uses = principal.can(Permission.AUDIT_READ)
        self.can_create_code = principal.can(Permission.USERS_MANAGE)
        self.code_dialog: EmergencyCodeDialog | None = None
        self.pending_confirm: ConfirmBox | None = None
        self.can_read_status = principal.can(Permission.USERS_READ)
        self._task: Task | None = None
        self.current: SecuritySettings | None = None
        self.dialog: NoteDialog | None = None

        heading = plain_label("Security settings", "paneTitle")
        self.refresh_button = QPushButton(icon("refresh"), "Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        top = QHBoxLayout()
        top.addWidget(heading)
        top.addStretch(1)
        top.addWidget(self.refresh_button)

        self.retention = RetentionGroup(ctx, self.can_edit, self.can_list_uses)
        self.retention.years_saved.connect(self._retention_saved)
        self.retention.pruned.connect(lambda _path: self.refresh())
        right = QVBoxLayout()
        right.setSpacing(12)
        right.addWidget(self._build_break_glass(), 1)
        right.addWidget(self.retention)
        columns = QHBoxLayout()
        columns.setSpacing(12)
        columns.addWidget(self._build_settings(), 1)
        columns.addLayout(right, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addLayout(columns, 1)

    # ---- building ------------------------------------------------------------------------------

    def _build_settings(self) -> QWidget:
        panel = QFrame()
        panel.setObjectName("detailPanel")
        title = plain_label("Sign-in and sessions", "sectionTitle")
        note = plain_label(
            "These apply to every console and command-line user of this clinic."
            if self.can_edit
            else "Only an administrator can change these settings.",
            "mutedText",
        )
        note.setWordWrap(True)
        self.spins: dict[str, QSpinBox] = {}
        self.problem_labels: dict[str, QLabel] = {}
        fields = QVBoxLayout()
        fields.setSpacing(10)
        for name, unit, explanation in FIELDS:
            spin = QSpinBox()
            spin.setObjectName(name)
            spin.setRange(0, _SPIN_MAX)
            spin.setSuffix(f" {unit}")
            spin.setFixedWidth(150)
            spin.setEnabled(self.can_edit)
            spin.setToolTip(explanation)
            spin.valueChanged.connect(lambda _v, n=name: self._edited(n))
            label = plain_label(setting_label(name))
            label.setObjectName("settingLabel")
            label.setWordWrap(True)
            label.setBuddy(spin)
            font = label.font()
            font.setBold(True)
            label.setFont(font)
            hint = plain_label(explanation, "mutedText")
            hint.setWordWrap(True)
            problem = plain_label("", "problemText")
            problem.setWordWrap(True)
            problem.setVisible(False)
            row = QHBoxLayout()
            row.setSpacing(10)
            row.addWidget(spin, 0, Qt.AlignmentFlag.AlignTop)
            row.addWidget(hint, 1)
            block = QVBoxLayout()
            block.setSpacing(3)
            block.addWidget(label)
            block.addLayout(row)
            block.addWidget(problem)
            fields.addLayout(block)
            self.spins[name] = spin
            self.problem_labels[name] = problem
        self.composition_check = QCheckBox("Require mixed character types in new passwords")
        self.composition_check.setObjectName("password_composition")
        self.composition_check.setEnabled(self.can_edit)
        self.composition_check.toggled.connect(lambda _on: self._edited("password_composition"))
        composition_title = plain_label("Password composition rules")
        font = composition_title.font()
        font.setBold(True)
        composition_title.setFont(font)
        composition_note = plain_label(COMPOSITION_TEXT, "mutedText")
        composition_note.setWordWrap(True)
        block = QVBoxLayout()
        block.setSpacing(3)
        block.addWidget(composition_title)
        block.addWidget(self.composition_check)
        block.addWidget(composition_note)
        fields.addLayout(block)

        inner = QWidget()
        inner_layout = QVBoxLayout(inner)
        inner_layout.setContentsMargins(0, 0, 6, 0)
        inner_layout.addLayout(fields)
        inner_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(inner)

        self.form_error = plain_label("", "problemText")
        self.form_error.setWordWrap(True)
        self.form_error.setVisible(False)
        self.status_label = plain_label("", "mutedText")
        self.save_button = QPushButton("Save settings")
        self.save_button.setObjectName("saveSettingsButton")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        self.revert_button = QPushButton("Undo changes")
        self.revert_button.clicked.connect(self._revert)
        for button in (self.save_button, self.revert_button):
            button.setVisible(self.can_edit)
            button.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status_label, 1)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.save_button)

        layout = QVBoxLayout(panel)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.setSpacing(6)
        layout.addWidget(title)
        layout.addWidget(note)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.form_error)
        layout.addLayout(buttons)
        return panel

    def _build_break_glass(self) -> QWidget:
        panel = QFrame()
        panel.setObjectName("detailPanel")
        title = plain_label("Emergency (break-glass) sign-ins", "sectionTitle")
        explain = plain_label(
            "The sealed emergency code lets an administrator in without an authenticator app, once, for a "
            "short session. Each use stays on the dashboard until a security officer reviews it.",
            "mutedText",
        )
        explain.setWordWrap(True)
        self.code_status = plain_label("")
        self.code_status.setObjectName("emergencyStatus")
        self.code_status.setWordWrap(True)
        self.show_reviewed = QCheckBox("Show reviewed uses too")
        self.show_reviewed.toggled.connect(lambda _on: self.refresh())
        self.uses_model = BreakGlassTableModel(self)
        self.uses_table = QTableView()
        self.uses_table.setObjectName("breakGlassTable")
        self.uses_table.setModel(self.uses_model)
        self.uses_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.uses_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.uses_table.setAlternatingRowColors(True)
        self.uses_table.setShowGrid(False)
        self.uses_table.setWordWrap(False)
        self.uses_table.verticalHeader().setVisible(False)
        self.uses_table.verticalHeader().setDefaultSectionSize(26)
        header = self.uses_table.horizontalHeader()
        for i, width in enumerate((140, 90, 120)):
            header.resizeSection(i, width)
        header.setStretchLastSection(True)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.uses_table.selectionModel().selectionChanged.connect(self._use_selected)
        self.uses_empty = plain_label("No emergency sign-ins waiting for review.", "mutedText")
        self.review_note = plain_label("", "mutedText")
        self.review_note.setWordWrap(True)
        self.review_button = QPushButton("Review…")
        self.review_button.setObjectName("reviewButton")
        self.review_button.setToolTip("Record what you checked: who used it, why, and what was done")
        self.review_button.clicked.connect(self.review)
        self.review_button.setVisible(self.can_review)
        self.review_button.setEnabled(False)
        row = QHBoxLayout()
        row.addWidget(self.show_reviewed)
        row.addStretch(1)
        row.addWidget(self.review_button)

        layout = QVBoxLayout(panel)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.setSpacing(6)
        layout.addWidget(title)
        layout.addWidget(explain)
        layout.addWidget(self.code_status)
        self.new_code_button = QPushButton("New emergency code…")
        self.new_code_button.setObjectName("newEmergencyCodeButton")
        self.new_code_button.setToolTip("Create a new sealed emergency code; the previous unused one stops working")
        self.new_code_button.clicked.connect(self.new_emergency_code)
        self.new_code_button.setVisible(self.can_create_code)
        layout.addWidget(self.new_code_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addSpacing(4)
        layout.addLayout(row)
        layout.addWidget(self.uses_table, 1)
        layout.addWidget(self.uses_empty)
        layout.addWidget(self.review_note)
        if not self.can_list_uses:
            for widget in (self.show_reviewed, self.uses_table, self.uses_empty, self.review_button):
                widget.setVisible(False)
        return panel

    # ---- loading -------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Reload the settings and the emergency sign-ins (off the GUI thread)."""
        if self._task is not None:
            self._task.cancel()
        services, principal = self.ctx.services, self.ctx.session.principal
        read_status, list_uses = self.can_read_status, self.can_list_uses
        unreviewed_only = not self.show_reviewed.isChecked()

        def load() -> SecurityData:
            settings = services.users.security_settings(principal)
            status = services.auth.emergency_status(principal) if read_status else None
            uses = services.auth.list_break_glass(principal, unreviewed_only=unreviewed_only) if list_uses else None
            retention = services.audit_retention.retention_status(principal) if list_uses else None
            return SecurityData(settings, status, uses, retention)

        self.refresh_button.setEnabled(False)
        self._task = self.ctx.runner.submit(load, on_done=self._loaded, on_error=self._failed)

    def _failed(self, exc: BaseException) -> None:
        self._task = None
        self.refresh_button.setEnabled(True)
        self.ctx.errors.report(exc)

    def _loaded(self, data: SecurityData) -> None:
        self._task = None
        self.refresh_button.setEnabled(True)
        self._show_settings(data.settings)
        self._show_status(data.status)
        self.retention.show_years(data.settings.audit_retention_years)
        self.retention.show_status(data.retention)
        uses = data.uses or ()
        self.uses_model.set_rows(uses)
        self.uses_empty.setVisible(self.can_list_uses and not uses)
        if uses:
            self.uses_table.selectRow(0)
        else:
            self._use_selected(QItemSelection(), QItemSelection())
        self.loaded.emit()

    def _show_status(self, status: EmergencyCodeStatus | None) -> None:
        if status is None:
            self.code_status.setText("")
            return
        if status.active:
            text = (
                f"An emergency code is ready (created {format_local_time(status.created_at)} by "
                f"{status.created_by}); keep it sealed in the safe."
            )
        else:
            text = "No emergency code is ready. An administrator creates one; it is shown once, to seal in the safe."
        if status.unreviewed_uses:
            text += f"\n{status.unreviewed_uses} emergency sign-in(s) waiting for review."
        self.code_status.setText(text)

    # ---- settings ------------------------------------------------------------------------------

    def _show_settings(self, settings: SecuritySettings) -> None:
        self.current = settings
        for name, spin in self.spins.items():
            spin.blockSignals(True)
            spin.setValue(int(getattr(settings, name)))
            spin.blockSignals(False)
        self.composition_check.blockSignals(True)
        self.composition_check.setChecked(settings.password_composition)
        self.composition_check.blockSignals(False)
        for label in self.problem_labels.values():
            label.setVisible(False)
        self.form_error.setVisible(False)
        self._update_buttons()

    def edited_settings(self) -> SecuritySettings:
        """The settings as the form shows them (possibly out of their limits)."""
        values: dict[str, Any] = {name: spin.value() for name, spin in self.spins.items()}
        values["password_composition"] = self.composition_check.isChecked()
        # Saved on its own, in the Audit retention group.
        values["audit_retention_years"] = (self.current or SecuritySettings()).audit_retention_years
        return SecuritySettings(**values)

    def problems(self) -> dict[str, str]:
        """Setting -> the problem with its value in the form (only settings with a problem)."""
        edited = self.edited_settings()
        found = {name: field_problem(edited, name) for name in self.spins}
        return {name: text for name, text in found.items() if text}

    def _edited(self, name: str) -> None:
        if name in self.problem_labels:
            problem = field_problem(self.edited_settings(), name)
            self.problem_labels[name].setText(problem)
            self.problem_labels[name].setVisible(bool(problem))
        self.status_label.setText("")
        self._update_buttons()

    def _update_buttons(self) -> None:
        changed = self.current is not None and self.edited_settings() != self.current
        self.save_button.setEnabled(self.can_edit and changed)
        self.revert_button.setEnabled(self.can_edit and changed)

    def _revert(self) -> None:
        if self.current is not None:
            self._show_settings(self.current)
            self.status_label.setText("")

    def save(self) -> None:
        """Save the form, or show what is wrong next to each field (nothing is saved then)."""
        problems = self.problems()
        for name, label in self.problem_labels.items():
            label.setText(problems.get(name, ""))
            label.setVisible(name in problems)
        if problems:
            self.form_error.setText("Nothing was saved: correct the values marked in red.")
            self.form_error.setVisible(True)
            return
        self.form_error.setVisible(False)
        users, principal, settings = self.ctx.services.users, self.ctx.session.principal, self.edited_settings()
        self.save_button.setEnabled(False)
        self.ctx.runner.submit(
            lambda: users.update_security_settings(principal, settings),
            on_done=self._saved,
            on_error=self._save_failed,
        )

    def _saved(self, settings: SecuritySettings) -> None:
        self._show_settings(settings)
        self.status_label.setText("Saved. New limits apply from each user's next action.")
        self.saved.emit()

    def _retention_saved(self, years: int) -> None:
        if self.current is not None:
            self.current = dataclasses.replace(self.current, audit_retention_years=years)
        self.refresh()

    def _save_failed(self, exc: BaseException) -> None:
        self._update_buttons()
        if isinstance(exc, ValidationError):
            self.form_error.setText(f"Nothing was saved: {exc.message}")
            self.form_error.setVisible(True)
            return
        self.ctx.errors.report(exc)

    # ---- break-glass review --------------------------------------------------------------------

    def selected_use(self) -> BreakGlassUseInfo | None:
        """The emergency sign-in selected in the table."""
        rows = self.uses_table.selectionModel().selectedRows()
        return self.uses_model.row_at(rows[0].row()) if rows else None

    def _use_selected(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        use = self.selected_use()
        me = self.ctx.session.principal.name
        self.review_button.setEnabled(use is not None and not use.reviewed and use.used_by != me)
        self.review_button.setToolTip(
            "Another security officer must review your own emergency sign-in"
            if use is not None and use.used_by == me
            else "Record what you checked: who used it, why, and what was done"
        )
        if use is not None and use.reviewed:
            self.review_note.setText(f"Review note by {use.reviewed_by}: {use.review_note}")
        else:
            self.review_note.setText("")

    def review(self) -> None:
        """Review the selected emergency sign-in (a note is required)."""
        use = self.selected_use()
        if use is None:
            return
        auth, principal, use_id = self.ctx.services.auth, self.ctx.session.principal, use.id
        dialog = NoteDialog(
            "Review emergency sign-in",
            f"{use.used_by} signed in with the emergency code on {format_local_time(use.used_at)} "
            f"from {use.workstation or 'an unknown workstation'}. Write what you checked.",
            "Mark as reviewed",
            note_required=True,
            placeholder="Who used it, why, what was done, and whether a new code was sealed",
            parent=self,
        )

        def decided() -> None:
            note = dialog.note()
            self.ctx.runner.submit(
                lambda: auth.review_break_glass(principal, use_id, note),
                on_done=self._reviewed,
                on_error=self.ctx.errors.report,
            )

        dialog.accepted.connect(decided)
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()

    def new_emergency_code(self) -> None:
        """Ask, then create a new emergency code (step-up first) and show it once."""
        auth, principal = self.ctx.services.auth, self.ctx.session.principal

        def create() -> None:
            self.ctx.runner.submit(
                lambda: auth.create_emergency_code(principal),
                on_done=self._show_new_code,
                on_error=self.ctx.errors.report,
            )

        box = ConfirmBox(
            "New emergency code",
            "Create a new emergency access code?",
            "The current unused code stops working at once. The new code is shown only once: have an envelope "
            "ready for the clinic safe.",
            "Create code",
            create,
            self,
        )
        box.finished.connect(box.deleteLater)
        self.pending_confirm = box
        box.open()

    def _show_new_code(self, issued: IssuedCodes) -> None:
        dialog = EmergencyCodeDialog(issued, self)
        dialog.finished.connect(dialog.deleteLater)
        dialog.finished.connect(lambda _r: self.refresh())
        self.code_dialog = dialog
        dialog.open()

    def _reviewed(self, _use: BreakGlassUseInfo) -> None:
        self.reviewed.emit()
        self.refresh()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._task is not None:
            self._task.cancel()
        super().closeEvent(event)
