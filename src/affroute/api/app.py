"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from affroute.analytics import facts
from affroute.api import errors, survey_page
from affroute.api.deps import AppState, StateDep, utc_now
from affroute.api.routes import agents as agent_routes
from affroute.api.routes import anomalies as anomaly_routes
from affroute.api.routes import catalog as catalog_routes
from affroute.api.routes import config as config_routes
from affroute.api.routes import integrations as integration_routes
from affroute.api.routes import metrics as metric_routes
from affroute.api.routes import models as model_routes
from affroute.api.routes import simulations as simulation_routes
from affroute.api.routes import sla as sla_routes
from affroute.api.routes import surveys as survey_routes
from affroute.api.routes import tickets as ticket_routes
from affroute.api.routes import tuning as tuning_routes
from affroute.api.schemas import Health
from affroute.integrations import crm
from affroute.integrations.delivery import Deliverer
from affroute.service import agents, anomalies, configs, enrichment, outbox, sla, surveys, tuning
from affroute.service.errors import NotFoundError
from affroute.service.runtime import RoutingCache
from affroute.service.uow import UnitOfWork
from affroute.settings import Settings
from affroute.store.db import make_engine, session_factory
from affroute.web import pages
from affroute.web.pages import overview as overview_page

log = logging.getLogger("affroute")


