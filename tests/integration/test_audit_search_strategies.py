"""The two ways of answering a free-text audit search give the same entries, pages and counts.

Newest first (the FTS5 phrase query on SQLite, the keyset walk with ILIKE on PostgreSQL) and index
first (the AND of the rarest trigrams and a substring check on SQLite, a materialized trigram-index
CTE on PostgreSQL) are compared on the same data, including text that case folding treats specially;
the estimate picks index first for rare text and newest first for common text.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mdm_desktop.app import AppContext
from mdm_desktop.domain.accounts import Principal
from mdm_desktop.domain.audit import Outcome
from mdm_desktop.services.audit_log import AuditLog
from mdm_desktop.services.dto import AuditCursor, AuditQuery
from mdm_desktop.store.repositories import audit as repo
from mdm_desktop.store.repositories import audit_search
from mdm_desktop.store.repositories.audit_search import FTS5_FOLDS_TO_ASCII, SearchStrategy
from tests.integration.fixtures_data import NOW, add_audit_entries, store_keys

STRATEGIES = (SearchStrategy.NEWEST_FIRST, SearchStrategy.INDEX_FIRST)

ODD_TEXT = (
    "\u212aelvin-probe",  # KELVIN SIGN: FTS5 folds it to "k"
    "Ma\u017fs-spectrometer",  # LONG S: folded to "s"
    "M\u00fcller-Station",
    "\u0130stanbul-clinic",  # DOTTED CAPITAL I: not folded to ASCII by FTS5
    "ward_7%done",
    'quote "inside" here',
    "back\\slash\\path",
    "DEVICE-012345-SPARE",
    "tab\there",
)


def _write_odd(ctx: AppContext) -> None:
    times = iter([NOW + dt.timedelta(seconds=i) for i in range(len(ODD_TEXT) * 2)])
    log = AuditLog(store_keys(ctx).audit, lambda: next(times))
    with ctx.uow(write=True) as uow:
        for i, value in enumerate(ODD_TEXT):
            who = Principal(kind="user", id=None, name=f"user-{i}", role=None, workstation=value)
            log.record(uow, who, "devices.rename", target_kind="device", target=value, details={"name": value})
            log.record(uow, who, "devices.note", target_kind="device", target=f"plain-{i}", details={"n": i})
        uow.commit()


@pytest.fixture
def search_ctx(app_ctx: AppContext) -> AppContext:
    add_audit_entries(app_ctx, 400)
    _write_odd(app_ctx)
    add_audit_entries(app_ctx, 100, start=NOW + dt.timedelta(hours=1), seed=9)
    return app_ctx


def pages(ctx: AppContext, query: AuditQuery, limit: int, strategy: SearchStrategy) -> list[list[int]]:
    """Every page of ``query`` answered with ``strategy``, as lists of ids."""
    out: list[list[int]] = []
    cursor: AuditCursor | None = None
    while True:
        with ctx.uow() as uow:
            page = repo.list_page(uow, query, cursor, limit, strategy=strategy)
        out.append([e.id for e in page.rows])
        if page.next_cursor is None:
            return out
        cursor = page.next_cursor


def counted(ctx: AppContext, query: AuditQuery, strategy: SearchStrategy) -> int:
    with ctx.uow() as uow:
        return repo.count(uow, query, strategy=strategy)


def assert_same(ctx: AppContext, query: AuditQuery, limits: tuple[int, ...] = (1, 7, 200)) -> list[int]:
    """Both strategies give the same pages (for each page size) and count; returns the matching ids."""
    everything: list[int] = []
    for limit in limits:
        newest, indexed = (pages(ctx, query, limit, s) for s in STRATEGIES)
        assert newest == indexed, (query, limit)
        everything = [i for page in newest for i in page]
    assert counted(ctx, query, SearchStrategy.NEWEST_FIRST) == counted(ctx, query, SearchStrategy.INDEX_FIRST)
    assert counted(ctx, query, SearchStrategy.NEWEST_FIRST) == len(everything)
    return everything


@pytest.mark.parametrize(
    "query",
    [
        AuditQuery(text="lost phone"),
        AuditQuery(text="device-0012"),
        AuditQuery(text="DEVICE-01"),
        AuditQuery(text="kelvin"),
        AuditQuery(text="KELVIN-PROBE"),
        AuditQuery(text="mass-spec"),
        AuditQuery(text="ller-sta"),
        AuditQuery(text="stanbul"),
        AuditQuery(text="d_7%d"),
        AuditQuery(text='"inside"'),
        AuditQuery(text="k\\slash"),
        AuditQuery(text="012345-spare"),
        AuditQuery(text="no such thing"),
        AuditQuery(text="routine", actor="jdoe", outcome=Outcome.SUCCESS),
        AuditQuery(text="policy-0", action="policies.", since=NOW - dt.timedelta(days=25)),
        AuditQuery(text="routine", until=NOW - dt.timedelta(days=28)),
    ],
)
def test_both_strategies_give_the_same_pages(search_ctx: AppContext, query: AuditQuery) -> None:
    assert_same(search_ctx, query)


def test_folded_characters_are_found_both_ways(search_ctx: AppContext) -> None:
    kelvin = assert_same(search_ctx, AuditQuery(text="kelvin-probe"))
    long_s = assert_same(search_ctx, AuditQuery(text="mass-spectro"))
    if search_ctx.engine.dialect.name == "sqlite":  # PostgreSQL's ILIKE folds as its locale does
        assert len(kelvin) == len(long_s) == 2  # the two entries from that workstation


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_substring_gives_the_same_answer(search_ctx: AppContext, data: st.DataObject) -> None:
    source = data.draw(st.sampled_from([*ODD_TEXT, "frontdesk-01", "lost phone reported", "devices.rename"]))
    start = data.draw(st.integers(0, len(source) - 3))
    end = data.draw(st.integers(start + 3, len(source)))
    needle = data.draw(st.sampled_from([source[start:end], source[start:end].upper(), source[start:end] + "x"]))
    if len(" ".join(needle.split())) < 3:
        return
    assert_same(search_ctx, AuditQuery(text=needle), limits=(5,))


def test_estimate_picks_index_first_for_rare_text(search_ctx: AppContext, monkeypatch: Any) -> None:
    monkeypatch.setattr(audit_search, "SAMPLE_ENTRIES", 300)
    with search_ctx.uow() as uow:
        rare = repo.plan_for(uow, AuditQuery(text="kelvin-probe"))
        common = repo.plan_for(uow, AuditQuery(text="routine"))
        blank = repo.plan_for(uow, AuditQuery())
    assert rare.strategy is SearchStrategy.INDEX_FIRST
    if search_ctx.engine.dialect.name == "sqlite":
        assert rare.trigrams
        assert all(t in "kelvin-probe" for t in rare.trigrams)
    assert common.strategy is SearchStrategy.NEWEST_FIRST
    assert blank.strategy is SearchStrategy.NEWEST_FIRST
    # The service answers with the estimate: the same entries as either forced strategy.
    assert_same(search_ctx, AuditQuery(text="kelvin-probe"))


def test_small_logs_search_newest_first(search_ctx: AppContext) -> None:
    with search_ctx.uow() as uow:
        assert repo.plan_for(uow, AuditQuery(text="kelvin-probe")) == audit_search.NEWEST_FIRST


def test_non_ascii_text_is_never_index_first_on_sqlite() -> None:
    plan = audit_search.forced(SearchStrategy.INDEX_FIRST, "m\u00fcller", "sqlite")
    assert plan.strategy is SearchStrategy.NEWEST_FIRST
    assert audit_search.forced(SearchStrategy.INDEX_FIRST, "m\u00fcller", "postgresql").strategy is (
        SearchStrategy.INDEX_FIRST
    )


def test_fts5_folds_exactly_these_characters_to_ascii() -> None:
    """The substring check's fold table matches this SQLite's trigram tokenizer, character by character."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("CREATE VIRTUAL TABLE f USING fts5(x, tokenize='trigram')")
        conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(f, 'instance')")
        points = [cp for cp in range(0x80, 0x110000) if not 0xD800 <= cp <= 0xDFFF]
        chunk = 4096
        for i in range(0, len(points), chunk):
            text = "".join("a" + chr(cp) + "a|||" for cp in points[i : i + chunk])
            conn.execute("INSERT INTO f (rowid, x) VALUES (?, ?)", (i // chunk + 1, text))
        folded: dict[str, str] = {}
        for term, doc, _col, offset in conn.execute("SELECT term, doc, col, offset FROM v"):
            if len(term) == 3 and term[0] == term[2] == "a" and term[1].isascii():
                folded[chr(points[(doc - 1) * chunk + offset // 6])] = term[1]
    finally:
        conn.close()
    assert folded == FTS5_FOLDS_TO_ASCII
