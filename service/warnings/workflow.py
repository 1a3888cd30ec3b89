"""Who may move a warning along, by level: the rules of `config/warnings.yaml`, and the
pure decisions over them (12379: draft → review → sign-off → publish; the green channel
for orange and red; lifting by any signer or a configured emergency role).

Every function here takes the warning's state and the acting person's roles and either
returns the next stage or raises WorkflowRefused naming the rule that stands in the way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from service.auth.policy import Principal
from service.auth.tokens import Role
from service.catalog import Level
from service.errors import ConfigError, Conflict, Forbidden
from service.warnings.models import Stage
from service.warnings.relay_rules import RelayRules
from service.yamlfile import YamlProblem, load_model


class WorkflowRefused(Forbidden):
    """The workflow's rules do not allow this person this step now."""


class LevelRule(BaseModel):
    """How a warning of one level is released."""

    model_config = ConfigDict(extra="forbid")
    reviews: int = Field(1, ge=0, le=3, description="Distinct reviewers needed before sign-off.")
    review_above: bool = Field(
        False,
        description="One of the reviews must come from the unit above (the city reviews a "
        "county's orange and red warnings).",
    )
    sign_at: str = Field(
        "unit",
        pattern=r"^(unit|above)$",
        description="Whose signer signs: the issuing unit's, or the unit above's.",
    )


class SmsRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    per_second: float = Field(
        100, gt=0, le=100_000, description="SMS handed to the provider per second, all senders."
    )
    max_segments: int = Field(3, ge=1, le=10, description="Segments one warning SMS may take.")


class UnitSender(BaseModel):
    """How a unit signs its warnings: its names, and the code its identifiers start with."""

    model_config = ConfigDict(extra="forbid")
    zh: str = Field(min_length=1, max_length=100, description="e.g. 青山县人民政府")
    en: str = Field("", max_length=100, description="e.g. Qingshan County Government")
    area_code: str = Field(pattern=r"^[1-9]\d{5}$", description="Six-digit GB/T 2260 code.")


