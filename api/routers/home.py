"""``GET /``: the page people use (submit a document, follow it page by page, see the results
drawn on every page), and ``/static/``, its committed script and style sheet (no build step, no CDN)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from docserve.api.security_headers import PAGE_CONTENT_SECURITY_POLICY

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
router = APIRouter(include_in_schema=False)
_PAGE = (STATIC_DIR / "index.html").read_text(encoding="utf-8")


@router.get("/", response_class=HTMLResponse)
async def home() -> HTMLResponse:
    return HTMLResponse(_PAGE, headers={"Content-Security-Policy": PAGE_CONTENT_SECURITY_POLICY})


static_files = StaticFiles(directory=STATIC_DIR)
