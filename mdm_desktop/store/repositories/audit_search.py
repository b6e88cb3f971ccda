"""How a free-text audit search is answered: newest first, or from the index first.

A free-text search (a case-insensitive substring of an entry's action, actor, target, workstation
or details, migration 0004) can be answered two ways, which give the same entries in the same order:

- :attr:`SearchStrategy.NEWEST_FIRST` walks the matches newest first and stops after one page.
  On SQLite it is the FTS5 phrase query ``ORDER BY rowid DESC``; on PostgreSQL the primary key
  walked backwards with the ``ILIKE`` filter. Cheap when the text is common (a page of matches is
  found among the newest entries); when it is rare, FTS5 still walks the long lists of the text's
  common trigrams (``dev``, ``ice``, ...) and PostgreSQL reads most of the table.
- :attr:`SearchStrategy.INDEX_FIRST` takes the matches from the index first and orders only them.
  On SQLite the FTS5 query is the AND of the text's *rarest* trigrams (every true match holds all
  of them; the long lists of common trigrams are never read), and each candidate is then checked
  for the whole text with ``LIKE`` on its columns, after folding the two non-ASCII characters that
  FTS5's trigram tokenizer folds to ASCII (:data:`FTS5_FOLDS_TO_ASCII`): the same answer as the
  phrase query, for ASCII search text (other text always goes newest first). On PostgreSQL the
  ``ILIKE`` filter is evaluated in a materialized CTE (the pg_trgm GIN index, as a bitmap), then sorted.

:func:`choose` decides by an estimate: how often the text (on SQLite, also each of its trigrams)
occurs among the newest :data:`SAMPLE_ENTRIES` entries, which the index answers in well under a
millisecond. Text found in at least :data:`COMMON_SHARE` of them goes newest first.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Integer, column, func, literal_column, or_, select, table

from mdm_desktop.store.schema import AUDIT_SEARCH_TABLE, AuditEntry
from mdm_desktop.store.unit_of_work import UnitOfWork

SAMPLE_ENTRIES = 5_000
"""Newest entries the estimate looks at."""
COMMON_SHARE = 0.01
"""Text found in at least this share of the sample is common: a page of it lies among the newest entries."""
RARE_TRIGRAM_SHARE = 0.10
"""Trigrams found in less than this share of the sample may drive an index-first search on SQLite."""
MAX_TRIGRAM_PROBES = 16
"""Distinct trigrams of the text whose frequency is estimated (spread over the text)."""
MAX_DRIVING_TRIGRAMS = 4
"""How many of the rarest trigrams the SQLite index-first query ANDs."""

FTS5_FOLDS_TO_ASCII = {"\u017f": "s", "\u212a": "k"}
"""The non-ASCII characters that FTS5's trigram tokenizer folds to ASCII (LATIN SMALL LETTER LONG S and
KELVIN SIGN); the substring check folds them too, so it agrees with the index (a test keeps this true)."""

SEARCHED = (AuditEntry.action, AuditEntry.actor, AuditEntry.target, AuditEntry.workstation, AuditEntry.details)


class SearchStrategy(enum.StrEnum):
    """How a free-text search is answered (see the module documentation)."""

    NEWEST_FIRST = "newest_first"
    INDEX_FIRST = "index_first"


@dataclass(frozen=True, slots=True)
class SearchPlan:
    """A strategy and, for SQLite index-first, the trigrams whose AND drives the FTS5 query."""

    strategy: SearchStrategy = SearchStrategy.NEWEST_FIRST
    trigrams: tuple[str, ...] = ()


NEWEST_FIRST = SearchPlan()


def escape_like(value: str) -> str:
    """``value`` with LIKE's wildcards and its escape character (a backslash) escaped."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def fts_phrase(value: str) -> str:
    """``value`` as one FTS5 phrase, so every character is literal (operators, ``*``, ``NEAR``, quotes)."""
    return '"' + value.replace('"', '""') + '"'


def trigrams(value: str) -> list[str]:
    """The distinct trigrams of ``value`` (ASCII case folded), in order of first occurrence."""
    folded = value.lower()
    return list(dict.fromkeys(folded[i : i + 3] for i in range(len(folded) - 2)))


