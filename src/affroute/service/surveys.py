"""Post-resolution surveys: issued on solve, delivered behind signed single-use links, answered.

A survey is scheduled when a ticket is solved (if the configuration's survey policy wants
one), becomes available ``delay`` later, may be reminded once, and expires. The link
carries the survey id signed with a server-side key (itsdangerous), so it cannot be
guessed or altered; the database makes it single-use and enforces its expiry. Responses
may also come from an external survey tool (webhook or CSV), matched by ticket id or
external id and deduplicated by the tool's response id.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial

import httpx
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from affroute.config import SurveyPolicy
from affroute.domain import TicketStatus
from affroute.feedback.outcomes import engagement_band as outcome_band
from affroute.service import outbox, webhooks
from affroute.service.errors import ConflictError, InvalidInputError, NotFoundError
from affroute.service.events import record_event
from affroute.service.runtime import Routing, RoutingCache
from affroute.service.uow import UnitOfWork
from affroute.store.models import PartnerRow, SecretRow, SurveyRow, TicketRow

_LINK_SECRET = "survey_links"
RETRY_AFTER = timedelta(minutes=1)
MAX_RETRY_AFTER = timedelta(hours=1)
_SALT = "affroute.survey-link"


class SurveyStatus(StrEnum):
    SCHEDULED = "scheduled"  # waiting for its delay after the solve
    SENT = "sent"  # the link is live
    ANSWERED = "answered"
    EXPIRED = "expired"


class ResponseSource(StrEnum):
    PAGE = "page"
    WEBHOOK = "webhook"
    IMPORT = "import"


class LinkProblem(StrEnum):
    INVALID = "invalid"  # altered, truncated or made up
    EXPIRED = "expired"
    USED = "used"
    NOT_YET = "not_yet"


class LinkRefused(Exception):  # noqa: N818 - a refusal the survey page explains
    def __init__(self, problem: LinkProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def engagement_band(percentile: float | None) -> str:
    return "unknown" if percentile is None else outcome_band(percentile).value


# -- links ----------------------------------------------------------------------------------


def _signer(session: Session, now: datetime) -> URLSafeSerializer:
    """The link signer, with the key shared by every worker (made on first use)."""
    row = session.get(SecretRow, _LINK_SECRET)
    if row is None:
        row = SecretRow(name=_LINK_SECRET, value=secrets.token_hex(32), created_at=now)
        session.add(row)
        session.flush()
    return URLSafeSerializer(row.value, salt=_SALT)


def link_token(session: Session, survey: SurveyRow, now: datetime) -> str:
    return _signer(session, now).dumps(survey.id)


def survey_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/s/{token}"


def open_link(session: Session, token: str, now: datetime) -> SurveyRow:
    """The survey a link points to, if it may still be answered; otherwise say why not."""
    try:
        survey_id = _signer(session, now).loads(token)
    except BadSignature:
        raise LinkRefused(LinkProblem.INVALID) from None
    survey = session.get(SurveyRow, survey_id) if isinstance(survey_id, str) else None
    if survey is None:
        raise LinkRefused(LinkProblem.INVALID)
    if survey.status == SurveyStatus.ANSWERED.value:
        raise LinkRefused(LinkProblem.USED)
    if survey.status == SurveyStatus.SCHEDULED.value:
        raise LinkRefused(LinkProblem.NOT_YET)
    if survey.status == SurveyStatus.EXPIRED.value or (
        survey.expires_at is not None and survey.expires_at <= now
    ):
        raise LinkRefused(LinkProblem.EXPIRED)
    return survey


# -- issuing --------------------------------------------------------------------------------


def skip_reason(
    session: Session, policy: SurveyPolicy, ticket: TicketRow, now: datetime
) -> str | None:
    """Why this solved ticket gets no survey, or None if it gets one."""
    if not policy.enabled:
        return "surveys are turned off"
    skipped = policy.skip_tags.intersection(ticket.tags)
    if skipped:
        return f"tagged {sorted(skipped)[0]!r}"
    if ticket.category in policy.skip_categories:
        return f"category {ticket.category!r} is not surveyed"
    if session.scalar(select(SurveyRow.id).where(SurveyRow.ticket_id == ticket.id)):
        return "this ticket was surveyed already"
    if policy.partner_cooldown is not None and ticket.partner_id is not None:
        recent = session.scalar(
            select(SurveyRow.id)
            .where(
                SurveyRow.partner_id == ticket.partner_id,
                SurveyRow.created_at > now - policy.partner_cooldown,
            )
            .limit(1)
        )
        if recent is not None:
            return "the partner was surveyed recently"
    return None


def issue_on_solve(
    *, session: Session, routing: Routing, ticket: TicketRow, actor: str, now: datetime
) -> SurveyRow | None:
    """Schedule the ticket's survey if the policy wants one; the ticket log says either way."""
    policy = routing.config.surveys
    reason = skip_reason(session, policy, ticket, now)
    if reason is not None:
        record_event(session, ticket.id, "survey_skipped", actor, now, reason=reason)
        return None
    survey = _snapshot(session, routing, ticket, now)
    survey.status = SurveyStatus.SCHEDULED.value
    survey.send_at = now + policy.delay
    session.add(survey)
    record_event(session, ticket.id, "survey_scheduled", actor, now, survey_id=survey.id)
    return survey


