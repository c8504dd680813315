"""bench-scale's counters grow series by series: a recreated agent's old series going stale is no fall in the count."""

from bench.scale import grown

OLD, NEW = (("instance", "old"),), (("instance", "new"),)


def test_a_vanished_series_counts_nothing_and_a_new_one_counts_from_zero() -> None:
    before = {"agent_accepted": {OLD: 3_936.0}}
    after = {"agent_accepted": {NEW: 2_000.0}}  # the agent was recreated; the old series went stale between readings
    assert grown(after, before) == {"agent_accepted": 2_000.0}


def test_a_series_that_grew_counts_its_growth_and_a_reset_one_counts_from_zero() -> None:
    before = {"c": {OLD: 100.0, NEW: 50.0}}
    after = {"c": {OLD: 180.0, NEW: 20.0}}
    assert grown(after, before) == {"c": 80.0 + 20.0}
