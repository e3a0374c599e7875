"""Shared reads of imported Coupa data: admin tabs, counts, status, and what requesters pick.

**The one rule of what requesters are offered** (`offered_q`): a record is offered when
it is shown to users, active in Coupa, (accounts) its chart is selected and active, and
its connection offers records (`integrations.selectors.connection_offering_q`). The
pickers (`pickable_list`), the tab counts (`record_counts`, `record_counts_all`),
`coupa_status` (`sync_status`) and the tabs' "why not offered" label (`offered_annotation`,
which mirrors it condition by condition) all use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast

from django.core.paginator import Paginator
from django.db import connections, transaction
from django.db.models import BigIntegerField, Case, CharField, Count, Q, QuerySet, Value, When
from django.utils.functional import cached_property

from coupa.models import ChartOfAccounts
from coupa.reference.counts import counts_read, counts_read_all
from coupa.reference.registry import PICKABLE, RESOURCES, SUPPORTING
from integrations.models import Connection, SyncRun
from integrations.selectors import connection_offering_q, connection_offers_records
from spendflo.organizations.models import Organization

__all__ = [
    "COUNT_CAP",
    "PICKABLE",
    "PICKER_COUNT_CAP",
    "SUPPORTING",
    "CappedPaginator",
    "PickerPaginator",
    "RecordFilter",
    "RecordFilterError",
    "chart_list",
    "offered_annotation",
    "offered_if_shown_q",
    "offered_q",
    "offered_record_list",
    "parse_filter",
    "pickable_list",
    "record_counts",
    "record_counts_all",
    "record_list",
    "sync_status",
]


#: Lists count their matches up to this many: the tabs say "More than 1,000 match the
#: filter" (the bulk action's confirmation counts them all), the pickers' `count` stops
#: there. An exact count of a search over a 200,000-item catalog reads every matching
#: row, seconds under load; a page needs 50.
COUNT_CAP = 1000
#: The request form's pickers count up to this many: they show a first page of matches
#: as the requester types, and a count costs reading as many matching rows as it counts.
PICKER_COUNT_CAP = 100


#: pg_trgm finds `LIKE '%text%'` matches in its indexes once the text holds a trigram.
TRIGRAM_LENGTH = 3


class CappedPaginator(Paginator[Any]):
    """A Paginator of a queryset that counts at most `COUNT_CAP` + 1 rows and pages
    through the first `COUNT_CAP` of them.

    The count is one LIMITed subquery without the list's ordering: which rows it reads
    does not matter, and unordered the database stops at the cap whichever index finds
    the matches (a common word over 200,000 items: 30 ms ordered, 3 ms not).

    `search` is the text the rows were searched for (`_search`): from `TRIGRAM_LENGTH`
    characters on, a count of accounts, vendors or items (whose searched columns have
    trigram indexes, migration 0004) is planned onto those indexes (`_count_by_index`)
    when `count_by_index` says so.
    """

    cap: int = COUNT_CAP
    count_by_index: bool = True

    def __init__(self, *args: Any, search: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.search = search.strip()

    @cached_property
    def _counted(self) -> int:
        rows = cast("QuerySet[Any]", self.object_list)
        capped = rows.order_by().values("pk")[: self.cap + 1]
        if (
            self.count_by_index
            and len(self.search) >= TRIGRAM_LENGTH
            and rows.model in {RESOURCES[kind].model for kind in PICKABLE}
        ):
            return _count_by_index(capped)
        return int(capped.count())

    @cached_property
    def count(self) -> int:
        return min(self._counted, self.cap)

    @property
    def capped(self) -> bool:
        """Whether there are more matches than are listed (pages stop at the cap)."""
        return self._counted > self.cap


def _count_by_index(qs: QuerySet[Any]) -> int:
    """`qs.count()`, on PostgreSQL planned without sequential or plain index scans.

    A capped count of a search then reads the matches the trigram indexes give, about
    15 ms over 200,000 items whatever the word. Left to itself the planner scans rows
    until the cap is reached, pricing the three upper() LIKEs of each row far below
    their cost: 20 to 120 ms for a word that one item in 40 holds. Results are the same
    either way; only the plan differs. The settings are SET LOCAL, so they end with the
    transaction this opens, or are restored within an enclosing one.
    """
    db = connections[qs.db]
    if db.vendor != "postgresql":
        return int(qs.count())
    enclosed = db.in_atomic_block
    with transaction.atomic(using=qs.db), db.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('enable_seqscan'), current_setting('enable_indexscan'), "
            "set_config('enable_seqscan', 'off', true), set_config('enable_indexscan', 'off', true)"
        )
        seqscan, indexscan, *_ = cursor.fetchone()
        count = int(qs.count())
        if enclosed:
            cursor.execute(
                "SELECT set_config('enable_seqscan', %s, true), "
                "set_config('enable_indexscan', %s, true)",
                [seqscan, indexscan],
            )
    return count


class PickerPaginator(CappedPaginator):
    """The request form pickers' pages: matches counted up to `PICKER_COUNT_CAP`."""

    cap = PICKER_COUNT_CAP
    # Scanning rows reaches this cap sooner than the trigram indexes answer (200,000
    # items: about 8 ms against 12 for the words of benchmark case 7).
    count_by_index = False


