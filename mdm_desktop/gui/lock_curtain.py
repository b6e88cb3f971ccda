"""Keeps a locked window's dialogs and message boxes out of sight until the user unlocks it.

The lock screen replaces the main window's panes, but dialogs are windows of their own: a
message box opened before the idle lock (an error, a confirmation naming a device, a policy
editor) would stay above the lock screen, showing data to whoever walks by, and a window-modal
one would even keep the lock screen from taking the password. While the window is locked,
:class:`DialogCurtain` hides every window that belongs to it (except the lock screen's own
dialogs), also those that open while it is locked (a task that ends with an error), and shows
them again, as they were, once the same user has unlocked the window. Popups (menus, open combo
box lists) are closed instead: they are never worth bringing back.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QWidget

_POPUPS = frozenset({Qt.WindowType.Popup, Qt.WindowType.ToolTip})


class DialogCurtain(QObject):
    """Hides ``window``'s dialogs while it is locked; ``lock_screen``'s own dialogs stay.

    Args:
        window: The main window.
        lock_screen: The widget that covers the window while it is locked.
    """

    def __init__(self, window: QWidget, lock_screen: QWidget) -> None:
        super().__init__(window)
        self._window = window
        self._lock_screen = lock_screen
        self._covered = False
        self._hidden: list[QWidget] = []

    @property
    def covered(self) -> bool:
        """True between :meth:`cover` and :meth:`uncover`."""
        return self._covered

    @property
    def hidden(self) -> tuple[QWidget, ...]:
        """The windows hidden now, to be shown again by :meth:`uncover`."""
        return tuple(w for w in self._hidden if shiboken6.isValid(w))

    def cover(self) -> None:
        """Hide the window's dialogs, now and as they open, until :meth:`uncover`."""
        if self._covered:
            return
        self._covered = True
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        for widget in QApplication.topLevelWidgets():
            self._hide(widget)

    def uncover(self, *, restore: bool = True) -> None:
        """Stop hiding; show the hidden dialogs again (unless ``restore`` is False: the window is closing)."""
        if not self._covered:
            return
        self._covered = False
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        hidden, self._hidden = self.hidden, []
        if restore:
            for widget in hidden:
                widget.show()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.Show
            and isinstance(watched, QWidget)
            and watched.isWindow()
            and self._belongs(watched)
        ):
            # Not from inside its show event: Qt maps the window right after it, hidden or not.
            QTimer.singleShot(0, self, lambda widget=watched: self._hide(widget))
        return False

    # ---- internals -------------------------------------------------------------------------------

    def _belongs(self, widget: QWidget) -> bool:
        """True for a window opened by the main window or anything in it, but not by the lock screen."""
        if widget is self._window:
            return False
        parent = widget.parentWidget()
        while parent is not None:
            if parent is self._lock_screen:
                return False
            if parent is self._window:
                return True
            parent = parent.parentWidget()
        return False

    def _hide(self, widget: QWidget) -> None:
        if not (self._covered and shiboken6.isValid(widget) and widget.isVisible() and self._belongs(widget)):
            return
        if widget.windowType() in _POPUPS:
            widget.close()
            return
        widget.hide()
        if widget not in self._hidden:
            self._hidden.append(widget)
            if isinstance(widget, QDialog):
                # Answered while hidden (by code: the person cannot reach it): nothing to bring back.
                widget.finished.connect(lambda _result, w=widget: self._forget(w))

    def _forget(self, widget: QWidget) -> None:
        if widget in self._hidden:
            self._hidden.remove(widget)
