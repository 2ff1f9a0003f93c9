"""The stylesheet and script, and the front-end packages' files."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from affroute.api.deps import StateDep
from affroute.service.errors import NotFoundError
from affroute.web.pages.common import WEB

router = APIRouter(include_in_schema=False)
# Files the pages load from the front-end packages `make` installs with npm (web/).
VENDOR_FILES = {
    "htmx.min.js": ("htmx.org", "dist/htmx.min.js"),
    "chart.umd.min.js": ("chart.js", "dist/chart.umd.min.js"),
}


@router.get("/static/vendor/{name}")
def vendor_file(name: str, state: StateDep) -> Response:
    if name not in VENDOR_FILES:
        raise NotFoundError(f"no such file {name!r}")
    package, inside = VENDOR_FILES[name]
    path = state.settings.web_packages / package / inside
    if not path.is_file():
        raise NotFoundError(f"{package} is not installed; run `make` (npm ci in web/)")
    return FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})


@router.get("/static/{name}")
def static_file(name: str) -> Response:
    path = WEB / "static" / name
    if name not in ("app.css", "app.js") or not path.is_file():
        raise NotFoundError(f"no such file {name!r}")
    return FileResponse(path, headers={"Cache-Control": "public, max-age=300"})
