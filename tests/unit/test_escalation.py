"""The escalation ladder: a timeline with an injected clock, and properties over any ladder and any runs."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from mdm_desktop.domain.escalation import STEPS, Ladder, Step, describe_ladder, due_steps, next_step

T0 = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
CLINIC = Ladder(
    notify_after=dt.timedelta(hours=4),
    quarantine_after=dt.timedelta(days=3),
    lock_after=dt.timedelta(days=10),
    wipe_after=dt.timedelta(days=30),
)


def _run(ladder: Ladder, times: list[dt.datetime], rule_id: str = "passcode.required") -> list[tuple[int, Step]]:
    """Run the ladder at each time, taking what is due; return (day offset, step) in the order taken."""
    taken: list[Step] = []
    log: list[tuple[int, Step]] = []
    for now in times:
        for step in due_steps(T0, ladder, taken, now, rule_id):
            taken.append(step)
            log.append(((now - T0).days, step))
    return log


def test_timeline_with_a_daily_run() -> None:
    days = [T0 + dt.timedelta(days=d, hours=1) for d in range(0, 40)]
    assert _run(CLINIC, days) == [(1, Step.NOTIFY), (3, Step.QUARANTINE), (10, Step.LOCK), (30, Step.WIPE)]


def test_nothing_is_due_before_the_first_delay_and_each_step_exactly_at_its_delay() -> None:
    assert due_steps(T0, CLINIC, (), T0 + dt.timedelta(hours=3, minutes=59)) == ()
    assert due_steps(T0, CLINIC, (), T0 + dt.timedelta(hours=4)) == (Step.NOTIFY,)
    assert due_steps(T0, CLINIC, (Step.NOTIFY,), T0 + dt.timedelta(days=3)) == (Step.QUARANTINE,)


def test_a_late_run_takes_every_step_that_fell_due_in_order() -> None:
    assert due_steps(T0, CLINIC, (), T0 + dt.timedelta(days=11)) == (Step.NOTIFY, Step.QUARANTINE, Step.LOCK)


def test_steps_already_taken_are_not_due_again() -> None:
    now = T0 + dt.timedelta(days=11)
    assert due_steps(T0, CLINIC, (Step.NOTIFY, Step.QUARANTINE), now) == (Step.LOCK,)
    assert due_steps(T0, CLINIC, (Step.NOTIFY, Step.QUARANTINE, Step.LOCK), now) == ()


def test_never_means_never() -> None:
    ladder = Ladder(notify_after=None, lock_after=dt.timedelta(days=2))
    assert due_steps(T0, ladder, (), T0 + dt.timedelta(days=1000)) == (Step.LOCK,)
    assert not Ladder(notify_after=None).escalates


def test_notify_only_rules_never_climb() -> None:
    ladder = Ladder(
        notify_after=dt.timedelta(0),
        quarantine_after=dt.timedelta(days=1),
        wipe_after=dt.timedelta(days=2),
        notify_only_rules=frozenset({"apps.required"}),
    )
    later = T0 + dt.timedelta(days=100)
    assert due_steps(T0, ladder, (), later, "apps.required") == (Step.NOTIFY,)
    assert due_steps(T0, ladder, (), later, "apps.required:com.example.ehr") == (Step.NOTIFY,)
    assert due_steps(T0, ladder, (), later, "passcode.required") == (Step.NOTIFY, Step.QUARANTINE, Step.WIPE)


def test_failing_since_in_the_future_makes_nothing_due() -> None:
    assert due_steps(T0 + dt.timedelta(hours=1), CLINIC, (), T0) == ()


def test_only_the_wipe_needs_approval_and_only_when_the_setting_says_so() -> None:
    assert [s for s in STEPS if CLINIC.needs_approval(s)] == [Step.WIPE]
    relaxed = Ladder(wipe_after=dt.timedelta(days=1), destructive_need_approval=False)
    assert not any(relaxed.needs_approval(s) for s in STEPS)


def test_next_step_and_its_time() -> None:
    assert next_step(T0, CLINIC, ()) == (Step.NOTIFY, T0 + dt.timedelta(hours=4))
    assert next_step(T0, CLINIC, (Step.NOTIFY, Step.QUARANTINE)) == (Step.LOCK, T0 + dt.timedelta(days=10))
    assert next_step(T0, CLINIC, STEPS) is None


def test_ladder_from_policy_values() -> None:
    ladder = Ladder.from_settings(
        {
            "notify_after_hours": 4,
            "quarantine_after_days": 3,
            "lock_after_days": None,
            "wipe_after_days": 30,
            "destructive_steps_need_approval": False,
            "notify_only_rules": ("apps.required",),
        }
    )
    assert ladder == Ladder(
        notify_after=dt.timedelta(hours=4),
        quarantine_after=dt.timedelta(days=3),
        wipe_after=dt.timedelta(days=30),
        destructive_need_approval=False,
        notify_only_rules=frozenset({"apps.required"}),
    )
    assert Ladder.from_settings({}) == Ladder()


def test_ladder_in_words() -> None:
    assert describe_ladder(CLINIC) == (
        "notify after 4 hours, quarantine after 3 days, lock after 10 days, wipe after 30 days "
        "(the wipe waits for a second administrator's approval)"
    )
    assert describe_ladder(Ladder()) == "notify at once"
    assert describe_ladder(Ladder(notify_after=None)) == "no escalation"


# -- properties -----------------------------------------------------------------------------------------------

delays = st.one_of(st.none(), st.integers(0, 60 * 24 * 40).map(lambda m: dt.timedelta(minutes=m)))
ladders = st.builds(
    Ladder,
    notify_after=delays,
    quarantine_after=delays,
    lock_after=delays,
    wipe_after=delays,
    destructive_need_approval=st.booleans(),
    notify_only_rules=st.frozensets(st.sampled_from(["a.rule", "b.rule"]), max_size=2),
)
offsets = st.lists(st.integers(-60, 60 * 24 * 50), min_size=1, max_size=12).map(sorted)
rules = st.sampled_from(["a.rule", "b.rule", "c.rule"])


@given(ladders, offsets, rules)
def test_any_sequence_of_runs_takes_what_one_late_run_takes(ladder: Ladder, minutes: list[int], rule: str) -> None:
    times = [T0 + dt.timedelta(minutes=m) for m in minutes]
    taken: list[Step] = []
    for now in times:
        due = due_steps(T0, ladder, taken, now, rule)
        assert not set(due) & set(taken)  # nothing twice
        for step in due:
            delay = ladder.delay(step)
            assert delay is not None
            assert now - T0 >= delay
        taken.extend(due)
    assert set(taken) == set(due_steps(T0, ladder, (), times[-1], rule))
    assert due_steps(T0, ladder, taken, times[-1], rule) == ()  # running again at once takes nothing


@given(ladders, st.integers(0, 60 * 24 * 50), st.integers(0, 60 * 24 * 50), rules)
def test_later_is_never_less_escalated(ladder: Ladder, a: int, b: int, rule: str) -> None:
    early, late = sorted((a, b))
    first = set(due_steps(T0, ladder, (), T0 + dt.timedelta(minutes=early), rule))
    assert first <= set(due_steps(T0, ladder, (), T0 + dt.timedelta(minutes=late), rule))


@given(ladders, st.integers(0, 60 * 24 * 50))
def test_notify_only_rules_get_at_most_a_notification(ladder: Ladder, minutes: int) -> None:
    for rule in ladder.notify_only_rules:
        assert set(due_steps(T0, ladder, (), T0 + dt.timedelta(minutes=minutes), rule)) <= {Step.NOTIFY}


@given(ladders, rules)
def test_next_step_is_the_first_step_to_fall_due(ladder: Ladder, rule: str) -> None:
    found = next_step(T0, ladder, (), rule)
    if found is None:
        assert due_steps(T0, ladder, (), T0 + dt.timedelta(days=10_000), rule) == ()
        return
    step, when = found
    assert step in due_steps(T0, ladder, (), when, rule)
    assert due_steps(T0, ladder, (), when - dt.timedelta(microseconds=1), rule) == ()
