"""The registry of audited operations: every service method that changes state, and what it records.

Mark each such method with :func:`mutating`, naming the operation and the audit action(s) its
success writes::

    from mdm_desktop.services.operations import mutating

    class CommandService:
        @mutating("commands.send")
        def send(self, actor: Principal, ...) -> CommandInfo:
            ...
            self._audit.record(uow, fresh, "commands.send", ...)

The decorator returns the method unchanged (no wrapper, no change of behaviour); it only adds an
:class:`Operation` to the registry, which :func:`registered_operations` lists. The test
``tests/integration/test_audit_coverage.py`` holds a call recipe for every registered operation,
fails when one is missing (so a new operation cannot go unaudited unnoticed), calls each and checks
that it wrote exactly ``entries`` new audit entries, the last of them with the registered action;
a second test calls the permission-gated ones as a principal without the permission and checks
that the refusal is audited (outcome ``denied``) and nothing else changed.

Conventions:

- The operation name is the audit action its success writes (``users.create``), unless the method
  writes another action as well or instead; pass those as ``actions`` (the first is the one the
  success writes last).
- ``entries`` is how many entries one successful call writes; ``0`` for a batch whose number
  depends on the data (``expire_due``: one per expired grant; ``demo.generate``: the history plus
  one), which its recipe states.
- Activity bookkeeping is not an audited operation: validating or touching a session only moves its
  ``last_seen_at`` (the end of a session, which is a security event, is audited by the validation).
- Read-only methods are not registered, except reads that are themselves audited accesses to
  protected data (``devices.view_identifiers``), which must be covered all the same.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Operation:
    """One audited service operation.

    Attributes:
        name: Unique operation name (by convention the audit action its success writes).
        actions: The audit actions the operation writes; ``actions[0]`` is the one its success writes last.
        entries: Audit entries one successful call writes (``0``: depends on the data; see the recipe).
        module: The service module.
        qualname: ``Class.method`` of the operation.
    """

    name: str
    actions: tuple[str, ...]
    entries: int
    module: str
    qualname: str

    @property
    def action(self) -> str:
        """The audit action a successful call writes (last)."""
        return self.actions[0]


_REGISTRY: dict[str, Operation] = {}
"""Filled once, at import time, by the :func:`mutating` decorators (never changed afterwards)."""


def mutating(name: str, *actions: str, entries: int = 1) -> Callable[[F], F]:
    """Register the decorated service method as the audited operation ``name``.

    Args:
        name: Unique operation name; by convention the audit action its success writes.
        *actions: The audit actions it writes, when they differ from ``name`` (the first is written
            last on success).
        entries: Audit entries one successful call writes; ``0`` when that depends on the data.

    Raises:
        ValueError: ``name`` is registered already (two methods cannot share an operation), or
            ``entries`` is negative.
    """
    if entries < 0:
        raise ValueError("entries must not be negative")

    def register(fn: F) -> F:
        op = Operation(name, tuple(actions) or (name,), entries, fn.__module__, fn.__qualname__)
        known = _REGISTRY.get(name)
        if known is not None and (known.module, known.qualname) != (op.module, op.qualname):
            raise ValueError(f"operation {name!r} is registered twice ({known.qualname} and {op.qualname})")
        _REGISTRY[name] = op
        fn.__mdm_operation__ = op  # type: ignore[attr-defined]
        return fn

    return register


def operation_of(fn: Callable[..., Any]) -> Operation | None:
    """The operation a method was registered as, or ``None``."""
    found = getattr(fn, "__mdm_operation__", None)
    return found if isinstance(found, Operation) else None


def registered_operations() -> tuple[Operation, ...]:
    """Every registered operation, by name (imports every service module first, so none is missed)."""
    package = importlib.import_module("mdm_desktop.services")
    for info in pkgutil.iter_modules(package.__path__, "mdm_desktop.services."):
        importlib.import_module(info.name)
    return tuple(_REGISTRY[name] for name in sorted(_REGISTRY))