def offered_q(kind: str, *, connection: Connection | None = None) -> Q:
    """Records of `kind` that requesters may pick (the one rule, see the module docstring).

    With `connection`, for a query already limited to its records, the connection's half
    of the rule is decided here from the row in hand rather than joined into every
    record's row (the Items tab's counts over 200,000 items: 26 ms joined, 7 ms not).
    """
    return Q(show_to_users=True) & offered_if_shown_q(kind, connection=connection)


def offered_if_shown_q(kind: str, *, connection: Connection | None = None) -> Q:
    """Records of `kind` that requesters would be offered if shown to users: `offered_q`
    without its Show to Users half."""
    offering = (
        connection_offering_q("connection__") if connection is None else _offering(connection)
    )
    condition = Q(active=True) & offering
    if kind == "accounts":
        condition &= Q(chart__selected=True, chart__active=True)
    return condition


def _offering(connection: Connection) -> Q:
    """The connection's half of the rule, decided from the row in hand: all or nothing."""
    if connection_offers_records(connection):
        return Q()
    return Q(pk__isnull=True)  # the primary key is never NULL: nothing is offered


def offered_record_list(*, connection: Connection, kind: str, search: str = "") -> QuerySet[Any]:
    """What requesters of a connection may pick of any reference resource.

    Accounts, vendors and items follow `offered_q`; the supporting lists (addresses,
    departments, users, commodities, units of measure, currencies) have no Show to Users
    choice: their active records are offered while the connection offers records.
    """
    resource = RESOURCES[kind]
    model: type[Any] = resource.model
    if kind in PICKABLE:
        condition = offered_q(kind, connection=connection)
    else:
        condition = Q(active=True) & _offering(connection)
    qs: QuerySet[Any] = model.objects.filter(connection=connection).filter(condition)
    if kind == "accounts":
        qs = qs.select_related("chart")
    return _search(qs, kind, search).order_by(*(model._meta.ordering or []), "pk")


def _search(qs: QuerySet[Any], kind: str, text: str) -> QuerySet[Any]:
    text = text.strip()
    if not text:
        return qs
    condition = Q()
    for field in RESOURCES[kind].search_fields:
        condition |= Q(**{f"{field}__icontains": text})
    return qs.filter(condition)


def pickable_list(*, organization: Organization, kind: str, search: str = "") -> QuerySet[Any]:
    """What requesters of the organization may pick of accounts, vendors or items."""
    if kind not in PICKABLE:
        raise KeyError(kind)
    model: type[Any] = RESOURCES[kind].model
    qs: QuerySet[Any] = model.objects.filter(connection__organization=organization).filter(
        offered_q(kind)
    )
    if kind == "accounts":
        qs = qs.select_related("chart")
    return _search(qs, kind, search).order_by(*(model._meta.ordering or []), "pk")


@dataclass(frozen=True)
class RecordFilter:
    search: str = ""
    chart: int | None = None  # our ChartOfAccounts pk
    visibility: Literal["", "shown", "hidden"] = ""
    active: Literal["", "active", "inactive"] = ""
    sort: str = ""


