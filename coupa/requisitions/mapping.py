"""The field mapping of a workflow version to Coupa's purchase requisition.

`mapping_table` is what the mapping page and the API show: one row per Coupa field with
its mapping, whether it is locked, its problems and a suggestion. `mapping_problems` is
the publish gate's list. Changes go through `mapping_set` and `mapping_remove`, which
refuse what would let an incomplete requisition reach Coupa: removing a required field's
mapping (it is **locked**: it can only be changed to another valid source), a source of
the wrong type, a constant that is not an offered record.

The readings (`mapping_table`, `mapping_problems`, and the payload builder and R39 check
of `coupa.requisitions.payload`) read what they need through a `VersionMapping`: a caller
with several readings of one version (the push, building one requisition) makes one and
passes it along, so the connection, the form, the mappings and the custom fields are read
once for all of them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Any

from django.db import transaction

from coupa.models import CoupaRecordModel
from coupa.reference.selectors import offered_record_list
from coupa.requisitions.fields import (
    BOOLEAN,
    DATE,
    DECIMAL,
    LINE_TYPE,
    LINE_TYPES,
    LONG_TEXT,
    LOOKUP,
    QUANTITY,
    REQUEST_ATTRIBUTES,
    REQUEST_SOURCES,
    REQUESTER_ATTRIBUTES,
    TERM,
    TEXT,
    TITLE,
    PrField,
    pr_field_list,
)
from integrations.models import Connection, CustomFieldDefinition, FieldMapping
from integrations.selectors import connection_current, connection_sync_blocker
from spendflo.audit.models import AuditEvent
from spendflo.audit.services import audit_record
from spendflo.users.models import User
from spendflo.workflows.models import FormField, WorkflowVersion

Source = FieldMapping.Source


class MappingError(Exception):
    """A mapping change that cannot be made; the message says why, for the admin."""


class MappingLockedError(MappingError):
    """Removing a mapping Coupa needs."""


@dataclass(frozen=True)
class Problem:
    """Something that keeps a version from being published, tied to a row when it has one."""

    target: str  # a PrField key, or "" for the connection or the form
    message: str


@dataclass(frozen=True)
class Suggestion:
    source: str
    form_field: FormField | None = None
    value: Any = None
    reason: str = ""

    @property
    def label(self) -> str:
        if self.form_field is not None:
            return f"Form field “{self.form_field.label}”"
        if self.source == Source.REQUESTER:
            return REQUESTER_ATTRIBUTES.get(str(self.value), str(self.value))
        if self.source == Source.REQUEST:
            return REQUEST_ATTRIBUTES.get(str(self.value), str(self.value))
        return f"Constant {self.value!r}" if not isinstance(self.value, Mapping) else "Constant"


@dataclass
class Row:
    """One Coupa field on the mapping page."""

    field: PrField
    mapping: FieldMapping | None
    required: bool  # required now (quantity and UoM only on quantity lines)
    locked: bool  # its mapping cannot be removed
    applies: bool = True  # False for quantity and UoM on amount lines
    problems: list[str] = dataclasses.field(default_factory=list)
    suggestion: Suggestion | None = None


# --- reading ----------------------------------------------------------------------------


class CurrentConnection:
    """The default of a `connection` argument: the organization's current connection,
    looked up. A caller that has it already passes it instead."""


CURRENT = CurrentConnection()


def version_connection(
    version: WorkflowVersion, connection: Connection | CurrentConnection | None = CURRENT
) -> Connection | None:
    """`connection`, or the version's organization's current connection for CURRENT."""
    if isinstance(connection, CurrentConnection):
        return connection_current(organization=version.workflow.organization)
    return connection


def _custom_fields(connection: Connection | None) -> list[CustomFieldDefinition]:
    if connection is None:
        return []
    return list(connection.custom_fields.all())


def pr_fields_for(
    version: WorkflowVersion, *, connection: Connection | CurrentConnection | None = CURRENT
) -> list[PrField]:
    """The mappable fields for a version: standard ones and its instance's custom fields."""
    return pr_field_list(_custom_fields(version_connection(version, connection)))


