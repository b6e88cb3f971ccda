"""First run and authenticator enrolment: a wizard that ends signed in.

On an empty store (:class:`SetupWizard` without a session) the pages are:

1. the first administrator: user name, display name, password twice with a live strength meter;
   "Create administrator" creates the account and signs in with the password;
2. the authenticator app: QR code, the secret as text for manual entry, then a code to confirm;
3. the ten recovery codes, shown once (copy, save to a file, "I have stored these codes");
4. the emergency (break-glass) code, shown once, for the clinic safe.

An account that signed in without an authenticator (after an MFA reset, or created before MFA)
gets pages 2 and 3 only (:class:`SetupWizard` with ``session=``). Every service call runs in the
task runner; failures show inline in plain words.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QByteArray, QSize, Qt, Signal
from PySide6.QtGui import QGuiApplication, QPainter, QPixmap, QRegularExpressionValidator
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from mdm_desktop.domain.accounts import username_problems
from mdm_desktop.gui.dialogs.login_dialog import busy_bar, error_text, plain_label
from mdm_desktop.gui.resources import app_icon
from mdm_desktop.gui.tasks import Task, TaskRunner
from mdm_desktop.gui.widgets.password_input import PasswordInput
from mdm_desktop.services.auth import AuthService
from mdm_desktop.services.dto import IssuedCodes, SessionInfo, TotpEnrolmentInfo

log = logging.getLogger(__name__)

QR_SIZE = 220
CODE_PATTERN = r"^\s*\d{3}\s?\d{3}\s*$"
STORED_RECOVERY = "I have stored these recovery codes somewhere safe"
STORED_EMERGENCY = "I have printed or written down the emergency code for the clinic safe"


def qr_pixmap(info: TotpEnrolmentInfo) -> QPixmap:
    """The enrolment QR code, pixel-exact: segno's PNG (six pixels a module), else the SVG at its own size."""
    loaded = QPixmap()
    if info.qr_png and loaded.loadFromData(info.qr_png, "PNG"):
        return loaded
    renderer = QSvgRenderer(QByteArray(info.qr_svg.encode("utf-8")))
    size = renderer.defaultSize() if renderer.isValid() else QSize(QR_SIZE, QR_SIZE)
    pixmap = QPixmap(size)
    pixmap.fill(Qt.GlobalColor.white)
    painter = QPainter(pixmap)
    renderer.render(painter)
    painter.end()
    return pixmap


def write_private_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only (codes are secrets)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)


def _setup_of(page: QWizardPage) -> SetupWizard:
    """The wizard ``page`` belongs to (asked from Qt: pages keep no Python reference to it, so no cycle)."""
    wizard = page.wizard()
    assert isinstance(wizard, SetupWizard)
    return wizard


def emergency_code_file_text(issued: IssuedCodes) -> str:
    """What Copy and Save write for an emergency code: the code and how to use it."""
    when = issued.issued_at.strftime("%Y-%m-%d %H:%M UTC") if issued.issued_at else ""
    return (
        f"MDM Desktop emergency access code (created {when}).\n"
        "Keep sealed in the clinic safe. Use only if no administrator can sign in with an authenticator:\n"
        "Sign in > Emergency access..., with an administrator's user name and password.\n\n"
        + "\n".join(issued.codes)
        + "\n"
    )