class BodyLimit:
    """Refuse request bodies over the limit with 413, before they are read into memory."""

    def __init__(self, app: ASGIApp, limit: int, paths: dict[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.paths = paths or {}  # exact paths with a limit of their own (model uploads)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.paths.get(scope["path"], self.limit)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        body = errors.error_body("payload_too_large", f"request body over {limit} bytes")
        await JSONResponse(body, status_code=413)(scope, receive, send)


class _TooLarge(Exception):  # noqa: N818 - internal signal
    pass


def bootstrap_config(state: AppState) -> None:
    """Activate the configured YAML file if the database has no active configuration."""

    def work(session: Session) -> None:
        try:
            configs.get_active(session=session)
        except NotFoundError:
            yaml_text = state.settings.config_path.read_text(encoding="utf-8")
            configs.activate(
                session=session, yaml_text=yaml_text, actor="bootstrap", now=state.clock()
            )

    state.uow.run(work)


def create_app(
    settings: Settings | None = None, *, clock: Callable[[], datetime] = utc_now
) -> FastAPI:
    """Build the app; the database must already be migrated (``affroute db upgrade``)."""
    settings = settings or Settings()
    for url, name in (
        (settings.survey_webhook_url, "SURVEY"),
        (settings.events_webhook_url, "EVENTS"),
    ):
        if url and not settings.webhook_secret:
            raise ValueError(
                f"AFFROUTE_{name}_WEBHOOK_URL needs AFFROUTE_WEBHOOK_SECRET to sign with"
            )
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    state = AppState(settings, engine, sessions, UnitOfWork(sessions), RoutingCache(), clock)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(bootstrap_config, state)
        tasks = [
            asyncio.create_task(_every(seconds, job, state))
            for seconds, job in (
                (settings.rebalance_seconds, _rebalance),
                (settings.sla_sweep_seconds, _sweep_sla),
                (settings.survey_dispatch_seconds, _dispatch_surveys),
                (settings.tune_hours * 3600, _tune),
                (settings.anomaly_scan_seconds, _scan_anomalies),
                (settings.outbox_seconds, _deliver_outbox),
                (settings.enrichment_seconds, _refresh_enrichment),
                (settings.analytics_refresh_seconds, _refresh_facts),
            )
            if seconds
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            engine.dispose()

    app = FastAPI(
        title="affroute",
        version="0.1.0",
        summary="Ticket routing for affiliate programs, every decision explained.",
        lifespan=lifespan,
    )
    app.state.affroute = state
    errors.install(app)
    app.add_middleware(
        BodyLimit,
        limit=settings.max_body_bytes,
        paths={"/api/v1/models": settings.max_model_bytes},
    )
    routers = (
        ticket_routes,
        anomaly_routes,  # before the catalog: it owns the reads of /anomalies
        catalog_routes,
        agent_routes,
        config_routes,
        sla_routes,
        integration_routes,
    )
    modules = (*routers, model_routes, survey_routes, tuning_routes, simulation_routes)
    for module in (*modules, metric_routes, survey_page):
        app.include_router(module.router)
    app.include_router(metric_routes.scrape)
    survey_page.install_log_redaction()
    pages.install(app)

    @app.get("/health", response_model=Health, tags=["health"])
    def health() -> Health:
        """Liveness: the process answers."""
        return Health(status="ok")

    @app.get("/ready", response_model=Health, tags=["health"], responses={503: {"model": Health}})
    def ready(state: StateDep) -> Health | JSONResponse:
        """Readiness: the database answers and a configuration is active."""
        try:
            with state.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            version = state.uow.run(lambda s: configs.get_active(session=s)).version
        except Exception as exc:  # report, do not crash: this is what a probe asks
            return JSONResponse(
                Health(status="unavailable", database=type(exc).__name__).model_dump(), 503
            )
        return Health(status="ready", database=state.engine.dialect.name, config_version=version)

    return app


async def _every(seconds: float, job: Callable[[AppState], object], state: AppState) -> None:
    """Run a background job every ``seconds``; a failure is logged and retried next round."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await run_in_threadpool(job, state)
        except Exception:  # keep going: the next round retries
            log.exception("background job %s failed", getattr(job, "__name__", job))


def _rebalance(state: AppState) -> int:
    """Agents with free capacity pull queued tickets: covers races and missed wake-ups."""
    return state.uow.run(lambda s: agents.rebalance(session=s, now=state.clock()))


def _sweep_sla(state: AppState) -> int:
    """Fire the escalation steps that came due (other workers may sweep at the same time)."""
    notify = bool(state.settings.events_webhook_url)
    done = sla.sweep(uow=state.uow, cache=state.cache, now=state.clock(), notify=notify)
    return done.fired


def _refresh_facts(state: AppState) -> int:
    """Bring the analytics facts up to the event log (other workers may be at it: skip);
    when they changed, work out the dashboard's unfiltered overview from them at once."""
    done = state.uow.run(lambda s: facts.refresh(session=s))
    if done.tickets:
        state.uow.run(lambda s: overview_page.warm(s, state.facts_memo))
    return done.tickets


def _dispatch_surveys(state: AppState) -> int:
    """Send survey links that came due (as signed webhooks, if a receiver is configured)."""
    settings, now = state.settings, state.clock()
    with httpx.Client(timeout=10) as client:
        send = None
        if settings.survey_webhook_url and settings.webhook_secret:
            send = surveys.webhook_sender(
                client, settings.survey_webhook_url, settings.webhook_secret, now
            )
        done = surveys.dispatch(
            uow=state.uow,
            cache=state.cache,
            public_url=settings.public_url,
            send=send,
            now=now,
            # A failed delivery is retried next round, then after 2, 4, ... rounds.
            retry_after=timedelta(seconds=settings.survey_dispatch_seconds),
        )
    return done.sent + done.reminded


def _tune(state: AppState) -> int:
    """Run the tuner on recent outcomes; a changed configuration waits as a proposal."""
    now = state.clock()
    since = now - timedelta(days=state.settings.tune_window_days)
    proposal = state.uow.run(
        lambda s: tuning.propose(session=s, routing=state.cache.current(s), now=now, since=since)
    )
    return int(proposal is not None)


def _scan_anomalies(state: AppState) -> int:
    """Scan the events ingested since the last scan; new anomalies flag the next tickets."""
    now = state.clock()
    outcome = anomalies.scan_new_events(
        uow=state.uow, cache=state.cache, now=now, window=state.anomaly_window
    )
    state.uow.run(
        lambda s: anomalies.resolve_unseen(
            session=s, config=state.cache.current(s).config.anomalies, now=now
        )
    )
    return len(outcome.recorded.new) if outcome.recorded else 0


def _deliver_outbox(state: AppState) -> int:
    """Send owed write-backs and webhooks; several workers share the work (leases)."""
    settings = state.settings
    with httpx.Client(timeout=settings.http_timeout_seconds) as client:
        done = outbox.process(
            uow=state.uow,
            deliver=Deliverer(settings, client, state.clock),
            now=state.clock,
            max_attempts=settings.outbox_max_attempts,
            first_delay=timedelta(seconds=settings.outbox_backoff_seconds),
        )
    return done.delivered


def _refresh_enrichment(state: AppState) -> int:
    """Read the CRM sources that came due; one that fails keeps its cached values."""
    sources = state.uow.run(lambda s: state.cache.current(s).config.integrations.enrichment)
    if not sources:
        return 0
    due = state.uow.run(lambda s: enrichment.due(session=s, sources=sources, now=state.clock()))
    with httpx.Client(timeout=state.settings.http_timeout_seconds) as client:
        for source in due:
            snapshot, error = None, None
            try:
                snapshot = crm.read(source, state.settings, client)
            except crm.SourceError as exc:
                error = str(exc)
                log.warning("enrichment source %s failed: %s", source.name, error)
            state.uow.run(
                lambda s, source=source, snapshot=snapshot, error=error: enrichment.record(  # type: ignore[misc]
                    session=s, source=source, snapshot=snapshot, error=error, now=state.clock()
                )
            )
    return len(due)