def _mappings(version: WorkflowVersion) -> dict[str, FieldMapping]:
    return {m.target: m for m in version.mappings.select_related("form_field")}


class VersionMapping:
    """One version's mapping as the readings need it, each part read once, when first used:
    the organization's connection (`connection`: the caller's, or CURRENT to look it up),
    the form's fields, the mappings with their form fields, the mappable fields, and the
    offered records that constants and answers name.

    Keep one only for one operation (building or checking one requisition, one page):
    what it read is not read again, so it would not see later changes.
    """

    def __init__(
        self,
        version: WorkflowVersion,
        *,
        connection: Connection | CurrentConnection | None = CURRENT,
    ) -> None:
        self.version = version
        self.connection = version_connection(version, connection)
        self._records: dict[tuple[str, int], CoupaRecordModel | None] = {}

    @cached_property
    def fields(self) -> list[FormField]:
        """The version's form fields, in the form's order."""
        return list(self.version.fields.all())

    @cached_property
    def mappings(self) -> dict[str, FieldMapping]:
        """The version's mappings by target, with their form fields."""
        return _mappings(self.version)

    @cached_property
    def pr_fields(self) -> list[PrField]:
        """The mappable fields: the standard ones and the connection's custom fields."""
        return pr_field_list(_custom_fields(self.connection))

    def offered_record(self, kind: str, pk: int) -> CoupaRecordModel | None:
        """The connection's record of `kind` with our id `pk` if it is offered, else None."""
        if self.connection is None:
            return None
        key = (kind, pk)
        if key not in self._records:
            self._records[key] = (
                offered_record_list(connection=self.connection, kind=kind).filter(pk=pk).first()
            )
        return self._records[key]

    def offered_records_preload(self, wanted: Iterable[tuple[str, int]]) -> None:
        """Read the (kind, pk) records `offered_record` will be asked for, one query per
        kind (the lines of one requisition name the same kinds again and again)."""
        if self.connection is None:
            return
        by_kind: dict[str, set[int]] = {}
        for kind, pk in wanted:
            if (kind, pk) not in self._records:
                by_kind.setdefault(kind, set()).add(pk)
        for kind, pks in by_kind.items():
            offered = offered_record_list(connection=self.connection, kind=kind)
            found = {r.pk: r for r in offered.filter(pk__in=pks).order_by()}
            self._records.update(((kind, pk), found.get(pk)) for pk in pks)


def _line_type(mappings: Mapping[str, FieldMapping]) -> str | None:
    m = mappings.get("line.line-type")
    return m.value if m is not None and m.source == Source.CONSTANT else None


def _always_present(mapping: FieldMapping | None) -> bool:
    """Whether the mapping yields a value for every request."""
    if mapping is None:
        return False
    if mapping.source != Source.FORM_FIELD:
        return True
    return mapping.default is not None or (
        mapping.form_field is not None and mapping.form_field.required
    )


def _required_now(pr: PrField, mappings: Mapping[str, FieldMapping]) -> bool:
    if pr.required == "always":
        return True
    if pr.required == "quantity_line":
        return _line_type(mappings) != "RequisitionAmountLine"
    if pr.required == "description_or_item":
        other = "line.item" if pr.key == "line.description" else "line.description"
        return not _always_present(mappings.get(other))
    return False


def _requirement_problem(pr: PrField, mappings: Mapping[str, FieldMapping]) -> str | None:
    """Why the mappings leave a required field empty on some requests, or None."""
    if not _required_now(pr, mappings):
        return None
    mapping = mappings.get(pr.key)
    if pr.required == "description_or_item":
        if _always_present(mappings.get("line.description")) or _always_present(
            mappings.get("line.item")
        ):
            return None
        return "Coupa needs a description or an item on every line: map one of them to a required source."
    if mapping is None:
        what = "on quantity lines" if pr.required == "quantity_line" else ""
        return " ".join(filter(None, (f"{pr.label} is required by Coupa", what))) + ": map it."
    if not _always_present(mapping):
        name = mapping.form_field.label if mapping.form_field else "The form field"
        return (
            f"“{name}” is optional on the form but {pr.label} is required: make the form "
            "field required or give a default."
        )
    return None