class CodesPanel(QWidget):
    """Codes shown once: the codes, Copy, Save to file..., and a required "I have stored them" box.

    Signals:
        stored_changed(bool): the check box changed.
    """

    stored_changed = Signal(bool)

    def __init__(
        self, confirm_text: str, *, columns: int = 2, big: bool = False, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._codes: tuple[str, ...] = ()
        self._file_text = ""
        self._columns = columns
        self.suggested_name = "mdm-desktop-codes.txt"
        self.codes_view = QLabel()
        self.codes_view.setObjectName("emergencyCode" if big else "secretText")
        self.codes_view.setTextFormat(Qt.TextFormat.PlainText)
        self.codes_view.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.codes_view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.copy_button = QPushButton("&Copy")
        self.copy_button.setToolTip("Copy the codes to the clipboard (clear it after pasting them somewhere safe)")
        self.copy_button.clicked.connect(self.copy)
        self.save_button = QPushButton("&Save to file…")
        self.save_button.setToolTip("Save the codes to a text file readable only by you")
        self.save_button.clicked.connect(self._ask_save)
        self.saved_label = plain_label("", "mutedText", wrap=True)
        self.saved_label.setVisible(False)
        self.stored = QCheckBox(confirm_text)
        self.stored.setObjectName("storedCheck")
        self.stored.toggled.connect(self.stored_changed)

        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.save_button)
        buttons.addStretch(1)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(8)
        column.addWidget(self.codes_view)
        column.addLayout(buttons)
        column.addWidget(self.saved_label)
        column.addWidget(self.stored)

    def set_codes(self, codes: tuple[str, ...], file_text: str) -> None:
        """Show ``codes``; ``file_text`` is what Copy and Save write."""
        self._codes = codes
        self._file_text = file_text
        rows = (len(codes) + self._columns - 1) // self._columns
        lines = []
        for r in range(rows):
            cells = [
                f"{r + c * rows + 1:>2}. {codes[r + c * rows]}" if self._columns > 1 else codes[r + c * rows]
                for c in range(self._columns)
                if r + c * rows < len(codes)
            ]
            lines.append("      ".join(cells))
        self.codes_view.setText("\n".join(lines))

    @property
    def codes(self) -> tuple[str, ...]:
        """The codes on show."""
        return self._codes

    def copy(self) -> None:
        """Put the codes on the clipboard."""
        QGuiApplication.clipboard().setText(self._file_text)
        self.saved_label.setText("Copied. Paste them into your password manager, then clear the clipboard.")
        self.saved_label.setVisible(True)

    def _ask_save(self) -> None:
        name, _filter = QFileDialog.getSaveFileName(
            self, "Save codes", str(Path.home() / self.suggested_name), "Text files (*.txt)"
        )
        if name:
            self.save_to(Path(name))

    def save_to(self, path: Path) -> bool:
        """Write the codes to ``path`` (owner-only); say where, or why not."""
        try:
            write_private_text(path, self._file_text)
        except OSError as exc:
            self.saved_label.setText(f"Could not save to {path}: {exc.strerror or exc}. Choose another place.")
            self.saved_label.setVisible(True)
            return False
        self.saved_label.setText(f"Saved to {path}. Move the file to safe storage; do not leave it on this PC.")
        self.saved_label.setVisible(True)
        return True


