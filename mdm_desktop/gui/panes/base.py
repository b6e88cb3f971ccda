"""What every pane receives and provides."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QWidget

from mdm_desktop.app import Services
from mdm_desktop.gui.errors import ErrorReporter
from mdm_desktop.gui.session import SessionHolder
from mdm_desktop.gui.tasks import TaskRunner
from mdm_desktop.services.dto import SessionInfo


@dataclass(frozen=True, init=False)
class PaneContext:
    """Dependencies handed to each pane by the main window.

    ``session`` is always the *current* session: it reads :attr:`holder`, which the main window
    switches to the new session after the lock screen signs the user in again. So read
    ``ctx.session.principal`` when a call is prepared, not once in ``__init__``.

    Built as ``PaneContext(services, session, runner, errors, settings)`` (a holder of its own is
    made) or with ``holder=`` to share the window's holder. ``dataclasses.replace(ctx, session=s)``
    gives a context with a holder of its own for ``s``.
    """

    services: Services
    runner: TaskRunner
    errors: ErrorReporter
    settings: QSettings
    holder: SessionHolder

    def __init__(
        self,
        services: Services,
        session: SessionInfo | None = None,
        runner: TaskRunner | None = None,
        errors: ErrorReporter | None = None,
        settings: QSettings | None = None,
        holder: SessionHolder | None = None,
    ) -> None:
        if runner is None or errors is None or settings is None:
            raise TypeError("PaneContext needs runner, errors and settings.")
        if holder is None or (session is not None and session is not holder.session):
            if session is None:
                raise TypeError("PaneContext needs a session or a session holder.")
            holder = SessionHolder(session)
        object.__setattr__(self, "services", services)
        object.__setattr__(self, "runner", runner)
        object.__setattr__(self, "errors", errors)
        object.__setattr__(self, "settings", settings)
        object.__setattr__(self, "holder", holder)

    @property
    def session(self) -> SessionInfo:
        """The session to use for the next service call."""
        return self.holder.session


class Pane(QWidget):
    """A page of the main window. Loads its data lazily on first activation."""

    title: str = ""
    object_key: str = ""

    def __init__(self, ctx: PaneContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._activated = False

    def activate(self) -> None:
        """Called when the pane is shown; the first call loads data."""
        if not self._activated:
            self._activated = True
            self.refresh()

    def refresh(self) -> None:
        """Reload data from the services (off the GUI thread)."""

    def save_state(self) -> None:
        """Persist column layout and similar view state to ``ctx.settings``."""