def _source_problem(
    pr: PrField, mapping: FieldMapping, loaded: VersionMapping, line_type: str | None
) -> str | None:
    """Why a mapping's source cannot feed its field, or None."""
    if pr.key in ("line.quantity", "line.uom") and line_type == "RequisitionAmountLine":
        return f"Amount lines have no {pr.label.lower()}: remove this mapping."
    if mapping.source not in pr.sources:
        return f"{pr.label} cannot come from {mapping.get_source_display().lower()}."
    if mapping.source == Source.FORM_FIELD:
        ff = mapping.form_field
        if ff is None:
            return "Its form field was deleted: choose another source."
        if ff.version_id != mapping.version_id:
            return "The form field belongs to another version."
        if not pr.accepts_form_field(ff):
            if pr.level == "header" and ff.group == FormField.Group.LINE:
                return f"“{ff.label}” is asked on each line; {pr.label} is one per requisition."
            return (
                f"A {ff.get_type_display().lower()} field cannot feed {pr.label} ({pr.coupa_type})."
            )
        if pr.value_type == LOOKUP and pr.custom is not None:
            unknown = [c for c in ff.choices if c not in pr.custom.values]
            if unknown:
                return f"Choices not in the instance's list: {', '.join(unknown)}."
        if mapping.default is not None:
            return _constant_problem(pr, mapping.default, loaded, "default")
        return None
    if mapping.source == Source.REQUESTER:
        return None if mapping.value in REQUESTER_ATTRIBUTES else "Unknown requester attribute."
    if mapping.source == Source.REQUEST:
        allowed = REQUEST_SOURCES.get(pr.value_type, frozenset())
        return (
            None if mapping.value in allowed else f"{pr.label} cannot come from that request data."
        )
    return _constant_problem(pr, mapping.value, loaded, "constant")


def _constant_problem(pr: PrField, value: Any, loaded: VersionMapping, what: str) -> str | None:
    """Why a constant (or default) is not a valid value for the field, or None."""
    kind = pr.record_kind
    if kind is not None:
        record = _record(kind, value, loaded)
        if record is None:
            return f"The {what} is not an offered {kind[:-1] if kind != 'addresses' else 'address'}: pick another."
        return None
    vt = pr.value_type
    if vt == LINE_TYPE:
        return None if value in LINE_TYPES else f"Choose one of: {', '.join(LINE_TYPES.values())}."
    if vt in (TEXT, TITLE, LONG_TEXT, TERM):
        if not isinstance(value, str) or not value.strip():
            return f"The {what} must be text."
        if vt == TITLE and len(value) > 50:
            return f"The {what} is longer than Coupa's 50 characters."
        return None
    if vt == DATE:
        try:
            dt.date.fromisoformat(str(value))
        except ValueError:
            return f"The {what} must be a date (YYYY-MM-DD)."
        return None
    if vt in (DECIMAL, QUANTITY):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return f"The {what} must be a number."
        if vt == QUANTITY and number <= 0:
            return f"The {what} must be a positive number."
        return None
    if vt == BOOLEAN:
        return None if isinstance(value, bool) else f"The {what} must be yes or no."
    if vt == LOOKUP:
        values = pr.custom.values if pr.custom is not None else []
        return None if value in values else f"The {what} must be one of: {', '.join(values)}."
    return None


def _record(kind: str, value: Any, loaded: VersionMapping) -> CoupaRecordModel | None:
    if not isinstance(value, Mapping):
        return None
    pk = value.get("id")
    if not isinstance(pk, int):
        return None
    return loaded.offered_record(kind, pk)


