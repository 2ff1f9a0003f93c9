"""/api/v1/{partners,deals,campaigns,anomalies}: read, create or update, bulk upsert.

No postponed annotations here: the handlers are built per kind and FastAPI must see the
real body model of each.
"""

import csv
import io
import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from affroute.api.deps import CatalogReader, CatalogWriter, StateDep
from affroute.api.errors import ERRORS
from affroute.api.schemas import (
    AnomalyDetail,
    AnomalyIn,
    CampaignIn,
    CampaignRead,
    DealIn,
    DealRead,
    PartnerIn,
    PartnerRead,
    UpsertResult,
)
from affroute.service import catalog
from affroute.service.errors import InvalidInputError

router = APIRouter(prefix="/api/v1", tags=["catalog"], responses=ERRORS)
MAX_BULK_ROWS = 10_000


def _parse_rows(
    model: type[BaseModel], raw_rows: list[Any], first_line: int
) -> list[dict[str, Any]]:
    """Validate every row; if any is bad, reject the whole batch naming each bad row's fields."""
    if len(raw_rows) > MAX_BULK_ROWS:
        raise InvalidInputError(f"at most {MAX_BULK_ROWS} rows per request", {"field": "rows"})
    rows, errors = [], []
    first_seen: dict[str, int] = {}
    for index, raw in enumerate(raw_rows):
        try:
            row = model.model_validate(raw).row()  # type: ignore[attr-defined]
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                errors.append(
                    {
                        "row": index + first_line,
                        "field": ".".join(str(p) for p in err["loc"]) or "row",
                        "message": err["msg"],
                    }
                )
            continue
        line = index + first_line
        if row["id"] in first_seen:
            message = f"id {row['id']!r} is also in row {first_seen[row['id']]}"
            errors.append({"row": line, "field": "id", "message": message})
        first_seen.setdefault(row["id"], line)
        rows.append(row)
    if errors:
        raise InvalidInputError(
            f"{len({e['row'] for e in errors})} invalid row(s); nothing was stored", errors
        )
    return rows


def _csv_rows(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text), restkey="cells past the header")
    # Empty cells mean "not given"; the model's defaults apply.
    return [{k: v for k, v in row.items() if v not in ("", None)} for row in reader]


def _register(kind: str, model_in: type[BaseModel], model_read: Any, *, reads: bool = True) -> None:
    singular = catalog.SINGULAR[kind]

    if reads:  # anomalies have their own reads, with filters and evidence

        @router.get(f"/{kind}", response_model=list[model_read], name=f"list_{kind}")
        def list_items(
            state: StateDep,
            _: CatalogReader,
            after: Annotated[
                str | None, Query(max_length=64, description="last id of the previous page")
            ] = None,
            limit: Annotated[int | None, Query(ge=1)] = None,
        ) -> list[Any]:
            size = min(limit or state.settings.default_page_size, state.settings.max_page_size)
            rows = state.uow.run(
                lambda s: catalog.list_rows(session=s, kind=kind, after=after, limit=size)
            )
            return [model_read.of(r) for r in rows]

        @router.get(f"/{kind}/{{item_id}}", response_model=model_read, name=f"get_{singular}")
        def get_item(item_id: str, state: StateDep, _: CatalogReader) -> Any:
            return model_read.of(
                state.uow.run(lambda s: catalog.get(session=s, kind=kind, item_id=item_id))
            )

    def _upsert(state: StateDep, rows: list[dict[str, Any]]) -> Callable[[Session], int]:
        return lambda s: catalog.upsert(session=s, kind=kind, rows=rows, now=state.clock())

    @router.put(f"/{kind}/{{item_id}}", response_model=model_read, name=f"put_{singular}")
    def put_item(
        item_id: str,
        body: Annotated[model_in, Body()],  # type: ignore[valid-type]
        state: StateDep,
        _: CatalogWriter,
    ) -> Any:
        if body.id != item_id:  # type: ignore[attr-defined]
            raise InvalidInputError("the id in the path and the body differ", {"field": "id"})

        def work(session: Session) -> Any:
            _upsert(state, [body.row()])(session)  # type: ignore[attr-defined]
            return model_read.of(catalog.get(session=session, kind=kind, item_id=item_id))

        return state.uow.run(work)

    @router.post(
        f"/{kind}/bulk",
        response_model=UpsertResult,
        name=f"bulk_{kind}",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "array",
                            "items": {"$ref": f"#/components/schemas/{model_in.__name__}"},
                        }
                    },
                    "text/csv": {"schema": {"type": "string"}},
                },
            }
        },
    )
    async def bulk(request: Request, state: StateDep, _: CatalogWriter) -> UpsertResult:
        """Insert or update many rows at once, as a JSON array or CSV with a header row."""
        raw = await request.body()
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInputError("the body is not UTF-8", {"field": "body"}) from None
        if content_type == "text/csv":
            rows = _parse_rows(model_in, _csv_rows(text), first_line=2)
        elif content_type in ("application/json", ""):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(f"malformed JSON: {exc.msg}", {"field": "body"}) from None
            if not isinstance(data, list):
                raise InvalidInputError("expected a JSON array of rows", {"field": "body"})
            rows = _parse_rows(model_in, data, first_line=0)
        else:
            raise InvalidInputError(
                f"unsupported content type {content_type!r}", {"field": "content-type"}
            )
        count = await run_in_threadpool(state.uow.run, _upsert(state, rows))
        return UpsertResult(upserted=count)


_register("partners", PartnerIn, PartnerRead)
_register("deals", DealIn, DealRead)
_register("campaigns", CampaignIn, CampaignRead)
_register("anomalies", AnomalyIn, AnomalyDetail, reads=False)  # reads: routes/anomalies.py
