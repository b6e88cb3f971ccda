"""Unit of work: one transaction, one session, the field cipher at hand.

Services open a unit of work per use case::

    with self._uow(write=True) as uow:
        ...               # permission check, work, audit entry
        uow.commit()

Write units on SQLite begin with ``BEGIN IMMEDIATE`` so that concurrent
read-then-write transactions queue on the busy timeout instead of failing.
Leaving the block without ``commit()`` rolls everything back.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from mdm_desktop.store.encryption import FieldCipher
from mdm_desktop.store.engine import WRITE_OPTION, describe, translate_db_error


class UnitOfWork:
    """One database transaction with the cipher for sealed columns."""

    def __init__(self, session: Session, cipher: FieldCipher, where: str) -> None:
        self.session = session
        self.cipher = cipher
        self._where = where
        self._committed = False

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        bind = self.session.get_bind()
        return bind.dialect.name

    def __enter__(self) -> UnitOfWork:
        return self

    def commit(self) -> None:
        """Commit the transaction; driver errors become :class:`StoreError`."""
        try:
            self.session.commit()
        except DBAPIError as exc:
            self.session.rollback()
            raise translate_db_error(exc, self._where) from exc
        self._committed = True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if not self._committed:
                self.session.rollback()
        finally:
            self.session.close()
        if isinstance(exc, DBAPIError):
            raise translate_db_error(exc, self._where) from exc


class UnitOfWorkFactory:
    """Makes units of work bound to one engine and one cipher."""

    def __init__(self, engine: Engine, cipher: FieldCipher) -> None:
        self.engine = engine
        self.cipher = cipher
        self.where = describe(engine.url.render_as_string(hide_password=True)).description
        self._read = sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
        self._write = sessionmaker(
            bind=engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False, autoflush=False
        )

    def __call__(self, *, write: bool = False) -> UnitOfWork:
        maker = self._write if write else self._read
        return UnitOfWork(maker(), self.cipher, self.where)