def _suggest(
    pr: PrField, pr_fields: list[PrField], fields: list[FormField], taken: set[int]
) -> Suggestion | None:
    """A source for an unmapped field: by name and type, else a sensible default."""
    words = [w.lower() for w in pr.suggest]
    best: tuple[int, FormField] | None = None
    header_twin = pr.level == "line" and any(
        f.level == "header" and f.coupa_key == pr.coupa_key for f in pr_fields
    )
    for ff in fields:
        if not pr.accepts_form_field(ff):
            continue
        if header_twin and ff.group == FormField.Group.REQUEST:
            continue  # a request-wide answer feeds the header's own field (need-by-date)
        haystack = f"{ff.api_name} {ff.label}".lower().replace("_", " ")
        score = sum(2 if w in ff.api_name.lower() else 1 for w in words if w in haystack)
        if ff.pk in taken:
            score -= 1
        # A picker of the field's own kind is the natural source even without a name match.
        if ff.is_picker and pr.record_kind is not None:
            score += 2
        if pr.value_type == "currency" and ff.type == FormField.Type.MONEY:
            score += 2
        if score > 0 and (best is None or score > best[0]):
            best = (score, ff)
    if best is not None:
        return Suggestion(Source.FORM_FIELD, best[1], reason="matches by name and type")
    if pr.key == "requested-by":
        return Suggestion(Source.REQUESTER, value="email", reason="the person who submits")
    if pr.key == "req-title":
        return Suggestion(Source.REQUEST, value="title", reason="the request's own title")
    if pr.key == "justification":
        return Suggestion(Source.REQUEST, value="link", reason="a link back to the request")
    if pr.key == "line.line-type":
        return Suggestion(Source.CONSTANT, value="RequisitionQuantityLine", reason="most requests")
    return None


def mapping_table(version: WorkflowVersion, *, loaded: VersionMapping | None = None) -> list[Row]:
    """The mapping page's rows: every Coupa field, its mapping, lock, problems, suggestion
    (`loaded`: the version's mapping as the caller read it, else read here)."""
    return _rows(loaded if loaded is not None else VersionMapping(version), page=True)


def _rows(loaded: VersionMapping, *, page: bool) -> list[Row]:
    """The rows with their problems; with `page`, also what only the page shows (locks, and
    suggestions, which read the form's fields)."""
    mappings = loaded.mappings
    line_type = _line_type(mappings)
    taken = {m.form_field_id for m in mappings.values() if m.form_field_id}
    pr_fields = loaded.pr_fields
    rows = []
    for pr in pr_fields:
        mapping = mappings.get(pr.key)
        applies = not (
            pr.key in ("line.quantity", "line.uom") and line_type == "RequisitionAmountLine"
        )
        row = Row(
            field=pr,
            mapping=mapping,
            required=_required_now(pr, mappings),
            locked=page and mapping is not None and _locked(pr, mappings),
            applies=applies,
        )
        if mapping is not None:
            problem = _source_problem(pr, mapping, loaded, line_type)
            if problem:
                row.problems.append(problem)
        elif applies and page:
            row.suggestion = _suggest(pr, pr_fields, loaded.fields, taken)
        problem = _requirement_problem(pr, mappings)
        if problem and not (pr.required == "description_or_item" and pr.key == "line.item"):
            row.problems.append(problem)
        rows.append(row)
    return rows


def _locked(pr: PrField, mappings: Mapping[str, FieldMapping]) -> bool:
    """Whether removing this field's mapping would leave a required field empty."""
    without = {k: v for k, v in mappings.items() if k != pr.key}
    return _requirement_problem(pr, without) is not None


def connection_problems(
    version: WorkflowVersion, *, connection: Connection | CurrentConnection | None = CURRENT
) -> list[Problem]:
    """What about the organization's Coupa connection keeps the version from publishing."""
    connection = version_connection(version, connection)
    if connection is None:
        return [Problem("", "Coupa is not connected: connect it under Settings → Integrations.")]
    blocker = connection_sync_blocker(connection)
    if blocker:
        return [Problem("", f"The Coupa connection is not usable: {blocker}")]
    return []


def _has_line_fields(loaded: VersionMapping) -> bool:
    """Whether the version's form asks anything per line: a mapped line field says so
    without reading the form."""
    version_id = loaded.version.pk
    return any(
        m.form_field is not None
        and m.form_field.version_id == version_id
        and m.form_field.group == FormField.Group.LINE
        for m in loaded.mappings.values()
    ) or any(f.group == FormField.Group.LINE for f in loaded.fields)


