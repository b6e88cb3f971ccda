"""Fixtures for GUI tests; they live in :mod:`tests.gui.fleet` (test data and pane contexts)."""

from tests.gui.fleet import admin_session, fleet, pane_ctx, runner, settings  # noqa: F401