def _snapshot(session: Session, routing: Routing, ticket: TicketRow, now: datetime) -> SurveyRow:
    """A survey row holding who and what routed the ticket, as the partner experienced it."""
    tier = None
    if ticket.partner_id is not None:
        tier = session.scalar(select(PartnerRow.tier).where(PartnerRow.id == ticket.partner_id))
    stats = routing.context.stats.get(ticket.partner_id or "")
    return SurveyRow(
        id=secrets.token_hex(12),
        ticket_id=ticket.id,
        partner_id=ticket.partner_id,
        team=ticket.team,
        team_source=ticket.team_source,
        agent_id=ticket.agent_id,
        priority=ticket.priority,
        category=ticket.category,
        partner_tier=tier,
        engagement_band=engagement_band(stats.engagement_percentile if stats else None),
        created_at=now,
        send_at=now,
        delivery_attempts=0,
    )


# -- delivery -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Invitation:
    """What a delivery channel needs to send a partner their survey link."""

    kind: str  # "survey.invite" or "survey.reminder"
    survey_id: str
    ticket_id: str
    external_id: str | None
    partner_id: str | None
    url: str
    expires_at: datetime


def due_invitations(
    *, session: Session, policy: SurveyPolicy, public_url: str, now: datetime, limit: int = 200
) -> list[Invitation]:
    """Surveys whose link should go out now (first invitations, then reminders)."""
    rows = session.execute(
        select(SurveyRow, TicketRow.external_id)
        .join(TicketRow, TicketRow.id == SurveyRow.ticket_id)
        .where(SurveyRow.status == SurveyStatus.SCHEDULED.value, SurveyRow.send_at <= now)
        .order_by(SurveyRow.send_at)
        .limit(limit)
    ).all()
    invitations = [
        _invitation("survey.invite", session, survey, external, public_url, now, policy)
        for survey, external in rows
    ]
    if policy.reminder_after is not None:
        reminders = session.execute(
            select(SurveyRow, TicketRow.external_id)
            .join(TicketRow, TicketRow.id == SurveyRow.ticket_id)
            .where(
                SurveyRow.status == SurveyStatus.SENT.value,
                SurveyRow.reminded_at.is_(None),
                SurveyRow.sent_at <= now - policy.reminder_after,
                SurveyRow.expires_at > now,
            )
            .order_by(SurveyRow.sent_at)
            .limit(limit)
        ).all()
        invitations += [
            _invitation("survey.reminder", session, survey, external, public_url, now, policy)
            for survey, external in reminders
        ]
    return invitations


def _invitation(
    kind: str,
    session: Session,
    survey: SurveyRow,
    external_id: str | None,
    public_url: str,
    now: datetime,
    policy: SurveyPolicy,
) -> Invitation:
    expires = survey.expires_at or now + policy.expires_after
    return Invitation(
        kind=kind,
        survey_id=survey.id,
        ticket_id=survey.ticket_id,
        external_id=external_id,
        partner_id=survey.partner_id,
        url=survey_url(public_url, link_token(session, survey, now)),
        expires_at=expires,
    )


