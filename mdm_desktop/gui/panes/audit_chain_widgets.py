"""Pieces of the Audit log pane that show the tamper-evident chain's state (issue 5).

- :class:`ChainBadge`: the outcome of the last verification (green intact, red damaged, grey not
  verified), in plain text;
- :class:`ChainWarningBanner`: the chain no longer extends the checkpoint this workstation remembers;
- :class:`VerifyProgressRelay`: carries progress from the worker thread to the GUI thread as a signal;
- :class:`LastVerification` / :func:`load_last_verification` / :func:`save_last_verification`: the last
  result per store (keyed by the store's checkpoint-key fingerprint) in ``QSettings``.

Everything a store or a device may have written (problem descriptions name entries and actions) is
shown with ``Qt.TextFormat.PlainText`` and cut to a bounded length.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from PySide6.QtCore import QObject, QSettings, Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QWidget

from mdm_desktop.gui.resources import icon
from mdm_desktop.services.dto import AuditProblem, AuditVerifyReport

INTACT_COLOR = "#1d7a3a"
DAMAGED_COLOR = "#b3261e"
UNKNOWN_COLOR = "#5b6878"
MAX_SHOWN = 400
"""Longest problem description shown (the rest is cut with an ellipsis)."""

_BANNER_STYLE = """
QFrame#chainWarningBanner { background: #fdecea; border: 1px solid #d9534f; border-radius: 6px; }
QFrame#chainWarningBanner QLabel { background: transparent; border: none; color: #6b1510; }
"""


def clip(text: str, limit: int = MAX_SHOWN) -> str:
    """``text`` cut to ``limit`` characters (an ellipsis marks the cut), invisible characters revealed."""
    return reveal(text if len(text) <= limit else text[: limit - 1] + "…")


_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile("[\n\r\u2028\u2029\x85]")


def reveal(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with control and bidi-override characters shown as ``⟨U+XXXX⟩``.

    Terminal escapes and right-to-left overrides in device-supplied text would otherwise hide or reorder
    what follows them (``\u202eexe.pdf`` reads as ``fdp.exe``); a line break in a one-line field could
    fake another field's line.
    """
    shown = _INVISIBLE.sub(lambda m: f"⟨U+{ord(m.group()):04X}⟩", text)
    if not keep_newlines:
        shown = _LINE_BREAKS.sub(lambda m: f"⟨U+{ord(m.group()):04X}⟩", shown)
    return shown


def problem_text(problem: AuditProblem) -> str:
    """One line naming the damage: ``entry #N modified — <description>``."""
    where = f"entry #{problem.seq} " if problem.seq is not None else ""
    return clip(f"{where}{problem.kind.value.replace('_', ' ')} — {problem.description}")


def local_time(value: dt.datetime, *, today: dt.date | None = None) -> str:
    """``HH:MM`` for today, ``YYYY-MM-DD HH:MM`` otherwise (local time)."""
    local = value.astimezone()
    if local.date() == (today or dt.datetime.now().astimezone().date()):
        return local.strftime("%H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True, slots=True)
class LastVerification:
    """The outcome of a store's last verification on this workstation."""

    at: dt.datetime
    intact: bool
    entries: int
    problem: str = ""


def _settings_group(fingerprint: str) -> str:
    return f"audit/chain-{fingerprint}"


def save_last_verification(settings: QSettings, fingerprint: str, last: LastVerification) -> None:
    """Remember ``last`` for the store whose checkpoint key has ``fingerprint``."""
    group = _settings_group(fingerprint)
    settings.setValue(f"{group}/verified_at", last.at.astimezone(dt.UTC).isoformat())
    settings.setValue(f"{group}/intact", "yes" if last.intact else "no")
    settings.setValue(f"{group}/entries", last.entries)
    settings.setValue(f"{group}/problem", clip(last.problem))


def load_last_verification(settings: QSettings, fingerprint: str) -> LastVerification | None:
    """The remembered outcome for the store, ``None`` when there is none (or it is unreadable)."""
    group = _settings_group(fingerprint)
    try:
        at = dt.datetime.fromisoformat(str(settings.value(f"{group}/verified_at", "")))
        entries = int(str(settings.value(f"{group}/entries", "0")))
    except ValueError:
        return None
    if at.tzinfo is None:
        return None
    intact = str(settings.value(f"{group}/intact", "")) == "yes"
    return LastVerification(at, intact, entries, clip(str(settings.value(f"{group}/problem", ""))))


class ChainBadge(QLabel):
    """The chain's state in one line of coloured plain text.

    ``state`` is one of ``"unknown"`` (not verified since the console started), ``"intact"`` or
    ``"damaged"``.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chainBadge")
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.state = "unknown"
        self.show_not_verified(None)

    def _set(self, state: str, text: str, color: str) -> None:
        self.state = state
        self.setText(text)
        self.setStyleSheet(f"QLabel#chainBadge {{ color: {color}; font-weight: bold; }}")

    def show_not_verified(self, last: LastVerification | None) -> None:
        """Not verified since the console started (``last``: what an earlier run found, if any)."""
        if last is None:
            self._set("unknown", "Not verified since this console started", UNKNOWN_COLOR)
            return
        when = local_time(last.at)
        if last.intact:
            text = f"Not verified since {when} (the chain was intact then: {last.entries:,} entries)"
            self._set("unknown", text, UNKNOWN_COLOR)
        else:
            text = f"Not verified since {when}, when the chain was damaged: {last.problem}"
            self._set("unknown", text, DAMAGED_COLOR)

    def show_report(self, report: AuditVerifyReport, at: dt.datetime) -> None:
        """The outcome of a verification that ended at ``at``."""
        if report.intact:
            n = report.entries_checked
            text = f"Chain intact · verified {local_time(at)} ({n:,} {'entry' if n == 1 else 'entries'})"
            self._set("intact", text, INTACT_COLOR)
        else:
            problem = problem_text(report.problem) if report.problem is not None else "damage found"
            self._set("damaged", f"Chain damaged: {problem}", DAMAGED_COLOR)


class ChainWarningBanner(QFrame):
    """A red warning: the audit trail no longer extends the checkpoint this workstation remembers."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chainWarningBanner")
        self.setStyleSheet(_BANNER_STYLE)
        picture = QLabel()
        picture.setPixmap(icon("warning").pixmap(20, 20))
        self.text_label = QLabel("")
        self.text_label.setObjectName("chainWarningText")
        self.text_label.setTextFormat(Qt.TextFormat.PlainText)
        self.text_label.setWordWrap(True)
        self.text_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row = QHBoxLayout(self)
        row.setContentsMargins(12, 8, 12, 8)
        row.setSpacing(10)
        row.addWidget(picture, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(self.text_label, 1)
        self.setVisible(False)

    def show_problem(self, problem: AuditProblem | None) -> None:
        """Show the warning for ``problem`` (hide it for ``None``)."""
        if problem is None:
            self.text_label.setText("")
            self.setVisible(False)
            return
        self.text_label.setText(
            "The audit trail no longer extends the last checkpoint this workstation saw "
            f"({clip(problem.description).rstrip('.')}). Someone may have restored an old backup or removed "
            "entries. Run Verify now and tell your security officer."
        )
        self.setVisible(True)


class VerifyProgressRelay(QObject):
    """Lives on the GUI thread; the worker emits :attr:`progressed` and Qt queues it across threads.

    Signals:
        progressed(int, int, int): (verification number, entries checked, entries in the log).
    """

    progressed = Signal(int, int, int)