class Receiver(BaseModel):
    """A downstream receiver every published warning is pushed to as CAP (HTTP POST)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9_-]{1,40}$")
    url: str = Field(pattern=r"^https?://", max_length=500)
    drills: bool = Field(False, description="Also drills and tests (CAP Exercise, Test).")


class WarningRules(BaseModel):
    """The whole of `config/warnings.yaml`."""

    model_config = ConfigDict(extra="forbid")
    sender: str = Field(
        "dutyd@linjiang.example.gov.cn",
        min_length=3,
        max_length=120,
        description="CAP `sender`: who issues, as receivers know it.",
    )
    units: dict[str, UnitSender] = Field(
        default_factory=dict,
        description="Per unit: the issuing body's names and its GB/T 2260 code.",
    )
    sender_code: str = Field(
        "000000", pattern=r"^[0-9A-Za-z]{1,12}$", description="Department part of identifiers."
    )
    levels: dict[Level, LevelRule] = Field(
        default_factory=lambda: {
            Level.IV: LevelRule(reviews=1),
            Level.III: LevelRule(reviews=1),
            Level.II: LevelRule(reviews=2, review_above=True),
            Level.I: LevelRule(reviews=2, review_above=True),
        }
    )
    emergency_levels: list[Level] = Field(
        default_factory=lambda: [Level.I, Level.II],
        description="Levels the green channel may publish at once, reviewed after.",
    )
    cancel_roles: list[Role] = Field(
        default_factory=lambda: [Role.warning_approver, Role.leader],
        description="Roles that may lift a published warning in one action.",
    )
    drill_groups: list[str] = Field(
        default_factory=lambda: ["drill"],
        min_length=1,
        description="Recipient groups that take part in drills: a drill's warnings reach "
        "only them, unless the drill lets its warnings reach the public lists.",
    )
    sms: SmsRule = Field(default_factory=SmsRule)
    public_url: str = Field("", description="Where the public page of warnings is, for SMS.")
    relay: RelayRules = Field(default_factory=RelayRules)
    receivers: list[Receiver] = Field(
        default_factory=list, description="Downstream receivers pushed every published message."
    )

    def rule(self, level: Level) -> LevelRule:
        return self.levels.get(level, LevelRule())


def load_warning_rules(path: Path | None) -> WarningRules:
    """The rules in `path`, or the defaults when there is no such file."""
    if path is None or not path.exists():
        return WarningRules()
    try:
        return load_model(path, WarningRules)
    except YamlProblem as exc:
        raise ConfigError(f"the warnings file does not load:\n{exc.message}") from None


@dataclass(frozen=True)
class Review:
    by: str
    above: bool  # the reviewer's grant covers the unit above the issuing unit


ParentOf = Callable[[str], str | None]


def _holds(
    actor: Principal, roles: set[Role] | frozenset[Role], unit: str | None, parent_of: ParentOf
) -> bool:
    return any(g.role in roles and g.covers(unit, parent_of) for g in actor.grants)


SIGNERS = frozenset({Role.warning_approver})
REVIEWERS = frozenset({Role.warning_approver})


def review_is_above(actor: Principal, unit: str, parent_of: ParentOf) -> bool:
    above = parent_of(unit)
    return above is not None and _holds(actor, REVIEWERS, above, parent_of)


def after_submit(rules: WarningRules, level: Level) -> Stage:
    return Stage.in_review if rules.rule(level).reviews > 0 else Stage.awaiting_signoff


def check_review(
    *,
    stage: Stage,
    drafted_by: str,
    reviews: list[Review],
    actor: Principal,
    unit: str,
    parent_of: ParentOf,
) -> None:
    if stage != Stage.in_review:
        raise Conflict(f"the warning is {stage.value}, not in review")
    if actor.name == drafted_by:
        raise WorkflowRefused(f"{actor.name} drafted this warning and may not review it")
    if any(r.by == actor.name for r in reviews):
        raise WorkflowRefused(f"{actor.name} has already reviewed this version")
    if not (_holds(actor, REVIEWERS, unit, parent_of) or review_is_above(actor, unit, parent_of)):
        raise WorkflowRefused(f"{actor.name} is no reviewer of {unit}'s warnings")


def after_review(rules: WarningRules, level: Level, reviews: list[Review]) -> Stage:
    """In review until enough distinct reviewers approved (one from above where asked)."""
    rule = rules.rule(level)
    enough = len({r.by for r in reviews}) >= rule.reviews
    above_ok = not rule.review_above or any(r.above for r in reviews)
    return Stage.awaiting_signoff if enough and above_ok else Stage.in_review


def check_sign(
    rules: WarningRules,
    *,
    stage: Stage,
    level: Level,
    drafted_by: str,
    actor: Principal,
    unit: str,
    parent_of: ParentOf,
) -> None:
    if stage != Stage.awaiting_signoff:
        raise Conflict(f"the warning is {stage.value}, not awaiting sign-off")
    if actor.name == drafted_by:
        raise WorkflowRefused(f"{actor.name} drafted this warning and may never sign it")
    _check_signer(rules, level, actor, unit, parent_of)


def _check_signer(
    rules: WarningRules, level: Level, actor: Principal, unit: str, parent_of: ParentOf
) -> None:
    where = unit if rules.rule(level).sign_at == "unit" else (parent_of(unit) or unit)
    if not _holds(actor, SIGNERS, where, parent_of):
        raise WorkflowRefused(
            f"a level {level.value} warning of {unit} is signed by a warning_approver of "
            f"{where}; {actor.name} is not one"
        )


def check_emergency(
    rules: WarningRules,
    *,
    stage: Stage,
    level: Level,
    drafted_by: str,
    actor: Principal,
    unit: str,
    parent_of: ParentOf,
) -> None:
    """The green channel: one authorised signer publishes at once; reviews come after."""
    if stage not in (Stage.draft, Stage.in_review, Stage.awaiting_signoff):
        raise Conflict(f"the warning is {stage.value}: nothing to publish")
    if level not in rules.emergency_levels:
        allowed = ", ".join(level.value for level in rules.emergency_levels) or "none"
        raise WorkflowRefused(
            f"the green channel is for levels {allowed}; this warning is level {level.value}"
        )
    if actor.name == drafted_by:
        raise WorkflowRefused(f"{actor.name} drafted this warning and may never sign it")
    _check_signer(rules, level, actor, unit, parent_of)


def check_cancel(rules: WarningRules, *, actor: Principal, unit: str, parent_of: ParentOf) -> None:
    """Lifting needs no second person: any signer, or a configured emergency role."""
    if not _holds(actor, set(rules.cancel_roles) | SIGNERS, unit, parent_of):
        roles = ", ".join(sorted({r.value for r in rules.cancel_roles} | {"warning_approver"}))
        raise WorkflowRefused(f"lifting a warning of {unit} needs one of {roles} there")


def check_editable(stage: Stage) -> None:
    if stage != Stage.draft:
        raise Conflict(
            f"the warning is {stage.value}: only a draft (or one sent back) can be edited"
        )