def mark_delivered(
    session: Session,
    *,
    invitation: Invitation,
    delivered: bool,
    now: datetime,
    retry_after: timedelta = RETRY_AFTER,
) -> None:
    """Record the outcome of one delivery; a failed invitation is tried again later.

    Retries back off: ``retry_after``, then twice that, four times ... at most an hour.
    """
    survey = session.get(SurveyRow, invitation.survey_id)
    if survey is None:
        return
    if not delivered:
        survey.delivery_attempts += 1
        if invitation.kind == "survey.invite":
            wait = retry_after * 2 ** min(survey.delivery_attempts - 1, 16)
            survey.send_at = now + min(wait, MAX_RETRY_AFTER)
        return
    if invitation.kind == "survey.invite" and survey.status == SurveyStatus.SCHEDULED.value:
        survey.status = SurveyStatus.SENT.value
        survey.sent_at = now
        survey.expires_at = invitation.expires_at
        record_event(session, survey.ticket_id, "survey_sent", "surveys", now, survey_id=survey.id)
    elif invitation.kind == "survey.reminder":
        survey.reminded_at = now
        record_event(
            session, survey.ticket_id, "survey_reminded", "surveys", now, survey_id=survey.id
        )


def expire(*, session: Session, now: datetime) -> int:
    """Close the surveys whose links ran out unanswered."""
    result = session.connection().execute(
        update(SurveyRow)
        .where(SurveyRow.status == SurveyStatus.SENT.value, SurveyRow.expires_at <= now)
        .values(status=SurveyStatus.EXPIRED.value)
    )
    return int(result.rowcount or 0)


# -- answers --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    csat: int | None
    nps: int | None
    comment: str | None

    def __post_init__(self) -> None:
        if self.csat is None and self.nps is None:
            raise InvalidInputError("give a satisfaction score (csat) or an nps", {"field": "csat"})
        if self.csat is not None and not 1 <= self.csat <= 5:
            raise InvalidInputError("csat is a score from 1 to 5", {"field": "csat"})
        if self.nps is not None and not 0 <= self.nps <= 10:
            raise InvalidInputError("nps is a score from 0 to 10", {"field": "nps"})


def answer_link(
    *, session: Session, token: str, answer: Answer, now: datetime, announce: bool = False
) -> SurveyRow:
    """Store the answer given on the survey page; a second answer through the link is refused."""
    survey = open_link(session, token, now)
    taken = session.connection().execute(
        update(SurveyRow)
        .where(SurveyRow.id == survey.id, SurveyRow.status == SurveyStatus.SENT.value)
        .values(
            status=SurveyStatus.ANSWERED.value,
            answered_at=now,
            csat=answer.csat,
            nps=answer.nps,
            comment=answer.comment,
            source=ResponseSource.PAGE.value,
        )
    )
    if not taken.rowcount:  # answered a moment ago through another request
        raise LinkRefused(LinkProblem.USED)
    session.refresh(survey)
    _answered_event(session, survey, "partner", now, announce)
    return survey


ANSWERED_EVENT = "survey.answered"