def mapping_problems(
    version: WorkflowVersion, *, loaded: VersionMapping | None = None
) -> list[Problem]:
    """Everything that keeps the version from being published, each in words (`loaded`:
    the version's mapping as the caller read it, else read here)."""
    if loaded is None:
        loaded = VersionMapping(version)
    problems: list[Problem] = connection_problems(version, connection=loaded.connection)
    if not _has_line_fields(loaded):
        problems.append(
            Problem("", "The form has no line fields: a Coupa requisition needs at least one line.")
        )
    for row in _rows(loaded, page=False):
        label = row.field.label
        problems.extend(
            # "Requested by is required…" names its field already; others get it in front.
            Problem(row.field.key, p if p.startswith(f"{label} ") else f"{label}: {p}")
            for p in row.problems
        )
    return problems


# --- changing ---------------------------------------------------------------------------


def _editable(version: WorkflowVersion) -> None:
    if not version.is_editable:
        raise MappingError(
            f"Version {version.number} is {version.get_state_display().lower()}: edit the draft version instead."
        )


def _pr_field(version: WorkflowVersion, target: str) -> PrField:
    for pr in pr_fields_for(version):
        if pr.key == target:
            return pr
    raise MappingError(f"{target!r} is not a Coupa requisition field.")


@transaction.atomic
def mapping_set(
    *,
    version: WorkflowVersion,
    target: str,
    source: str,
    form_field: FormField | None = None,
    value: Any = None,
    default: Any = None,
    user: User | None,
) -> FieldMapping:
    """Map one Coupa field to a source; MappingError says why a source cannot feed it."""
    _editable(version)
    pr = _pr_field(version, target)
    if source not in Source.values:
        raise MappingError(f"Unknown source {source!r}.")
    if source == Source.FORM_FIELD:
        if form_field is None:
            raise MappingError("Choose the form field.")
        value = None
    else:
        form_field, default = None, None
    mapping = FieldMapping.objects.filter(version=version, target=target).first() or FieldMapping(
        version=version, target=target
    )
    mapping.source, mapping.form_field, mapping.value, mapping.default = (
        source,
        form_field,
        value,
        default,
    )
    loaded = VersionMapping(version)
    problem = _source_problem(pr, mapping, loaded, _line_type(loaded.mappings))
    if problem:
        raise MappingError(f"{pr.label}: {problem}")
    mapping.save()
    audit_record(
        organization=version.workflow.organization,
        actor=user,
        action=AuditEvent.Action.MAPPING_CHANGE,
        summary=f"Mapped {pr.label} of {version} to {Suggestion(source, form_field, value).label}.",
    )
    return mapping


@transaction.atomic
def mapping_remove(*, version: WorkflowVersion, target: str, user: User | None) -> None:
    """Unmap one field; MappingLockedError if Coupa requires it (change it instead)."""
    _editable(version)
    pr = _pr_field(version, target)
    mappings = _mappings(version)
    if target not in mappings:
        return
    if _locked(pr, mappings):
        raise MappingLockedError(
            f"{pr.label} is required by Coupa: its mapping cannot be removed, only changed to another source."
        )
    mappings[target].delete()
    audit_record(
        organization=version.workflow.organization,
        actor=user,
        action=AuditEvent.Action.MAPPING_CHANGE,
        summary=f"Removed the mapping of {pr.label} from {version}.",
    )


@transaction.atomic
def mapping_accept_suggestions(
    *, version: WorkflowVersion, targets: Iterable[str] | None = None, user: User | None
) -> list[FieldMapping]:
    """Accept the suggestions of the given unmapped fields (all of them when None)."""
    _editable(version)
    wanted = None if targets is None else set(targets)
    made = []
    for row in mapping_table(version):
        if row.mapping is not None or row.suggestion is None:
            continue
        if wanted is not None and row.field.key not in wanted:
            continue
        s = row.suggestion
        try:
            made.append(
                mapping_set(
                    version=version,
                    target=row.field.key,
                    source=s.source,
                    form_field=s.form_field,
                    value=s.value,
                    user=user,
                )
            )
        except MappingError:
            continue  # a suggestion that no longer fits is simply not taken
    return made
