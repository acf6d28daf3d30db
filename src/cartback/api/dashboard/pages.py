"""The dashboard's pages. Each reads through `data` and renders one template."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from cartback.api.dashboard import data, figures, privacy
from cartback.api.dashboard import flows as flows_page
from cartback.api.dashboard.auth import SessionRoute
from cartback.api.dashboard.formatting import Formatter
from cartback.api.dashboard.models import CartFilters, DayRange, DeliveryView
from cartback.api.dashboard.render import message_page, page, scope, sees, view_place
from cartback.api.inputs import CartId, Filter, Offset
from cartback.domain.bounds import EARLIEST, LATEST
from cartback.runtime import Runtime

router = APIRouter(include_in_schema=False, route_class=SessionRoute)


class BadFilter(ValueError):
    """A filter the owner can fix: the message names it."""


def _runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _store(request: Request, store_id: str | None, default: str | None = None) -> str | None:
    """The store a page shows: the one asked for, else `default`; a session limited to one
    store always gets that one, and a filter for another is refused."""
    limited = scope(request)
    if limited is not None:
        if store_id and store_id != limited:
            raise BadFilter(f"This login sees only the store {limited!r}.")
        return limited
    if not store_id:
        return default
    if _runtime(request).settings.store(store_id) is None:
        known = ", ".join(s.id for s in _runtime(request).settings.stores)
        raise BadFilter(f"No store {store_id!r} is configured (stores: {known}).")
    return store_id


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise BadFilter(f"{name}: {value!r} is not a date; write it as YYYY-MM-DD.") from None
    if not EARLIEST.date() <= day < LATEST.date():
        raise BadFilter(f"{name}: {value!r} is not between 1970 and 2100.")
    return day


def _choice(value: str | None, allowed: tuple[str, ...], name: str) -> str | None:
    if not value:
        return None
    if value not in allowed:
        raise BadFilter(f"{name}: {value!r} is not one of {', '.join(allowed)}.")
    return value


def _store_and_status(
    request: Request, store: str | None, status: str | None, allowed: tuple[str, ...]
) -> tuple[str | None, str | None]:
    return _store(request, store), _choice(status, allowed, "status")


def _bad(request: Request, problem: BadFilter) -> Response:
    return message_page(request, status=400, title="Check the filter", text=str(problem))


@router.get("/dashboard")
async def overview(
    request: Request,
    store: Filter = None,
    period: Filter = None,
    since: Filter = None,
) -> Response:
    rt = _runtime(request)
    try:
        default = rt.settings.stores[0].id if len(rt.settings.stores) == 1 else None
        store_id = _store(request, store, default)
        since_day = _day(since, "since")
    except BadFilter as problem:
        return _bad(request, problem)
    place = view_place(rt, store_id)
    today = rt.clock.now().astimezone(place.zone).date()
    chosen = figures.period(period, since_day, today, place.zone)
    view = await run_in_threadpool(data.overview, rt, store_id, chosen, place.zone, today)
    fmt = Formatter(rt.settings.stores, place)
    labels = [fmt.short_day(d.day) for d in view.days]
    chart = figures.chart_data(view.days, labels, view.report.currency, str(place.locale))
    return page(
        request,
        "overview.html",
        store_id=store_id,
        view=view,
        periods=figures.PERIODS,
        today=today,
        chart=chart,
    )


@router.get("/dashboard/carts")
async def cart_list(
    request: Request,
    store: Filter = None,
    status: Filter = None,
    q: Filter = None,
    since: Filter = None,
    until: Filter = None,
    offset: Offset = 0,
) -> Response:
    rt = _runtime(request)
    try:
        store_id, wanted_status = _store_and_status(request, store, status, figures.CART_STATUSES)
        days = DayRange(_day(since, "from"), _day(until, "to"))
    except BadFilter as problem:
        return _bad(request, problem)
    zone = view_place(rt, store_id).zone
    wanted = CartFilters(
        store_id=store_id,
        status=wanted_status,
        q=q.strip() if q and q.strip() else None,
        since=figures.midnight(days.since, zone) if days.since else None,
        until=figures.midnight(days.until + timedelta(days=1), zone) if days.until else None,
        offset=offset,
    )
    found = await run_in_threadpool(data.cart_list, rt, wanted)
    filters = {
        "store": store_id,
        "status": wanted_status,
        "q": wanted.q,
        "since": since,
        "until": until,
    }
    return page(
        request,
        "carts.html",
        store_id=store_id,
        found=found,
        wanted=wanted,
        days=days,
        statuses=figures.CART_STATUSES,
        query=_query(filters),
        filtered=_filtered(request, filters),
    )


def _filtered(request: Request, filters: dict[str, str | None]) -> bool:
    """Whether the owner narrowed the list (a session's own store is no filter of theirs)."""
    chosen = {k: v for k, v in filters.items() if k != "store" or scope(request) is None}
    return any(chosen.values())


def _query(filters: dict[str, str | None]) -> str:
    return urlencode({k: v for k, v in filters.items() if v})


@router.get("/dashboard/carts/{cart_id}")
async def cart_detail(request: Request, cart_id: CartId) -> Response:
    rt = _runtime(request)
    view = await run_in_threadpool(data.cart_page, rt, cart_id)
    if view is None or not sees(request, view.cart.store_id):
        return message_page(
            request, status=404, title="No such cart", text=f"There is no cart with id {cart_id}."
        )
    return page(request, "cart.html", store_id=view.cart.store_id, view=view)


@router.get("/dashboard/messages")
async def message_list(
    request: Request,
    store: Filter = None,
    status: Filter = None,
    offset: Offset = 0,
) -> Response:
    rt = _runtime(request)
    try:
        store_id, wanted_status = _store_and_status(
            request, store, status, figures.MESSAGE_STATUSES
        )
    except BadFilter as problem:
        return _bad(request, problem)
    found = await run_in_threadpool(data.message_list, rt, store_id, wanted_status, offset)
    return page(
        request,
        "messages.html",
        store_id=store_id,
        found=found,
        chosen_status=wanted_status,
        filtered=_filtered(request, {"store": store_id, "status": wanted_status}),
        statuses=figures.MESSAGE_STATUSES,
        query=_query({"store": store_id, "status": wanted_status}),
    )


@router.get("/dashboard/contacts")
async def contact(
    request: Request, q: Filter = None, erased: Filter = None, counts: Filter = None
) -> Response:
    rt = _runtime(request)
    view, problem = None, None
    if q and q.strip():
        try:
            view = await run_in_threadpool(data.contact, rt, q, scope(request))
        except data.ContactNotFound as exc:
            problem = str(exc)
    return page(
        request,
        "contacts.html",
        store_id=scope(request),
        q=q or "",
        view=view,
        problem=problem,
        erased=erased,
        erased_counts=privacy.erased_counts(counts),
    )


@router.get("/dashboard/deliveries")
async def delivery_list(
    request: Request,
    store: Filter = None,
    status: str | None = "failed",
    replayed: int | None = None,
) -> Response:
    rt = _runtime(request)
    try:
        store_id, wanted_status = _store_and_status(
            request, store, status, figures.DELIVERY_STATUSES
        )
    except BadFilter as problem:
        return _bad(request, problem)
    rows = await run_in_threadpool(data.delivery_list, rt, store_id, wanted_status)
    last = await _delivery(request, replayed) if replayed is not None else None
    return page(
        request,
        "deliveries.html",
        store_id=store_id,
        rows=rows,
        chosen_status=wanted_status,
        statuses=figures.DELIVERY_STATUSES,
        replayed=last,
    )


@router.get("/dashboard/deliveries/{delivery_id}")
async def delivery_detail(request: Request, delivery_id: int) -> Response:
    view = await _delivery(request, delivery_id)
    if view is None:
        text = f"There is no stored delivery with id {delivery_id}."
        return message_page(request, status=404, title="No such delivery", text=text)
    return page(request, "delivery.html", store_id=view.store_id, view=view)


@router.post("/dashboard/deliveries/{delivery_id}/replay")
async def replay_delivery(request: Request, delivery_id: int) -> Response:
    rt = _runtime(request)
    if await _delivery(request, delivery_id) is None:
        text = f"There is no stored delivery with id {delivery_id}."
        return message_page(request, status=404, title="No such delivery", text=text)
    await run_in_threadpool(data.replay_delivery, rt, delivery_id)
    return RedirectResponse(f"/dashboard/deliveries?replayed={delivery_id}", status_code=303)


@router.get("/dashboard/flows")
async def flows(request: Request) -> Response:
    rt = _runtime(request)
    views = await run_in_threadpool(flows_page.flow_views, rt, scope(request))
    return page(request, "flows.html", flows=views)


async def _delivery(request: Request, delivery_id: int) -> DeliveryView | None:
    """A stored delivery, if the session may see its store."""
    view = await run_in_threadpool(data.delivery, _runtime(request), delivery_id)
    return view if view is not None and sees(request, view.store_id) else None
