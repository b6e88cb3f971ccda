"""Step-up, asked for centrally: a call refused for want of a fresh code asks for one, then runs again once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtWidgets import QWidget

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import StepUpRequiredError
from mdm_desktop.gui.dialogs.step_up_dialog import StepUpDialog, StepUpHandler
from mdm_desktop.gui.errors import ErrorReporter, StepUpCancelledError
from mdm_desktop.gui.session import SessionHolder
from mdm_desktop.gui.tasks import TaskRunner
from mdm_desktop.services.dto import IssuedCodes, SessionInfo
from mdm_desktop.services.sessions import STEP_UP_FAILED
from tests.conftest import sign_in_admin, totp_code
from tests.gui.security_gui import advance


class Results:
    def __init__(self) -> None:
        self.done: list[Any] = []
        self.errors: list[BaseException] = []
        self.calls = 0


@pytest.fixture
def handler(qtbot, sqlite_ctx: AppContext, runner: TaskRunner) -> Iterator[StepUpHandler]:
    window = QWidget()  # kept referenced here: the handler is its child
    qtbot.addWidget(window)
    holder = SessionHolder(sign_in_admin(sqlite_ctx))
    advance(sqlite_ctx, minutes=6)  # past the step-up window of the enrolment, within the idle timeout
    step_up = StepUpHandler(sqlite_ctx.services.sessions, holder, runner, window)
    yield step_up
    step_up.uninstall()
    del window


def submit_emergency_code(ctx: AppContext, runner: TaskRunner, session: SessionInfo, results: Results) -> None:
    auth = ctx.services.auth

    def call() -> IssuedCodes:
        results.calls += 1
        return auth.create_emergency_code(session.principal)  # users.manage + a fresh step-up

    runner.submit(call, on_done=results.done.append, on_error=results.errors.append)


def test_step_up_then_the_call_runs_again(qtbot, sqlite_ctx: AppContext, runner: TaskRunner, handler) -> None:
    session = sign_in_admin(sqlite_ctx)
    results = Results()
    with qtbot.waitSignal(handler.dialog_opened, timeout=10_000) as opened:
        submit_emergency_code(sqlite_ctx, runner, session, results)
    dialog = opened.args[0]
    assert isinstance(dialog, StepUpDialog)
    assert dialog.isVisible()
    assert results.calls == 1
    assert results.errors == []  # the pane's error handler never saw the refusal
    assert not dialog.confirm_button.isEnabled()

    dialog.code.setText("000000")
    with qtbot.waitSignal(dialog.failed, timeout=10_000) as failed:
        dialog.confirm_button.click()
    assert STEP_UP_FAILED in failed.args[0]
    assert dialog.isVisible()
    assert dialog.code.text() == ""

    dialog.code.setText(totp_code(sqlite_ctx))
    dialog.confirm_button.click()
    qtbot.waitUntil(lambda: bool(results.done), timeout=10_000)
    assert results.calls == 2
    assert isinstance(results.done[0], IssuedCodes)
    assert results.errors == []
    assert handler.dialog is None


def test_several_refusals_share_one_dialog(qtbot, sqlite_ctx: AppContext, runner: TaskRunner, handler) -> None:
    session = sign_in_admin(sqlite_ctx)
    first, second = Results(), Results()
    opened: list[object] = []
    handler.dialog_opened.connect(opened.append)
    submit_emergency_code(sqlite_ctx, runner, session, first)
    submit_emergency_code(sqlite_ctx, runner, session, second)
    qtbot.waitUntil(lambda: first.calls == 1 and second.calls == 1 and runner.pending == 0, timeout=10_000)
    assert len(opened) == 1
    assert handler.dialog is not None
    handler.dialog.code.setText(totp_code(sqlite_ctx))
    handler.dialog.submit()
    qtbot.waitUntil(lambda: bool(first.done) and bool(second.done), timeout=10_000)


def test_cancel_tells_the_caller_quietly(qtbot, sqlite_ctx: AppContext, runner: TaskRunner, handler) -> None:
    session = sign_in_admin(sqlite_ctx)
    results = Results()
    with qtbot.waitSignal(handler.dialog_opened, timeout=10_000) as opened:
        submit_emergency_code(sqlite_ctx, runner, session, results)
    opened.args[0].reject()
    assert len(results.errors) == 1
    error = results.errors[0]
    assert isinstance(error, StepUpCancelledError)
    assert isinstance(error, StepUpRequiredError)
    assert results.calls == 1
    parent = QWidget()
    qtbot.addWidget(parent)
    reporter = ErrorReporter(parent)
    reporter.report(error)
    assert reporter.last is None  # no message box: the person cancelled, they know


def test_a_second_refusal_reaches_the_caller(qtbot, sqlite_ctx: AppContext, runner: TaskRunner, handler) -> None:
    results = Results()

    def always_refused() -> None:
        results.calls += 1
        raise StepUpRequiredError("test.action")

    with qtbot.waitSignal(handler.dialog_opened, timeout=10_000) as opened:
        runner.submit(always_refused, on_done=results.done.append, on_error=results.errors.append)
    dialog = opened.args[0]
    dialog.code.setText(totp_code(sqlite_ctx))
    dialog.submit()
    qtbot.waitUntil(lambda: bool(results.errors), timeout=10_000)
    assert results.calls == 2  # retried exactly once
    assert type(results.errors[0]) is StepUpRequiredError


def test_without_the_handler_the_error_is_plain(qtbot, sqlite_ctx: AppContext, runner: TaskRunner) -> None:
    results = Results()
    sign_in_admin(sqlite_ctx)
    advance(sqlite_ctx, minutes=6)
    submit_emergency_code(sqlite_ctx, runner, sign_in_admin(sqlite_ctx), results)
    qtbot.waitUntil(lambda: bool(results.errors), timeout=10_000)
    assert isinstance(results.errors[0], StepUpRequiredError)
