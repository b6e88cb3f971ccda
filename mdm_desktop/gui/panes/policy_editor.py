"""The policy editor: the draft of one policy as a form generated from the setting specs.

Groups follow :data:`~mdm_desktop.domain.policy_settings.GROUP_LABELS` and settings
:data:`~mdm_desktop.domain.policy_settings.SETTING_SPECS` (a group another feature adds appears by
itself); each setting has the editor for its kind, its label with the help text and cited rules in
the tooltip, and the platforms that can enforce it. After each edit the whole draft is checked with
:func:`~mdm_desktop.domain.policy_settings.check_settings`; problems show in words under the setting
and in a summary. A draft with problems can be saved (work in progress) but not published.

Saving runs ``update_draft`` on the task runner. Undo steps back through the edits; Revert goes back
to the last saved draft; closing with unsaved edits asks first. Before publishing, "Show impact"
asks the compliance engine how many assigned devices would fail each changed rule.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from mdm_desktop.domain.errors import ConflictError, NotFoundError, ValidationError
from mdm_desktop.domain.policy_settings import GROUP_LABELS, SETTING_SPECS, SettingProblem, SettingSpec, check_settings
from mdm_desktop.domain.policy_words import group_label, setting_json_values
from mdm_desktop.gui.panes.base import PaneContext
from mdm_desktop.gui.panes.policy_dialog_base import plain_label
from mdm_desktop.gui.panes.policy_diff import UNSAVED, PolicyDiffDialog
from mdm_desktop.gui.panes.policy_whatif import WhatIfPanel
from mdm_desktop.gui.tasks import Task
from mdm_desktop.gui.widgets.setting_editors import (
    PLATFORM_ORDER,
    ListEditor,
    SettingEditor,
    make_editor,
    takes_apps,
)
from mdm_desktop.services.dto import PolicyDetail, PolicySummary

EDITOR_STYLE = """
QLabel#settingLabel { font-weight: 600; }
QLabel#platformBadge { color: #36506b; background: #e7eef6; border-radius: 6px; padding: 1px 6px; font-size: 11px; }
QLabel#settingHelp { color: #5b6572; font-size: 11px; }
QLabel#settingError { color: #b3261e; }
QLabel#editorStatus { color: #5b6572; }
QLabel#publishReason { color: #8a5300; }
"""

MAX_UNDO = 200


def canonical(settings: dict[str, Any]) -> str:
    """Settings as comparable text."""
    return json.dumps(settings, sort_keys=True, ensure_ascii=False, default=str)


def setting_tooltip(spec: SettingSpec) -> str:
    """Help text, the rules the setting implements and its key."""
    parts = [spec.label]
    if spec.help:
        parts.append(spec.help)
    if spec.minimum is not None and spec.maximum is not None:
        parts.append(f"Allowed: {spec.minimum} to {spec.maximum} {spec.unit}".strip() + ".")
    if spec.citations:
        parts.append("Implements: " + "; ".join(str(c) for c in spec.citations))
    parts.append(f"Key: {spec.key}")
    return "\n".join(parts)


def platform_badges(spec: SettingSpec) -> QWidget:
    """Small labels naming the platforms that can enforce or report the setting."""
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    row.setSpacing(3)
    for platform in PLATFORM_ORDER:
        if platform in spec.platforms:
            badge = plain_label(platform.label, "platformBadge")
            badge.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            badge.setToolTip(f"{platform.label} devices can enforce or report this setting.")
            row.addWidget(badge)
    row.addStretch(1)
    return box


class _SettingRow:
    """The widgets of one setting in the form."""

    def __init__(self, spec: SettingSpec, editor: SettingEditor, label: QLabel, error: QLabel) -> None:
        self.spec = spec
        self.editor = editor
        self.label = label
        self.error = error


class PolicyEditorDialog(QDialog):
    """Edit the draft of one policy.

    Signals:
        saved(object): the :class:`PolicySummary` after a save.
        validated(): the draft was checked (after every edit and load).
    """

    saved = Signal(object)
    validated = Signal()

    def __init__(
        self,
        ctx: PaneContext,
        detail: PolicyDetail,
        *,
        can_write: bool = True,
        open_publish: Callable[[PolicySummary, QWidget], QDialog | None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.detail = detail
        self.can_write = can_write
        self._open_publish = open_publish
        self.setWindowTitle(f"Edit draft: {detail.summary.name}")
        self.setStyleSheet(EDITOR_STYLE)
        self.rows: dict[str, _SettingRow] = {}
        self.group_boxes: dict[str, QGroupBox] = {}
        self.problems: tuple[SettingProblem, ...] = ()
        self._extras: dict[str, Any] = {}
        self._saved_text = ""
        self._history: list[dict[str, Any]] = []
        self._last: dict[str, Any] = {}
        self._save_task: Task | None = None
        self._close_after_save = False
        self._loading = False
        self._validate_timer = QTimer(self)
        self._validate_timer.setSingleShot(True)
        self._validate_timer.setInterval(120)
        self._validate_timer.timeout.connect(self.validate)

        self._build()
        self.load(detail.draft_settings)
        self._saved_text = canonical(self.current_settings())
        self._update_state()
        self._load_app_ids()
        self.resize(1360, 860)

    # ---- layout --------------------------------------------------------------------------------

    def _build(self) -> None:
        self.save_action = self._action("Save draft", QKeySequence.StandardKey.Save, self.save)
        self.undo_action = self._action("Undo", QKeySequence.StandardKey.Undo, self.undo)
        self.revert_action = self._action("Revert to saved", QKeySequence("Ctrl+Shift+R"), self.revert)
        self.compare_action = self._action("Compare…", QKeySequence("Ctrl+D"), self.compare)
        self.publish_action = self._action("Publish…", QKeySequence("Ctrl+Shift+P"), self.publish)
        title = plain_label(self.windowTitle(), "dialogTitle")
        self.status_label = plain_label("", "editorStatus")
        top = QHBoxLayout()
        top.addWidget(title)
        top.addSpacing(12)
        top.addWidget(self.status_label)
        top.addStretch(1)
        self.buttons: dict[str, QPushButton] = {}
        for action in (
            self.save_action,
            self.undo_action,
            self.revert_action,
            self.compare_action,
            self.publish_action,
        ):
            button = QPushButton(action.text())
            button.setAutoDefault(False)
            button.clicked.connect(action.trigger)
            action.changed.connect(lambda b=button, a=action: (b.setEnabled(a.isEnabled()), b.setToolTip(a.toolTip())))
            self.buttons[action.text()] = button
            top.addWidget(button)
        self.close_button = QPushButton("Close")
        self.close_button.setAutoDefault(False)
        self.close_button.clicked.connect(self.reject)
        top.addWidget(self.close_button)

        self.nav = QListWidget()
        self.nav.setObjectName("groupNav")
        self.nav.setMaximumWidth(240)
        self.nav.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.nav.currentRowChanged.connect(self._jump_to_group)

        form = QWidget()
        form_layout = QVBoxLayout(form)
        form_layout.setContentsMargins(4, 4, 12, 4)
        form_layout.setSpacing(10)
        groups = list(GROUP_LABELS) + sorted({s.group for s in SETTING_SPECS} - set(GROUP_LABELS))
        for group in groups:
            specs = [s for s in SETTING_SPECS if s.group == group]
            if not specs:
                continue
            box = QGroupBox(group_label(group))
            box.setObjectName(f"group:{group}")
            grid = QGridLayout(box)
            grid.setHorizontalSpacing(14)
            grid.setVerticalSpacing(2)
            grid.setColumnStretch(1, 1)
            grid.setColumnMinimumWidth(0, 340)
            line = 0
            for spec in specs:
                line = self._add_row(grid, line, spec)
            self.group_boxes[group] = box
            form_layout.addWidget(box)
            item = QListWidgetItem(group_label(group))
            item.setData(Qt.ItemDataRole.UserRole, group)
            self.nav.addItem(item)
        self.extras_box = QGroupBox("Other settings (kept unchanged)")
        self.extras_label = plain_label("", "settingHelp")
        self.extras_label.setWordWrap(True)
        QVBoxLayout(self.extras_box).addWidget(self.extras_label)
        form_layout.addWidget(self.extras_box)
        form_layout.addStretch(1)
        self.form_scroll = QScrollArea()
        self.form_scroll.setObjectName("editorScroll")
        self.form_scroll.setWidgetResizable(True)
        self.form_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.form_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.form_scroll.setWidget(form)

        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(8, 0, 0, 0)
        side_layout.addWidget(plain_label("Problems", "sectionTitle"))
        self.problem_summary = plain_label("", "mutedText")
        self.problem_summary.setWordWrap(True)
        self.problem_list = QListWidget()
        self.problem_list.setObjectName("problemList")
        self.problem_list.setWordWrap(True)
        self.problem_list.itemActivated.connect(self._focus_problem)
        self.problem_list.itemClicked.connect(self._focus_problem)
        self.publish_reason = plain_label("", "publishReason")
        self.publish_reason.setWordWrap(True)
        side_layout.addWidget(self.problem_summary)
        side_layout.addWidget(self.problem_list, 2)
        side_layout.addWidget(self.publish_reason)
        self.whatif = WhatIfPanel(self.ctx, self.detail.summary.id, self._settings_for_whatif)
        side_layout.addWidget(self.whatif, 3)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.nav)
        splitter.addWidget(self.form_scroll)
        splitter.addWidget(side)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([205, 865, 250])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)
        if not self.can_write:
            for action in (self.save_action, self.revert_action, self.publish_action):
                action.setEnabled(False)

    def _action(self, text: str, shortcut: QKeySequence | QKeySequence.StandardKey, slot: Callable[[], Any]) -> QAction:
        action = QAction(text, self)
        action.setShortcut(shortcut)
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _add_row(self, grid: QGridLayout, line: int, spec: SettingSpec) -> int:
        label = plain_label(spec.label, "settingLabel")
        label.setToolTip(setting_tooltip(spec))
        label.setWordWrap(True)
        editor = make_editor(spec)
        editor.setToolTip(setting_tooltip(spec))
        editor.changed.connect(self._edited)
        heading = QWidget()
        heading_layout = QVBoxLayout(heading)
        heading_layout.setContentsMargins(0, 2, 0, 4)
        heading_layout.setSpacing(2)
        heading_layout.addWidget(label)
        heading_layout.addWidget(platform_badges(spec))
        grid.addWidget(heading, line, 0, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(editor, line, 1, Qt.AlignmentFlag.AlignTop)
        line += 1
        if spec.help:
            helper = plain_label(spec.help, "settingHelp")
            helper.setWordWrap(True)
            grid.addWidget(helper, line, 1)
            line += 1
        error = plain_label("", "settingError")
        error.setWordWrap(True)
        error.hide()
        grid.addWidget(error, line, 1)
        self.rows[spec.key] = _SettingRow(spec, editor, label, error)
        return line + 1

    # ---- values --------------------------------------------------------------------------------

    def load(self, settings: dict[str, Any]) -> None:
        """Show ``settings`` (JSON form) in the form, without counting it as an edit."""
        values, extras = setting_json_values(settings)
        self._loading = True
        try:
            for key, row in self.rows.items():
                row.editor.set_value(values.get(key))
        finally:
            self._loading = False
        self._extras = extras
        self.extras_box.setVisible(bool(extras))
        self.extras_label.setText(
            "\n".join(f"{path}: {json.dumps(value, ensure_ascii=False)}" for path, value in sorted(extras.items()))
        )
        self._last = self.current_settings()
        self.validate()

    def current_settings(self) -> dict[str, Any]:
        """The draft as edited (JSON form), with the groups this editor does not know kept as they were."""
        out: dict[str, Any] = {}
        for path, value in self._extras.items():
            group, _, name = path.partition(".")
            if name:
                out.setdefault(group, {})[name] = value
            else:
                out[group] = value
        for key, row in self.rows.items():
            group, name = key.split(".", 1)
            target = out.setdefault(group, {})
            if isinstance(target, dict):
                target[name] = row.editor.value()
        return out

    def editor(self, key: str) -> SettingEditor:
        """The editor of setting ``key``."""
        return self.rows[key].editor

    def is_dirty(self) -> bool:
        """Whether the form differs from the last saved draft."""
        return canonical(self.current_settings()) != self._saved_text

    def _edited(self) -> None:
        if self._loading:
            return
        current = self.current_settings()
        if canonical(current) != canonical(self._last):
            self._history.append(self._last)
            del self._history[:-MAX_UNDO]
            self._last = current
        self._validate_timer.start()
        self._update_state()

    def _settings_for_whatif(self) -> dict[str, Any] | None:
        return None if self.problems else self.current_settings()

    # ---- validation ----------------------------------------------------------------------------

    def validate(self) -> None:
        """Check the whole draft; show each problem next to its setting and in the summary."""
        self._validate_timer.stop()
        result = check_settings(self.current_settings())
        self.problems = result.problems
        by_key: dict[str, list[str]] = {}
        for problem in self.problems:
            by_key.setdefault(problem.key, []).append(problem.message)
        for key, row in self.rows.items():
            messages = by_key.get(key, [])
            row.error.setText("\n".join(messages))
            row.error.setVisible(bool(messages))
        counts: dict[str, int] = {}
        for problem in self.problems:
            group = problem.key.split(".", 1)[0]
            counts[group] = counts.get(group, 0) + 1
        for i in range(self.nav.count()):
            item = self.nav.item(i)
            group = item.data(Qt.ItemDataRole.UserRole)
            n = counts.get(group, 0)
            item.setText(group_label(group) + (f"  ({n} problem{'s' if n != 1 else ''})" if n else ""))
            item.setForeground(Qt.GlobalColor.darkRed if n else Qt.GlobalColor.black)
        self.problem_list.clear()
        for problem in self.problems:
            item = QListWidgetItem(problem.message)
            item.setData(Qt.ItemDataRole.UserRole, problem.key)
            self.problem_list.addItem(item)
        n = len(self.problems)
        self.problem_summary.setText(
            "No problems: the draft can be published."
            if n == 0
            else f"{n} setting{'s need' if n != 1 else ' needs'} attention before the draft can be published. "
            "You can still save it."
        )
        self.problem_list.setVisible(n > 0)
        self._update_state()
        self.whatif.draft_changed()
        self.validated.emit()

    def _focus_problem(self, item: QListWidgetItem) -> None:
        key = item.data(Qt.ItemDataRole.UserRole)
        row = self.rows.get(key) if isinstance(key, str) else None
        if row is not None:
            self.form_scroll.ensureWidgetVisible(row.editor, 50, 80)
            row.editor.setFocus()

    def _jump_to_group(self, index: int) -> None:
        item = self.nav.item(index)
        box = self.group_boxes.get(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None
        if box is not None:
            self.form_scroll.verticalScrollBar().setValue(box.y())

    # ---- state ---------------------------------------------------------------------------------

    def publish_blocker(self) -> str:
        """Why the draft cannot be published now ("" when it can)."""
        if not self.can_write:
            return "Your role cannot publish policies."
        if self.problems:
            n = len(self.problems)
            return f"Publishing is blocked: correct the {n} problem{'s' if n != 1 else ''} listed above first."
        if self.is_dirty():
            return "Save the draft before publishing it."
        summary = self.detail.summary
        if summary.latest_version is not None and not summary.draft_changed:
            return f"The draft is the same as version {summary.latest_version}; there is nothing new to publish."
        return ""

    def _update_state(self) -> None:
        dirty = self.is_dirty()
        saving = self._save_task is not None
        if saving:
            self.status_label.setText("Saving…")
        elif dirty:
            self.status_label.setText("Unsaved changes")
        else:
            self.status_label.setText("All changes saved")
        self.save_action.setEnabled(self.can_write and dirty and not saving)
        self.save_action.setToolTip("Save the draft (Ctrl+S); drafts may be saved with problems")
        self.undo_action.setEnabled(bool(self._history))
        self.undo_action.setToolTip("Undo the last edit (Ctrl+Z)")
        self.revert_action.setEnabled(self.can_write and dirty and not saving)
        self.revert_action.setToolTip("Throw away the unsaved edits and show the saved draft")
        self.compare_action.setToolTip("Compare the draft (with unsaved edits) with a published version")
        blocker = self.publish_blocker()
        self.publish_action.setEnabled(not blocker and not saving and self._open_publish is not None)
        self.publish_action.setToolTip(blocker or "Publish the saved draft as a new, unchangeable version")
        self.publish_reason.setText(blocker)
        self.publish_reason.setVisible(bool(blocker))

    # ---- actions -------------------------------------------------------------------------------

    def undo(self) -> None:
        """Go back one edit."""
        if not self._history:
            return
        state = self._history.pop()
        self.load(state)
        self._last = state
        self._update_state()

    def revert(self) -> None:
        """Go back to the last saved draft (asks first)."""
        if not self.is_dirty():
            return
        answer = QMessageBox.question(
            self,
            "Revert to saved",
            "Throw away your unsaved edits and show the saved draft again?",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Discard:
            self.revert_now()

    def revert_now(self) -> None:
        """Go back to the last saved draft without asking."""
        self._history.clear()
        self.load(json.loads(self._saved_text))
        self._update_state()

    def save(self) -> Task | None:
        """Save the draft as edited (problems allowed), on the task runner."""
        if not self.can_write or self._save_task is not None or not self.is_dirty():
            return None
        settings = self.current_settings()
        service, principal, pid = self.ctx.services.policies, self.ctx.session.principal, self.detail.summary.id
        self._save_task = self.ctx.runner.submit(
            lambda: service.update_draft(principal, pid, settings=settings, allow_problems=True),
            on_done=lambda summary: self._saved_ok(summary, settings),
            on_error=self._save_failed,
        )
        self._update_state()
        return self._save_task

    def _saved_ok(self, summary: PolicySummary, settings: dict[str, Any]) -> None:
        self._save_task = None
        self._saved_text = canonical(settings)
        self.detail = PolicyDetail(summary, canonical(settings), self.detail.versions, self.detail.assignments)
        self._update_state()
        self.saved.emit(summary)
        if self._close_after_save:
            self._close_after_save = False
            self.reject()

    def _save_failed(self, exc: BaseException) -> None:
        self._save_task = None
        self._close_after_save = False
        if isinstance(exc, ValidationError | ConflictError | NotFoundError):
            self.status_label.setText(f"Not saved: {exc.message} {exc.hint}".strip())
        else:
            self.status_label.setText("Not saved.")
            self.ctx.errors.report(exc)
        self.save_action.setEnabled(self.can_write)

    def compare(self) -> PolicyDiffDialog:
        """Compare the draft as edited with the latest version (any two sides can be chosen)."""
        dialog = PolicyDiffDialog(self.detail, self.current_settings(), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.choose(self.detail.versions[0].id if self.detail.versions else "draft", UNSAVED)
        dialog.open()
        return dialog

    def publish(self) -> QDialog | None:
        """Open the publish dialog (only for a saved draft without problems)."""
        if self.publish_blocker() or self._open_publish is None:
            return None
        return self._open_publish(self.detail.summary, self)

    def set_versions_if_same(self, detail: PolicyDetail) -> None:
        """Take a fresh detail of this policy (after a save or publish); the form keeps its values."""
        if detail.summary.id != self.detail.summary.id:
            return
        self.detail = detail
        self.whatif.draft_changed()
        self._update_state()

    # ---- app identifiers from the catalog --------------------------------------------------------

    def _load_app_ids(self) -> None:
        catalog, principal = self.ctx.services.catalog, self.ctx.session.principal
        self.ctx.runner.submit(
            lambda: tuple(sorted({a.identifier for a in catalog.list_apps(principal)})),
            on_done=self._set_app_ids,
            on_error=lambda _exc: None,  # suggestions only: typing identifiers still works
        )

    def _set_app_ids(self, ids: Sequence[str]) -> None:
        for row in self.rows.values():
            if isinstance(row.editor, ListEditor) and takes_apps(row.spec):
                row.editor.set_completions(ids)

    # ---- leaving -------------------------------------------------------------------------------

    def ask_unsaved(self) -> QMessageBox.StandardButton:
        """Ask what to do with unsaved edits: Save, Discard or Cancel."""
        return QMessageBox.question(
            self,
            "Unsaved changes",
            f"The draft of “{self.detail.summary.name}” has unsaved changes. Save them before closing?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )

    def may_leave(self) -> bool:
        """Whether the editor may close now; asks about unsaved edits (and saves first when told to)."""
        if self._save_task is not None:
            self._close_after_save = True
            return False
        if not self.is_dirty() or not self.can_write:
            return True
        answer = self.ask_unsaved()
        if answer == QMessageBox.StandardButton.Save:
            self._close_after_save = True
            self.save()
            return False
        if answer == QMessageBox.StandardButton.Discard:
            self._saved_text = canonical(self.current_settings())  # discarded: do not ask again
            return True
        return False

    def reject(self) -> None:
        """Close (Escape, the window's close button, Close), asking about unsaved edits first."""
        if not self.may_leave():
            return
        self.whatif.cancel()
        super().reject()
