"""The reusable new-password widget: live meter, inline problems, confirmation, checks off the GUI thread."""

from __future__ import annotations

from mdm_desktop.app import AppContext
from mdm_desktop.gui.tasks import TaskRunner
from mdm_desktop.gui.widgets.password_input import MISMATCH, PasswordInput
from mdm_desktop.services.dto import PasswordFeedback

GOOD = "amber falcon drifts softly 27"


def make_input(qtbot, ctx: AppContext, runner: TaskRunner) -> PasswordInput:
    widget = PasswordInput(ctx.services.auth, runner, debounce_ms=10)
    qtbot.addWidget(widget)
    widget.resize(460, 220)
    widget.show()
    return widget


def test_service_assesses_with_the_site_policy(sqlite_ctx: AppContext) -> None:
    short = sqlite_ctx.services.auth.assess_password("short")
    assert isinstance(short, PasswordFeedback)
    assert not short.acceptable
    assert any("at least 12" in p for p in short.problems)
    built_on_name = sqlite_ctx.services.auth.assess_password("it.admin-password", "it.admin")
    assert any("user name" in p for p in built_on_name.problems)
    good = sqlite_ctx.services.auth.assess_password(GOOD, "it.admin", "Dana Lee")
    assert good.acceptable
    assert good.score >= 3
    assert good.problems == ()


def test_meter_and_problems_follow_typing(qtbot, sqlite_ctx: AppContext, runner: TaskRunner) -> None:
    widget = make_input(qtbot, sqlite_ctx, runner)
    assert not widget.is_acceptable()
    assert not widget.problems_label.isVisible()

    with qtbot.waitSignal(widget.checked, timeout=5000):
        qtbot.keyClicks(widget.password_edit, "short")
    assert "at least 12 characters" in widget.problems_label.text()
    assert widget.problems_label.isVisible()
    assert widget.strength_label.text() in {"Very weak", "Weak"}
    assert widget.meter.property("level") == "weak"

    widget.set_context(username="it.admin")
    with qtbot.waitSignal(widget.checked, timeout=5000):
        widget.password_edit.setText("it.admin-password")
    assert "user name" in widget.problems_label.text()

    with qtbot.waitSignal(widget.acceptable_changed, timeout=5000) as changed:
        widget.password_edit.setText(GOOD)
        qtbot.keyClicks(widget.repeat_edit, GOOD)
    assert changed.args == [True]
    assert widget.is_acceptable()
    assert widget.meter.property("level") == "strong"
    assert widget.password() == GOOD

    with qtbot.waitSignal(widget.acceptable_changed, timeout=1000) as changed:
        widget.repeat_edit.setText(GOOD[:-1])
    assert changed.args == [False]
    assert widget.mismatch_label.isVisible()
    assert widget.mismatch_label.text() == MISMATCH


def test_stale_replies_are_dropped(qtbot, sqlite_ctx: AppContext, runner: TaskRunner) -> None:
    widget = make_input(qtbot, sqlite_ctx, runner)
    widget.password_edit.setText("short")
    widget.check_now()
    with qtbot.waitSignal(widget.checked, timeout=5000) as arrived:
        widget.password_edit.setText(GOOD)
    assert arrived.args[0].acceptable  # the reply for "short" never showed
    assert widget.feedback is not None
    assert widget.feedback.acceptable


def test_a_failing_check_says_so_in_plain_words(qtbot, runner: TaskRunner) -> None:
    class Broken:
        def assess_password(self, password: str, username: str = "", display_name: str = "") -> PasswordFeedback:
            raise RuntimeError("store down")

    widget = PasswordInput(Broken(), runner, debounce_ms=10, confirm=False)
    qtbot.addWidget(widget)
    widget.show()
    widget.password_edit.setText(GOOD)
    qtbot.waitUntil(lambda: widget.problems_label.isVisible(), timeout=5000)
    assert "could not be checked" in widget.problems_label.text()
    assert not widget.is_acceptable()
