"""Leader-on-shift rules, per unit, as written in `config/duty_rules.yaml`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service.durations import Duration
from service.errors import RosterInvalid
from service.roster.models import ROTATING_ROLES
from service.roster.roster import Roster
from service.yamlfile import YamlProblem, read_yaml_document, validation_problems


class _Partial(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoleRules(_Partial):
    min_count: int | None = Field(
        None, ge=0, le=10, description="At least this many, every minute."
    )
    min_rank: int | None = Field(None, ge=1, le=10, description="Each holder at least this rank.")
    max_consecutive_shifts: int | None = Field(None, ge=1, le=60)
    min_rest: Duration | None = Field(None, description="Rest between two stretches of duty.")


class UnitRules(_Partial):
    duty_officer: RoleRules = Field(default_factory=RoleRules)
    leader_on_shift: RoleRules = Field(default_factory=RoleRules)
    leader_not_duty_officer: bool | None = None
    contact_required: bool | None = None


class RulesDocument(_Partial):
    defaults: UnitRules = Field(default_factory=UnitRules)
    enhanced: UnitRules = Field(
        default_factory=UnitRules,
        description="Applied on public holidays and in sensitive periods.",
    )
    units: dict[str, UnitRules] = Field(default_factory=dict)
    enhanced_units: dict[str, UnitRules] = Field(default_factory=dict)
    warn_days_ahead: int = Field(
        7, ge=1, le=90, description="The daily check looks this far ahead."
    )


class EffectiveRoleRules(BaseModel):
    model_config = ConfigDict(frozen=True)

    min_count: int = 1
    min_rank: int = 1
    max_consecutive_shifts: int | None = None
    min_rest: timedelta | None = None


class EffectiveRules(BaseModel):
    model_config = ConfigDict(frozen=True)

    duty_officer: EffectiveRoleRules = EffectiveRoleRules()
    leader_on_shift: EffectiveRoleRules = EffectiveRoleRules()
    leader_not_duty_officer: bool = True
    contact_required: bool = True


def _overlay(base: EffectiveRules, layer: UnitRules | None) -> EffectiveRules:
    if layer is None:
        return base
    changes: dict[str, object] = {}
    for role in ROTATING_ROLES:
        given = {name: value for name, value in getattr(layer, role) if value is not None}
        changes[role] = getattr(base, role).model_copy(update=given)
    for flag in ("leader_not_duty_officer", "contact_required"):
        if getattr(layer, flag) is not None:
            changes[flag] = getattr(layer, flag)
    return base.model_copy(update=changes)


class DutyRules:
    """Resolved rules for a unit, normal or enhanced; computed once per unit."""

    def __init__(self, document: RulesDocument) -> None:
        self.document = document
        self._cache: dict[tuple[str, bool], EffectiveRules] = {}

    def for_unit(self, unit_id: str, *, enhanced: bool) -> EffectiveRules:
        key = (unit_id, enhanced)
        if key not in self._cache:
            doc = self.document
            rules = _overlay(EffectiveRules(), doc.defaults)
            rules = _overlay(rules, doc.units.get(unit_id))
            if enhanced:
                rules = _overlay(rules, doc.enhanced)
                rules = _overlay(rules, doc.enhanced_units.get(unit_id))
            self._cache[key] = rules
        return self._cache[key]


def load_rules(path: Path, roster: Roster) -> DutyRules:
    """Load the rules file; unknown units and malformed values are errors with their place."""
    if not path.exists():
        return DutyRules(RulesDocument())
    try:
        document = read_yaml_document(path)
    except YamlProblem as exc:
        raise RosterInvalid(exc.problems) from None
    try:
        rules = RulesDocument.model_validate(document.data or {})
    except ValidationError as exc:
        raise RosterInvalid(validation_problems(document, exc)) from None
    problems = [
        document.problem((section, unit_id), f"unknown unit {unit_id!r}", key=True)
        for section in ("units", "enhanced_units")
        for unit_id in getattr(rules, section)
        if unit_id not in roster.units
    ]
    if problems:
        raise RosterInvalid(problems)
    return DutyRules(rules)