class _AsyncPage(QWizardPage):
    """A page whose "Next" runs a service call first (the runner), then moves on by itself."""

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._task: Task | None = None
        self._passed = False
        self.error = plain_label("", "errorText", wrap=True)
        self.error.setVisible(False)
        self.busy = busy_bar()

    @property
    def working(self) -> bool:
        """True while the page's service call runs."""
        return self._task is not None

    def show_error(self, exc: BaseException | str) -> None:
        """Show a failure inline."""
        self.error.setText(exc if isinstance(exc, str) else error_text(exc))
        self.error.setVisible(True)

    def set_working(self, working: bool) -> None:
        """Show progress and block input while a call runs."""
        self.busy.setVisible(working)
        if working:
            self.error.setVisible(False)
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self._task is None and self.inputs_complete()

    def inputs_complete(self) -> bool:
        """True when the page's fields are filled in well enough to go on."""
        return True

    def validatePage(self) -> bool:
        if self._passed:
            return True
        if self._task is None and self.inputs_complete():
            self.set_working(True)
            self._task = self._runner.submit(self.work(), on_done=self._work_done, on_error=self._work_failed)
            self.completeChanged.emit()
        return False

    def work(self) -> Callable[[], object]:
        """The service call "Next" runs."""
        raise NotImplementedError

    def work_done(self, result: object) -> None:
        """Keep the call's result (on the GUI thread)."""

    def _work_done(self, result: object) -> None:
        self._task = None
        self.set_working(False)
        self.work_done(result)
        self._passed = True
        wizard = self.wizard()
        if wizard is not None and wizard.currentPage() is self:
            wizard.next()

    def _work_failed(self, exc: BaseException) -> None:
        self._task = None
        self.set_working(False)
        self.show_error(exc)
        self.work_failed(exc)

    def work_failed(self, exc: BaseException) -> None:
        """React to a failed call (the message is shown already)."""

    def cancel_work(self) -> None:
        """Drop a call still running (the wizard is closing)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None


class AccountPage(_AsyncPage):
    """The first administrator's user name, display name and password."""

    @property
    def setup(self) -> SetupWizard:
        """The wizard this page belongs to."""
        return _setup_of(self)

    def __init__(self, wizard: SetupWizard) -> None:
        super().__init__(wizard.runner)
        self._auth = wizard.auth
        self.setTitle("Create the first administrator")
        self.setSubTitle(
            "This account manages users, devices and settings. You will set up an authenticator app next, "
            "so keep your phone at hand."
        )
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "Create administrator")

        self.username = QLineEdit()
        self.username.setObjectName("username")
        self.username.setMaxLength(64)
        self.username.setPlaceholderText("for example it.admin")
        self.username_problems = plain_label("", "problemText", wrap=True)
        self.username_problems.setVisible(False)
        self.display_name = QLineEdit()
        self.display_name.setObjectName("displayName")
        self.display_name.setMaxLength(128)
        self.display_name.setPlaceholderText("Your name, as shown in the audit log")
        self.password = PasswordInput(wizard.auth, wizard.runner, labels=False)

        name_field = QWidget()
        name_box = QVBoxLayout(name_field)
        name_box.setContentsMargins(0, 0, 0, 0)
        name_box.setSpacing(3)
        name_box.addWidget(self.username)
        name_box.addWidget(self.username_problems)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setVerticalSpacing(10)
        form.addRow("&User name:", name_field)
        form.addRow("&Display name:", self.display_name)
        form.addRow("&Password:", self.password)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addStretch(1)
        layout.addWidget(self.error)
        layout.addWidget(self.busy)

        self.username.textChanged.connect(self._username_edited)
        self.display_name.textChanged.connect(lambda text: self.password.set_context(display_name=text.strip()))
        self.password.acceptable_changed.connect(lambda _ok: self.completeChanged.emit())

    def _username_edited(self, text: str) -> None:
        name = text.strip()
        problems = username_problems(name) if name else []
        self.username_problems.setText(" ".join(problems))
        self.username_problems.setVisible(bool(problems))
        self.password.set_context(username=name)
        self.completeChanged.emit()

    def inputs_complete(self) -> bool:
        name = self.username.text().strip()
        return bool(name) and not username_problems(name) and self.password.is_acceptable()

    def work(self) -> Callable[[], object]:
        auth = self._auth
        username, display = self.username.text().strip(), self.display_name.text().strip()
        password = self.password.password()

        def create_and_sign_in() -> SessionInfo:
            auth.create_first_admin(username, password, display)
            return auth.sign_in(username, password)

        return create_and_sign_in

    def work_done(self, result: object) -> None:
        assert isinstance(result, SessionInfo)
        self.setup.session = result
        self.password.clear()

    def set_working(self, working: bool) -> None:
        for widget in (self.username, self.display_name, self.password):
            widget.setEnabled(not working)
        super().set_working(working)