class RecordFilterError(ValueError):
    """A tab filter value that does not parse; `field` names the parameter."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(message)


_CHOICES: dict[str, tuple[str, ...]] = {
    "visibility": ("shown", "hidden"),
    "active": ("active", "inactive"),
}


def parse_filter(params: Any, *, kind: str | None = None) -> RecordFilter:
    """A RecordFilter from query parameters, a form or an API body.

    An empty or missing value means "no filter"; any other value that does not parse (a
    chart that is not a positive id within the ids' 64-bit range, an unknown choice, a null character; with `kind`, a
    filter or sort that list does not offer) raises RecordFilterError, so a bulk change
    never acts on more than the filter the admin saw.
    """
    search = str(params.get("search") or "")
    if "\x00" in search:
        raise RecordFilterError("search", "Search: null characters are not allowed.")
    chart = _parse_chart(params.get("chart"))
    choices: dict[str, str] = {}
    for name, allowed in _CHOICES.items():
        value = str(params.get(name) or "")
        if value and value not in allowed:
            raise RecordFilterError(
                name,
                f"{name.title()}: “{value[:40]}” is not one of {', '.join(allowed)}.",
            )
        choices[name] = value
    if kind is not None and chart is not None and kind != "accounts":
        raise RecordFilterError("chart", "Chart: only accounts belong to a chart.")
    if kind is not None and choices["visibility"] and kind not in PICKABLE:
        raise RecordFilterError("visibility", "Visibility: this list has no Show to Users choice.")
    sort = str(params.get("sort") or "")
    if kind is not None and sort and sort.lstrip("-") not in RESOURCES[kind].sorts:
        offered = ", ".join(RESOURCES[kind].sorts) or "none"
        raise RecordFilterError(
            "sort", f"Sort: “{sort[:40]}” is not a sort of this list (sorts: {offered})."
        )
    return RecordFilter(
        search=search[:200],
        chart=chart,
        visibility=choices["visibility"],  # type: ignore[arg-type]
        active=choices["active"],  # type: ignore[arg-type]
        sort=sort[:32],
    )


def _parse_chart(value: Any) -> int | None:
    if value is None or value == "":
        return None
    text = str(value).strip()
    # Beyond a 64-bit id the database refuses the number instead of finding no chart.
    if (
        isinstance(value, bool)
        or not (text.isascii() and text.isdigit())
        or not 1 <= int(text) <= BigIntegerField.MAX_BIGINT
    ):
        raise RecordFilterError("chart", f"Chart: “{text[:40]}” is not a chart id.")
    return int(text)


def record_list(
    *, organization: Organization, connection: Connection | None, kind: str, filters: RecordFilter
) -> QuerySet[Any]:
    """A tab's rows: the connection's records filtered, sorted, annotated with why hidden.

    `offered` is "yes" when requesters can pick the record, else the reason it is not.
    """
    if kind not in PICKABLE and kind not in SUPPORTING:
        raise KeyError(kind)
    model: type[Any] = RESOURCES[kind].model
    if connection is None or connection.organization_id != organization.pk:
        none: QuerySet[Any] = model.objects.none()
        return none
    qs: QuerySet[Any] = model.objects.filter(connection=connection)
    if kind == "accounts":
        qs = qs.select_related("chart")
        if filters.chart:
            qs = qs.filter(chart_id=filters.chart)
    qs = _search(qs, kind, filters.search)
    if kind in PICKABLE:
        if filters.visibility == "shown":
            qs = qs.filter(show_to_users=True)
        elif filters.visibility == "hidden":
            qs = qs.filter(show_to_users=False)
        qs = qs.annotate(offered=offered_annotation(kind, connection))
    if filters.active == "active":
        qs = qs.filter(active=True)
    elif filters.active == "inactive":
        qs = qs.filter(active=False)
    sort = filters.sort.lstrip("-")
    field = RESOURCES[kind].sorts.get(sort)
    if field:
        qs = qs.order_by(f"-{field}" if filters.sort.startswith("-") else field, "pk")
    else:
        qs = qs.order_by(*(model._meta.ordering or []), "pk")
    return qs


def offered_annotation(kind: str, connection: Connection) -> Case | Value:
    """Why a record is (not) offered to requesters, as a short label for the tabs.

    Mirrors `offered_q` condition by condition, so the label and the picker agree.
    """
    if not connection_offers_records(connection):
        return Value("Coupa disconnected", output_field=CharField())
    whens = [When(active=False, then=Value("Inactive in Coupa"))]
    if kind == "accounts":
        whens += [
            When(
                Q(chart__isnull=True) | Q(chart__selected=False), then=Value("Chart not selected")
            ),
            When(chart__active=False, then=Value("Chart inactive in Coupa")),
        ]
    whens.append(When(show_to_users=False, then=Value("Hidden")))
    return Case(*whens, default=Value("yes"), output_field=CharField())


def _counts(connection: Connection, kind: str) -> dict[str, int]:
    model = RESOURCES[kind].model
    # Aliases differ from field names: Django refuses an aggregate named like a field.
    # Counts of `active` (never NULL), a column of the (connection, active, show_to_users)
    # index, unlike the primary key: with the table vacuumed (an import's end does it)
    # the index alone is read (Items tab over 200,000 items: 25 ms counting pk, 7 ms so).
    aggregates: dict[str, Any] = {
        "n_imported": Count("active"),
        "n_active": Count("active", filter=Q(active=True)),
    }
    if kind in PICKABLE:
        aggregates["n_offered"] = Count("active", filter=offered_q(kind, connection=connection))
    values = model._default_manager.filter(connection=connection).aggregate(**aggregates)
    return {key[2:]: int(value) for key, value in values.items()}


def record_counts(*, connection: Connection, kind: str) -> dict[str, int]:
    """Imported, active and offered counts of a tab (tab headers, procurement page),
    kept between reads on PostgreSQL (coupa.reference.counts)."""
    if kind not in PICKABLE:
        raise KeyError(kind)
    return counts_read(
        connection_id=connection.pk,
        kind=kind,
        offers=connection_offers_records(connection),
        count=lambda: _counts(connection, kind),
    )


def record_counts_all(*, connection: Connection) -> dict[str, dict[str, int]]:
    """`record_counts` of every tab (accounts, vendors, items), by kind: one query when all
    are kept."""
    return counts_read_all(
        connection_id=connection.pk,
        offers=connection_offers_records(connection),
        count=lambda kind: _counts(connection, kind),
    )


def chart_list(*, connection: Connection, active_only: bool = True) -> QuerySet[ChartOfAccounts]:
    """The instance's charts of accounts (active ones by default), for the slider."""
    qs = ChartOfAccounts.objects.filter(connection=connection)
    if active_only:
        qs = qs.filter(active=True)
    return qs.order_by("name", "pk")


