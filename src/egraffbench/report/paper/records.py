"""Typed records of the paper's findings checked against a run (our numbers with 95 % intervals, a verdict
and its reason), and what the verdict rules share: comparisons of values with intervals, ranks, and the
names of the models the paper's findings name."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from egraffbench.report.table import Cell, Leaderboard, Row

Verdict = Literal["reproduced", "refuted", "inconclusive"]
NOT_IN_RUN = "not in this run"
NEQUIP, TORCHMDNET, EQUIFORMER = "nequip", "torchmdnet", "equiformer"
MIN_MODELS = 3  # ranked models a comparison of models needs


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Estimate(_Record):
    """A number in the unit its table header names, with its 95 % interval when there is one; `lower_bound`
    marks a censored value (the true value is at least this)."""

    value: float | None
    low: float | None = None
    high: float | None = None
    lower_bound: bool = False

    @property
    def has_interval(self) -> bool:
        """True when the interval exists and has nonzero width (a single seed gives none)."""
        return self.low is not None and self.high is not None and self.low < self.high

    @property
    def compared_as_point(self) -> bool:
        """True when a comparison uses the value alone: no interval, or a zero-width one that is not a
        censored bound (every replica at the horizon gives a median time to failure of zero width, which
        is exact, not missing)."""
        return not (self.has_interval or self.lower_bound)

    @property
    def bounds(self) -> tuple[float, float]:
        """(low, high), the value twice when there is no interval (compared as a point)."""
        assert self.value is not None
        if self.low is None or self.high is None:
            return self.value, self.value
        return self.low, self.high


class FindingRow(_Record):
    """One row of a finding's table: its text cells, then its numbers (None where there is none)."""

    labels: tuple[str, ...]
    values: tuple[Estimate | None, ...]


class FindingTable(_Record):
    """Our numbers behind a verdict: headers of the text columns, then of the number columns (with units)."""

    label_headers: tuple[str, ...]
    value_headers: tuple[str, ...]
    rows: tuple[FindingRow, ...] = ()


class PaperFinding(_Record):
    """One finding of the paper checked against a run: the paper's claim, the rule that decides the verdict,
    our numbers, the verdict and why."""

    id: str
    number: int
    claim: str
    rule: str
    table: FindingTable
    verdict: Verdict
    reason: str


@dataclass(frozen=True)
class PaperClaim:
    """A finding of the paper: its id, number, the paper's words and the rule that decides its verdict."""

    id: str
    number: int
    claim: str
    rule: str

    def checked(
        self,
        headers: tuple[tuple[str, ...], tuple[str, ...]],
        rows: Iterable[FindingRow],
        verdict: Verdict,
        reason: str,
    ) -> PaperFinding:
        """The claim checked: our numbers (text headers, number headers; rows), the verdict and why."""
        table = FindingTable(label_headers=headers[0], value_headers=headers[1], rows=tuple(rows))
        return PaperFinding(
            id=self.id,
            number=self.number,
            claim=self.claim,
            rule=self.rule,
            table=table,
            verdict=verdict,
            reason=reason,
        )


def estimate(cell: Cell, scale: float = 1.0) -> Estimate | None:
    """A leaderboard cell as an estimate in ``scale`` × store units; None without a value."""
    if cell.value is None:
        return None
    low, high = (None if v is None else v * scale for v in (cell.low, cell.high))
    return Estimate(value=cell.value * scale, low=low, high=high, lower_bound=cell.censored)


def separated(first: Estimate, second: Estimate) -> int:
    """+1 when ``first``'s interval lies wholly above ``second``'s, −1 when wholly below, 0 when they
    overlap. A value without an interval is compared as a point."""
    first_low, first_high = first.bounds
    second_low, second_high = second.bounds
    if first_low > second_high:
        return 1
    if first_high < second_low:
        return -1
    return 0


def better_side(first: Estimate, second: Estimate, better: str) -> int:
    """+1 when ``first`` is better than ``second`` (``better``: "lower" or "higher" is better) with
    separated intervals, −1 when worse, 0 when they overlap (:func:`separated`)."""
    return separated(first, second) * (1 if better == "higher" else -1)


def ranked_rows(board: Leaderboard) -> list[Row]:
    """The rows of the trained and pretrained models (reference potentials are not ranked)."""
    return [row for row in board.rows if not row.reference]


def rank_or_last(board: Leaderboard, row: Row, key: str) -> int | None:
    """``row``'s rank in column ``key``; a model without a value where another has one counts as ranked
    after all of them (the leaderboard's rule); None when no model has a value."""
    if row.cells[key].rank is not None:
        return row.cells[key].rank
    present = sum(r.cells[key].value is not None for r in ranked_rows(board))
    return present + 1 if present else None


def not_in_run(what: str) -> str:
    """The reason of a finding the run lacks the data for."""
    return f"{NOT_IN_RUN}: {what}."


def conjunction(verdicts: Sequence[Verdict]) -> Verdict:
    """A conjunction of sub-claims: refuted if one is, reproduced if all are, else inconclusive."""
    if "refuted" in verdicts:
        return "refuted"
    return "reproduced" if verdicts and all(v == "reproduced" for v in verdicts) else "inconclusive"


def point_note(used_points: bool) -> str:
    """The sentence a reason ends with when a value without an interval was compared."""
    return (
        " Some values have no interval (test errors stored before they had one, or a value of one seed) and "
        "were compared as points."
        if used_points
        else ""
    )