def _spread(items: list[str], most: int) -> list[str]:
    if len(items) <= most:
        return items
    step = (len(items) - 1) / (most - 1)
    return list(dict.fromkeys(items[round(i * step)] for i in range(most)))


def ilike_clause(value: str) -> ColumnElement[bool]:
    """PostgreSQL: ``value`` is a case-insensitive substring of one of the searched columns."""
    pattern = f"%{escape_like(value)}%"
    return or_(*(col.ilike(pattern, escape="\\") for col in SEARCHED))


def fts5_substring_clause(value: str) -> ColumnElement[bool]:
    """SQLite, ASCII ``value``: the substring test FTS5's trigram phrase query makes, without the index."""
    pattern = f"%{escape_like(value)}%"
    clauses = []
    for col in SEARCHED:
        folded: ColumnElement[str] = col.expression
        for char, ascii_char in FTS5_FOLDS_TO_ASCII.items():
            folded = func.replace(folded, char, ascii_char)
        clauses.append(folded.like(pattern, escape="\\"))
    return or_(*clauses)


def fts_match(query: str) -> ColumnElement[bool]:
    """``audit_search MATCH query``."""
    return literal_column(AUDIT_SEARCH_TABLE).op("MATCH")(query)


def _sample_floor(uow: UnitOfWork) -> int | None:
    """The id below the newest :data:`SAMPLE_ENTRIES` entries, or ``None`` when the log is smaller."""
    newest = uow.session.scalar(select(func.max(AuditEntry.id)))
    if newest is None or newest <= SAMPLE_ENTRIES:
        return None
    return int(newest) - SAMPLE_ENTRIES


_SEARCH = table(AUDIT_SEARCH_TABLE, column("rowid", Integer))


def _fts_sample(uow: UnitOfWork, query: str, floor: int) -> int:
    """How many of the entries after ``floor`` the FTS5 ``query`` matches."""
    stmt = select(func.count()).select_from(_SEARCH).where(fts_match(query), _SEARCH.c.rowid > floor)
    return int(uow.session.scalar(stmt) or 0)


def choose(uow: UnitOfWork, value: str) -> SearchPlan:
    """The cheaper way to answer a search for ``value`` (normalised search text) in ``uow``'s store."""
    floor = _sample_floor(uow)
    if floor is None:  # a small log: either way is fast
        return NEWEST_FIRST
    common = SAMPLE_ENTRIES * COMMON_SHARE
    if uow.dialect != "sqlite":
        found = uow.session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.id > floor, ilike_clause(value))
        )
        return NEWEST_FIRST if int(found or 0) >= common else SearchPlan(SearchStrategy.INDEX_FIRST)
    if not value.isascii() or _fts_sample(uow, fts_phrase(value), floor) >= common:
        return NEWEST_FIRST
    counted = sorted((_fts_sample(uow, fts_phrase(t), floor), t) for t in _spread(trigrams(value), MAX_TRIGRAM_PROBES))
    rare = [t for n, t in counted if n < SAMPLE_ENTRIES * RARE_TRIGRAM_SHARE][:MAX_DRIVING_TRIGRAMS]
    if not rare:
        return NEWEST_FIRST
    return SearchPlan(SearchStrategy.INDEX_FIRST, tuple(rare))


def forced(strategy: SearchStrategy, value: str, dialect: str) -> SearchPlan:
    """The plan of ``strategy`` for ``value`` regardless of the estimate (tests compare the two ways).

    On SQLite an index-first plan ANDs the first :data:`MAX_DRIVING_TRIGRAMS` trigrams; non-ASCII text
    is always answered newest first there.
    """
    if strategy is SearchStrategy.NEWEST_FIRST:
        return NEWEST_FIRST
    if dialect != "sqlite":
        return SearchPlan(SearchStrategy.INDEX_FIRST)
    if not value.isascii():
        return NEWEST_FIRST
    return SearchPlan(SearchStrategy.INDEX_FIRST, tuple(trigrams(value)[:MAX_DRIVING_TRIGRAMS]))