class TotpPage(_AsyncPage):
    """The authenticator app: QR code, secret as text, then a code to confirm."""

    @property
    def setup(self) -> SetupWizard:
        """The wizard this page belongs to."""
        return _setup_of(self)

    def __init__(self, wizard: SetupWizard) -> None:
        super().__init__(wizard.runner)
        self._auth = wizard.auth
        self._begin_task: Task | None = None
        self.info: TotpEnrolmentInfo | None = None
        self.setTitle("Set up your authenticator app")
        self.setSubTitle(
            "Every sign-in asks for a six-digit code from an authenticator app on your phone "
            "(for example Microsoft Authenticator, Google Authenticator, FreeOTP or Aegis)."
        )
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "Confirm code")

        self.qr = QLabel()
        self.qr.setObjectName("qrCode")
        self.qr.setMinimumSize(QR_SIZE, QR_SIZE)
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.qr.setStyleSheet("background: #ffffff; border: 1px solid #c3cbd6; border-radius: 4px;")
        self.qr.setAccessibleName("QR code for the authenticator app")
        self.steps = plain_label(
            "1. In the app, add an account and scan this QR code.\n"
            "2. No camera? Choose \u201center a setup key\u201d and type the key below.\n"
            "3. Enter the six-digit code the app now shows.",
            "",
            wrap=True,
        )
        self.account_label = plain_label("", "mutedText", wrap=True)
        self.secret = plain_label("", "secretText")
        self.secret.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.secret.setAccessibleName("Setup key")
        self.copy_secret = QPushButton("Copy key")
        self.copy_secret.clicked.connect(self._copy_secret)
        self.code = QLineEdit()
        self.code.setObjectName("totpCode")
        self.code.setPlaceholderText("123 456")
        self.code.setMaxLength(7)
        self.code.setValidator(QRegularExpressionValidator(CODE_PATTERN, self.code))
        self.code.setInputMethodHints(Qt.InputMethodHint.ImhDigitsOnly)
        self.code.setFixedWidth(140)
        self.retry_button = QPushButton("Try again")
        self.retry_button.setVisible(False)
        self.retry_button.clicked.connect(self._begin)

        right = QVBoxLayout()
        right.setSpacing(8)
        right.addWidget(self.steps)
        right.addSpacing(4)
        right.addWidget(plain_label("Account", "sectionTitle"))
        right.addWidget(self.account_label)
        right.addWidget(plain_label("Setup key (for typing in by hand)", "sectionTitle"))
        key_row = QHBoxLayout()
        key_row.addWidget(self.secret)
        key_row.addWidget(self.copy_secret, 0, Qt.AlignmentFlag.AlignBottom)
        key_row.addStretch(1)
        right.addLayout(key_row)
        code_row = QFormLayout()
        code_row.addRow("&Code from the app:", self.code)
        right.addSpacing(4)
        right.addLayout(code_row)
        right.addStretch(1)
        grid = QGridLayout()
        grid.setHorizontalSpacing(20)
        grid.addWidget(self.qr, 0, 0, Qt.AlignmentFlag.AlignTop)
        grid.addLayout(right, 0, 1)
        grid.setColumnStretch(1, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addStretch(1)
        layout.addWidget(self.error)
        layout.addWidget(self.retry_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.busy)
        self.code.textChanged.connect(lambda _t: self.completeChanged.emit())

    def initializePage(self) -> None:
        if self.info is None:
            self._begin()

    def _begin(self) -> None:
        session = self.setup.session
        if session is None or self._begin_task is not None:
            return
        auth, principal = self._auth, session.principal
        self.retry_button.setVisible(False)
        self.set_working(True)
        self._begin_task = self._runner.submit(
            lambda: auth.begin_totp_enrolment(principal), on_done=self._shown, on_error=self._begin_failed
        )

    def _shown(self, info: TotpEnrolmentInfo) -> None:
        self._begin_task = None
        self.info = info
        self.set_working(False)
        picture = qr_pixmap(info)
        self.qr.setPixmap(picture)
        self.qr.setFixedSize(picture.size() + QSize(4, 4))
        self.account_label.setText(f"{info.issuer}: {info.account}")
        groups = info.secret_grouped.split(" ")
        self.secret.setText("\n".join(" ".join(groups[i : i + 4]) for i in range(0, len(groups), 4)))
        self.code.setFocus()
        self.completeChanged.emit()
        self.setup.enrolment_shown.emit(info)

    def _begin_failed(self, exc: BaseException) -> None:
        self._begin_task = None
        self.set_working(False)
        self.show_error(exc)
        self.retry_button.setVisible(True)

    def _copy_secret(self) -> None:
        if self.info is not None:
            QGuiApplication.clipboard().setText(self.info.secret)

    def isComplete(self) -> bool:
        return self._begin_task is None and super().isComplete()

    def inputs_complete(self) -> bool:
        return self.info is not None and sum(c.isdigit() for c in self.code.text()) == 6

    def work(self) -> Callable[[], object]:
        session = self.setup.session
        assert session is not None
        auth, principal, code = self._auth, session.principal, self.code.text().replace(" ", "")

        def confirm() -> tuple[IssuedCodes, SessionInfo]:
            issued = auth.confirm_totp_enrolment(principal, code)
            # Until now the session held no permission (password only): read it as it stands now.
            return issued, auth.sessions.resume(principal.session_token, principal.workstation)

        return confirm

    def work_done(self, result: object) -> None:
        assert isinstance(result, tuple)
        issued, fresh = result
        assert isinstance(issued, IssuedCodes)
        assert isinstance(fresh, SessionInfo)
        self.setup.recovery_codes = issued
        self.setup.session = fresh

    def work_failed(self, exc: BaseException) -> None:
        self.code.clear()
        self.code.setFocus()

    def set_working(self, working: bool) -> None:
        self.code.setEnabled(not working)
        super().set_working(working)

    def cancel_work(self) -> None:
        if self._begin_task is not None:
            self._begin_task.cancel()
            self._begin_task = None
        super().cancel_work()


class RecoveryCodesPage(QWizardPage):
    """The ten recovery codes, shown once."""

    @property
    def setup(self) -> SetupWizard:
        """The wizard this page belongs to."""
        return _setup_of(self)

    def __init__(self, wizard: SetupWizard) -> None:
        super().__init__()
        self._auth = wizard.auth
        self.setTitle("Save your recovery codes")
        self.setSubTitle(
            "If you lose your phone, sign in with one of these codes instead of an app code. "
            "Each code works once. They are shown only now: MDM Desktop keeps only a fingerprint of them."
        )
        self.panel = CodesPanel(STORED_RECOVERY, columns=2)
        self.panel.stored_changed.connect(lambda _on: self.completeChanged.emit())
        layout = QVBoxLayout(self)
        layout.addWidget(self.panel)
        layout.addWidget(
            plain_label(
                "Keep them in your password manager or print them and lock them away. "
                "Anyone with your password and one of these codes can sign in as you.",
                "mutedText",
                wrap=True,
            )
        )
        layout.addStretch(1)

    def initializePage(self) -> None:
        issued = self.setup.recovery_codes
        session = self.setup.session
        if issued is None or session is None:
            return
        self.panel.suggested_name = f"mdm-desktop-recovery-codes-{session.username}.txt"
        when = issued.issued_at.strftime("%Y-%m-%d %H:%M UTC") if issued.issued_at else ""
        text = (
            f"MDM Desktop recovery codes for {session.username} (issued {when}).\n"
            "Each code works once, in place of the authenticator code.\n\n" + "\n".join(issued.codes) + "\n"
        )
        self.panel.set_codes(issued.codes, text)

    def isComplete(self) -> bool:
        return self.panel.stored.isChecked()


class EmergencyCodePage(QWizardPage):
    """The break-glass code, shown once, for the clinic safe."""

    @property
    def setup(self) -> SetupWizard:
        """The wizard this page belongs to."""
        return _setup_of(self)

    def __init__(self, wizard: SetupWizard) -> None:
        super().__init__()
        self._auth = wizard.auth
        self._runner = wizard.runner
        self._task: Task | None = None
        self.issued: IssuedCodes | None = None
        self.setTitle("Emergency access code")
        self.setSubTitle(
            "If every administrator loses their authenticator, this code (with an administrator's password) "
            "opens the console once, for a short time."
        )
        self.setFinalPage(True)
        self.explanation = plain_label(
            "Print it or write it down, seal it in an envelope and keep it in the clinic safe. It is not "
            "for everyday use: every use is recorded prominently in the audit log and must be reviewed by "
            "your security officer. Creating a new code later voids this one.",
            "warningText",
            wrap=True,
        )
        self.panel = CodesPanel(STORED_EMERGENCY, columns=1, big=True)
        self.panel.setVisible(False)
        self.panel.stored_changed.connect(lambda _on: self.completeChanged.emit())
        self.error = plain_label("", "errorText", wrap=True)
        self.error.setVisible(False)
        self.retry_button = QPushButton("Try again")
        self.retry_button.setVisible(False)
        self.retry_button.clicked.connect(self._create)
        self.busy = busy_bar()
        layout = QVBoxLayout(self)
        layout.addWidget(self.explanation)
        layout.addWidget(self.panel)
        layout.addStretch(1)
        layout.addWidget(self.error)
        layout.addWidget(self.retry_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.busy)

    def initializePage(self) -> None:
        if self.issued is None:
            self._create()

    def _create(self) -> None:
        session = self.setup.session
        if session is None or self._task is not None:
            return
        auth, principal = self._auth, session.principal
        self.retry_button.setVisible(False)
        self.error.setVisible(False)
        self.busy.setVisible(True)
        self._task = self._runner.submit(
            lambda: auth.create_emergency_code(principal), on_done=self._created, on_error=self._failed
        )

    def _created(self, issued: IssuedCodes) -> None:
        self._task = None
        self.busy.setVisible(False)
        self.issued = issued
        self.panel.suggested_name = "mdm-desktop-emergency-code.txt"
        self.panel.set_codes(issued.codes, emergency_code_file_text(issued))
        self.panel.setVisible(True)
        self.completeChanged.emit()

    def _failed(self, exc: BaseException) -> None:
        self._task = None
        self.busy.setVisible(False)
        self.error.setText(error_text(exc))
        self.error.setVisible(True)
        self.retry_button.setVisible(True)

    def isComplete(self) -> bool:
        return self.issued is not None and self.panel.stored.isChecked()

    def cancel_work(self) -> None:
        """Drop a call still running."""
        if self._task is not None:
            self._task.cancel()
            self._task = None


class SetupWizard(QWizard):
    """First administrator (on an empty store) or authenticator enrolment (with ``session``).

    After ``exec()`` returns ``Accepted``, :attr:`session` is the signed-in session (with
    ``mfa_enrolled`` True). A cancelled wizard may still leave :attr:`session` set (the account
    was created or signed in): the caller signs it out.

    Args:
        auth: The auth service.
        runner: Where service calls run.
        parent: Parent widget.
        store_description: Which store this is (shown on the first page).
        session: A session without an authenticator: enrol one (pages 2 and 3 only).

    Signals:
        enrolment_shown(object): the QR page shows a :class:`TotpEnrolmentInfo`.
    """

    enrolment_shown = Signal(object)

    def __init__(
        self,
        auth: AuthService,
        runner: TaskRunner,
        parent: QWidget | None = None,
        *,
        store_description: str = "",
        session: SessionInfo | None = None,
    ) -> None:
        super().__init__(parent)
        self.auth = auth
        self.runner = runner
        self.session: SessionInfo | None = session
        self.recovery_codes: IssuedCodes | None = None
        self.first_run = session is None

        title = "Set up MDM Desktop" if self.first_run else "Set up your authenticator"
        self.setWindowTitle(f"{title} · MDM Desktop")
        self.setWindowIcon(app_icon())
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.setModal(True)
        self.setMinimumSize(740, 520)

        self.account_page: AccountPage | None = None
        self.emergency_page: EmergencyCodePage | None = None
        if self.first_run:
            self.account_page = AccountPage(self)
            self.addPage(self.account_page)
        self.totp_page = TotpPage(self)
        self.addPage(self.totp_page)
        self.recovery_page = RecoveryCodesPage(self)
        self.addPage(self.recovery_page)
        if self.first_run:
            self.emergency_page = EmergencyCodePage(self)
            self.addPage(self.emergency_page)
        else:
            self.recovery_page.setFinalPage(True)
        if store_description and self.account_page is not None:
            store = plain_label(f"Store: {store_description}", "mutedText", wrap=True)
            store.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            page_layout = self.account_page.layout()
            if isinstance(page_layout, QVBoxLayout):
                page_layout.insertWidget(0, store)
        self.setButtonText(QWizard.WizardButton.FinishButton, "Open MDM Desktop")

    def done(self, result: int) -> None:
        """Close; calls still running are abandoned."""
        for page in (self.account_page, self.totp_page, self.emergency_page):
            if page is not None:
                page.cancel_work()
        super().done(result)