def _run_dict(r: SyncRun) -> dict[str, Any]:
    return {
        "id": r.pk,
        "trigger": r.trigger,
        "state": r.state,
        "full": r.full,
        "resources": r.resources,
        "created_at": r.created_at.isoformat(),
        "started_at": r.started_at.isoformat() if r.started_at else None,
        "finished_at": r.finished_at.isoformat() if r.finished_at else None,
        "counts": r.counts,
        "requests": r.requests,
        "retries": r.retries,
        "throttled": r.throttled,
        "error": r.error,
    }


def sync_status(*, connection: Connection, runs: int = 5) -> dict[str, Any]:
    """Return what `coupa_status` shows: selected charts, per-resource counts, last runs.

    Counts per resource: imported (rows) and active; for accounts, vendors and items also
    `shown`: what requesters are offered (`offered_q`, the same count as the tabs').
    """
    charts = [
        {"id": c.pk, "external_id": c.external_id, "name": c.name, "active": c.active}
        for c in ChartOfAccounts.objects.filter(connection=connection, selected=True).order_by(
            "name"
        )
    ]
    resources: dict[str, dict[str, int]] = {}
    for name in RESOURCES:
        counts = _counts(connection, name)
        if "offered" in counts:
            counts["shown"] = counts.pop("offered")
        resources[name] = counts
    last_runs = [_run_dict(r) for r in connection.sync_runs.order_by("-created_at", "-pk")[:runs]]
    return {"selected_charts": charts, "resources": resources, "last_runs": last_runs}