def _answered_event(
    session: Session, survey: SurveyRow, actor: str, now: datetime, announce: bool
) -> None:
    """Log the answer on its ticket; with `announce`, owe the events webhook a signed
    ``survey.answered`` (sent through the outbox, retried, one delivery id)."""
    record_event(
        session, survey.ticket_id, "survey_answered", actor, now,
        survey_id=survey.id, csat=survey.csat, nps=survey.nps, source=survey.source,
    )  # fmt: skip
    if announce:
        data = {
            "survey_id": survey.id, "ticket_id": survey.ticket_id,
            "partner_id": survey.partner_id, "team": survey.team, "agent_id": survey.agent_id,
            "decided_by": survey.team_source, "csat": survey.csat, "nps": survey.nps,
            "comment": survey.comment, "source": survey.source,
            "answered_at": (survey.answered_at or now).isoformat(),
        }  # fmt: skip
        outbox.enqueue(
            session=session, target="webhook", kind=ANSWERED_EVENT, ticket_id=survey.ticket_id,
            payload={"type": ANSWERED_EVENT, "data": data}, now=now,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ExternalResponse:
    """A response collected by another survey tool, matched to a ticket."""

    answer: Answer
    ticket_id: str | None = None
    external_id: str | None = None
    response_id: str | None = None
    answered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Recorded:
    survey: SurveyRow
    replayed: bool


def record_response(
    *,
    session: Session,
    routing: Routing,
    response: ExternalResponse,
    source: ResponseSource,
    now: datetime,
    announce: bool = False,
) -> Recorded:
    """Attach an external tool's response to its ticket's survey (made if none was issued);
    `announce` as for `answer_link`."""
    if response.response_id is not None:
        seen = session.scalars(
            select(SurveyRow).where(
                SurveyRow.source == source.value, SurveyRow.response_id == response.response_id
            )
        ).first()
        if seen is not None:
            return Recorded(seen, replayed=True)
    ticket = _ticket_for(session, response)
    survey = session.scalars(select(SurveyRow).where(SurveyRow.ticket_id == ticket.id)).first()
    if survey is None:
        if ticket.status not in (TicketStatus.SOLVED.value, TicketStatus.CLOSED.value):
            raise ConflictError(
                f"ticket {ticket.id} is {ticket.status}; surveys are for solved tickets",
                {"field": "ticket_id"},
            )
        survey = _snapshot(session, routing, ticket, now)
        session.add(survey)
    elif survey.status == SurveyStatus.ANSWERED.value:
        raise ConflictError(
            f"ticket {ticket.id}'s survey is answered already", {"field": "ticket_id"}
        )
    survey.status = SurveyStatus.ANSWERED.value
    survey.answered_at = response.answered_at or now
    survey.csat, survey.nps = response.answer.csat, response.answer.nps
    survey.comment = response.answer.comment
    survey.source, survey.response_id = source.value, response.response_id
    session.flush()
    _answered_event(session, survey, source.value, now, announce)
    return Recorded(survey, replayed=False)


def _ticket_for(session: Session, response: ExternalResponse) -> TicketRow:
    if response.ticket_id is not None:
        row = session.get(TicketRow, response.ticket_id)
        if row is None:
            raise NotFoundError(
                f"ticket {response.ticket_id!r} does not exist", {"field": "ticket_id"}
            )
        return row
    if response.external_id is not None:
        row = session.scalars(
            select(TicketRow).where(TicketRow.external_id == response.external_id)
        ).first()
        if row is None:
            raise NotFoundError(
                f"no ticket has external id {response.external_id!r}", {"field": "external_id"}
            )
        return row
    raise InvalidInputError("give ticket_id or external_id", {"field": "ticket_id"})


def get(*, session: Session, survey_id: str) -> SurveyRow:
    row = session.get(SurveyRow, survey_id)
    if row is None:
        raise NotFoundError(f"survey {survey_id!r} does not exist")
    return row


def for_ticket(*, session: Session, ticket_id: str) -> SurveyRow | None:
    return session.scalars(select(SurveyRow).where(SurveyRow.ticket_id == ticket_id)).first()


def count_by_status(*, session: Session) -> dict[str, int]:
    rows = session.execute(select(SurveyRow.status, func.count()).group_by(SurveyRow.status))
    return {status: int(n) for status, n in rows}


# -- the dispatcher -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Dispatched:
    sent: int
    reminded: int
    failed: int
    expired: int


Sender = Callable[[Invitation], bool]


def dispatch(
    *,
    uow: UnitOfWork,
    cache: RoutingCache,
    public_url: str,
    send: Sender | None,
    now: datetime,
    retry_after: timedelta = RETRY_AFTER,
) -> Dispatched:
    """Send the links that came due, remind once, expire the unanswered.

    Without a delivery channel (``send`` is None) a due survey just becomes live: its link
    is then fetched through the API by whatever tool writes to partners, and no reminder
    is sent. Delivery happens outside any transaction; a failed invitation is retried
    with back-off. Receivers drop repeats by the delivery id (``<kind>:<survey id>``).
    """
    expired = uow.run(lambda s: expire(session=s, now=now))

    def due(session: Session) -> list[Invitation]:
        policy = cache.current(session).config.surveys
        invitations = due_invitations(
            session=session, policy=policy, public_url=public_url, now=now
        )
        return [i for i in invitations if send is not None or i.kind == "survey.invite"]

    counts = {"survey.invite": 0, "survey.reminder": 0, "failed": 0}
    for invitation in uow.run(due):
        delivered = send(invitation) if send is not None else True
        counts[invitation.kind if delivered else "failed"] += 1
        uow.run(
            partial(
                mark_delivered,
                invitation=invitation,
                delivered=delivered,
                now=now,
                retry_after=retry_after,
            )
        )
    return Dispatched(counts["survey.invite"], counts["survey.reminder"], counts["failed"], expired)


def webhook_sender(client: httpx.Client, url: str, secret: str, now: datetime) -> Sender:
    """Deliver invitations as signed webhooks to the tool that writes to partners."""

    def send(invitation: Invitation) -> bool:
        return webhooks.post(
            client, url, secret,
            delivery_id=f"{invitation.kind}:{invitation.survey_id}",
            event_type=invitation.kind,
            data={
                "survey_id": invitation.survey_id,
                "ticket_id": invitation.ticket_id,
                "external_id": invitation.external_id,
                "partner_id": invitation.partner_id,
                "survey_url": invitation.url,
                "expires_at": invitation.expires_at.isoformat(),
            },
            now=now,
        )  # fmt: skip

    return send


# -- responses from files -------------------------------------------------------------------

RESPONSE_FIELDS = (
    "ticket_id",
    "external_id",
    "response_id",
    "csat",
    "nps",
    "comment",
    "answered_at",
)


def responses_from_csv(
    text: str, columns: Mapping[str, str] | None = None
) -> tuple[list[tuple[int, ExternalResponse]], list[dict[str, object]]]:
    """Read a survey tool's CSV export; ``columns`` maps our field names to its column names.

    Returns the good rows with their line numbers, and one error per bad cell naming the
    line and the field. Unmapped fields are looked up under their own names.
    """
    mapping = {name: (columns or {}).get(name, name) for name in RESPONSE_FIELDS}
    unknown = set(columns or {}) - set(RESPONSE_FIELDS)
    if unknown:
        raise InvalidInputError(
            f"unknown response field(s): {', '.join(sorted(unknown))}",
            {"field": sorted(unknown)[0], "known": list(RESPONSE_FIELDS)},
        )
    reader = csv.DictReader(io.StringIO(text))
    header = set(reader.fieldnames or ())
    if not {mapping["ticket_id"], mapping["external_id"]} & header:
        raise InvalidInputError(
            f"the file needs a {mapping['ticket_id']!r} or {mapping['external_id']!r} column",
            {"field": "ticket_id"},
        )
    good: list[tuple[int, ExternalResponse]] = []
    errors: list[dict[str, object]] = []
    for row in reader:
        line = reader.line_num
        cells = {name: (row.get(column) or "").strip() or None for name, column in mapping.items()}
        try:
            good.append((line, _response_of(cells)))
        except InvalidInputError as exc:
            field = exc.details.get("field") if isinstance(exc.details, dict) else None
            errors.append({"line": line, "field": field, "message": exc.message})
    return good, errors


def _response_of(cells: Mapping[str, str | None]) -> ExternalResponse:
    def number(name: str) -> int | None:
        raw = cells[name]
        if raw is None:
            return None
        try:
            return int(float(raw))
        except ValueError:
            raise InvalidInputError(f"{name} is not a number: {raw!r}", {"field": name}) from None

    answered_at = None
    if cells["answered_at"] is not None:
        try:
            answered_at = datetime.fromisoformat(cells["answered_at"])
        except ValueError:
            answered_at = None
        if answered_at is None or answered_at.tzinfo is None:
            raise InvalidInputError(
                "answered_at must be an ISO 8601 time with a time zone", {"field": "answered_at"}
            )
    if cells["ticket_id"] is None and cells["external_id"] is None:
        raise InvalidInputError("give ticket_id or external_id", {"field": "ticket_id"})
    return ExternalResponse(
        answer=Answer(csat=number("csat"), nps=number("nps"), comment=cells["comment"]),
        ticket_id=cells["ticket_id"],
        external_id=cells["external_id"],
        response_id=cells["response_id"],
        answered_at=answered_at,
    )
