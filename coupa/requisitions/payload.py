"""Build the Coupa requisition a request's answers make, and say what is wrong with it.

`requisition_payload` turns the answers to a version's form into the JSON body of
`POST /api/requisitions` through the version's mapping (`coupa.requisitions.fields` says
what each target is). It never guesses: every value it cannot produce (an empty required
answer, a record no longer offered, a requester without a Coupa user) is a `Problem` on
the field's row, and the payload leaves the key out. It reads what it needs through the
caller's `VersionMapping` when given one, and the records the mapping and the answers
name at once, one query per kind, however many lines.

Answers are plain JSON, as a form or the API posts them: `{"request": {api_name: value},
"lines": [{api_name: value}, ...]}`. Text, choices and numbers are strings (numbers may be
JSON numbers); a date is `YYYY-MM-DD`; money is `{"amount": "12.50", "currency": "USD"}`;
a picker's answer is the picked record's id (ours, not Coupa's); a user field's is the
user's id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.utils import timezone

from coupa.models import CoupaUser, Currency
from coupa.reference.selectors import offered_record_list
from coupa.requisitions.fields import (
    BOOLEAN,
    DATE,
    DECIMAL,
    LINE_TYPE,
    LONG_TEXT,
    LOOKUP,
    PICKER_KINDS,
    QUANTITY,
    TERM,
    TEXT,
    TITLE,
    PrField,
)
from coupa.requisitions.mapping import Problem, VersionMapping, pr_fields_for
from coupa.spec import SpecValidator
from integrations.models import FieldMapping
from integrations.selectors import connection_current
from spendflo.users.models import User
from spendflo.workflows.models import FormField, WorkflowVersion

Source = FieldMapping.Source
_YES = frozenset({"yes", "true", "1", "y", "on"})


@dataclass(frozen=True)
class RequestInfo:
    """The request's own data a mapping can use (Source.REQUEST)."""

    title: str
    number: str
    link: str


@dataclass
class BuildResult:
    payload: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class _Missing:
    """No value: the key is left out of the payload."""


MISSING = _Missing()


def _text(value: Any) -> str | _Missing:
    if value is None:
        return MISSING
    text = str(value).strip()
    return text if text else MISSING


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


class _Builder:
    def __init__(self, loaded: VersionMapping, requester: User, info: RequestInfo) -> None:
        self.loaded = loaded
        self.version = loaded.version
        self.connection = loaded.connection
        self.requester = requester
        self.info = info
        self.problems: list[Problem] = []

    def problem(self, pr: PrField, message: str, line: int | None = None) -> _Missing:
        where = f"Line {line}: " if line is not None else ""
        self.problems.append(Problem(pr.key, f"{where}{pr.label}: {message}"))
        return MISSING

    # -- sources -----------------------------------------------------------------

    def raw(
        self, mapping: FieldMapping, request: Mapping[str, Any], line: Mapping[str, Any] | None
    ) -> Any:
        """The answer or constant a mapping points at (None when empty)."""
        if mapping.source == Source.FORM_FIELD:
            ff = mapping.form_field
            if ff is None:
                return None
            answers = line if ff.group == FormField.Group.LINE and line is not None else request
            value = answers.get(ff.api_name)
            if value in (None, "", [], {}):
                return mapping.default
            return value
        if mapping.source == Source.REQUEST:
            return getattr(self.info, str(mapping.value), None)
        if mapping.source == Source.REQUESTER:
            return ("requester", mapping.value)
        return mapping.value

    # -- values by type ----------------------------------------------------------

    def record(self, pr: PrField, value: Any, line: int | None) -> Any:
        kind = pr.record_kind
        assert kind is not None
        if self.connection is None:
            return self.problem(pr, "Coupa is not connected.", line)
        if isinstance(value, Mapping):
            value = value.get("id")
        if pr.value_type == "currency" and isinstance(value, str):
            currency = (
                offered_record_list(connection=self.connection, kind="currencies")
                .filter(code=value.upper())
                .first()
            )
            if currency is None:
                return self.problem(pr, f"the currency {value} is not enabled in Coupa.", line)
            return {"code": currency.code}
        if isinstance(value, bool) or not isinstance(value, int):
            return self.problem(pr, f"expected a picked record, got {value!r}.", line)
        record = self.loaded.offered_record(kind, value)
        if record is None:
            return self.problem(
                pr, "the chosen record is no longer offered (hidden, inactive or removed).", line
            )
        if isinstance(record, Currency):
            return {"code": record.code}
        return {"id": record.external_id}

    def user(self, pr: PrField, value: Any, line: int | None) -> Any:
        if self.connection is None:
            return self.problem(pr, "Coupa is not connected.", line)
        how = "email"
        if isinstance(value, tuple) and value[0] == "requester":
            person: User | None = self.requester
            how = str(value[1])
        else:
            person = (
                User.objects.filter(
                    pk=value, organization_id=self.version.workflow.organization_id
                ).first()
                if isinstance(value, int) and not isinstance(value, bool)
                else None
            )
        if person is None:
            return self.problem(pr, "no user chosen.", line)
        users = offered_record_list(connection=self.connection, kind="users")
        lookup = (
            {"login__iexact": person.email} if how == "login" else {"email__iexact": person.email}
        )
        match: CoupaUser | None = users.filter(**lookup).first()
        if match is None:
            return self.problem(
                pr,
                f"{person.email} is not an active Coupa user (matched by {how}); "
                "ask a Coupa admin to add them, or map another source.",
                line,
            )
        return {"id": match.external_id}

    def value(self, pr: PrField, raw: Any, line: int | None) -> Any:
        vt = pr.value_type
        if raw is None:
            return MISSING
        if vt == "user":
            return self.user(pr, raw, line)
        if pr.record_kind is not None:
            if vt == "currency" and isinstance(raw, Mapping) and "amount" in raw:
                raw = raw.get("currency")
                if not raw:
                    return MISSING
            return self.record(pr, raw, line)
        if vt in (TEXT, LONG_TEXT, TITLE, LINE_TYPE):
            text = _text(raw)
            if vt == TITLE and isinstance(text, str) and len(text) > 50:
                return self.problem(pr, f"{len(text)} characters; Coupa keeps at most 50.", line)
            if vt == LONG_TEXT and isinstance(text, str) and len(text) > 2000:
                return self.problem(pr, f"{len(text)} characters; Coupa keeps at most 2000.", line)
            return text
        if vt == TERM:
            text = _text(raw)
            return {"code": text} if isinstance(text, str) else MISSING
        if vt == DATE:
            try:
                day = dt.date.fromisoformat(str(raw))
            except ValueError:
                return self.problem(pr, f"{raw!r} is not a date.", line)
            # A full timestamp, never a bare date (coupa-api.md 9.3): midnight where we are.
            zone = timezone.get_default_timezone() if settings.USE_TZ else dt.UTC
            return dt.datetime(day.year, day.month, day.day, tzinfo=zone).isoformat()
        if vt in (DECIMAL, QUANTITY):
            amount = raw.get("amount") if isinstance(raw, Mapping) else raw
            number = _decimal(amount)
            if number is None:
                return self.problem(pr, f"{amount!r} is not a number.", line)
            if vt == QUANTITY and number <= 0:
                return self.problem(pr, "must be more than 0.", line)
            if vt == DECIMAL and number < 0:
                return self.problem(pr, "cannot be negative.", line)
            return str(number)
        if vt == BOOLEAN:
            return raw if isinstance(raw, bool) else str(raw).strip().lower() in _YES
        if vt == LOOKUP:
            text = _text(raw)
            return {"name": text} if isinstance(text, str) else MISSING
        return raw

    def put(
        self,
        out: dict[str, Any],
        pr: PrField,
        mapping: FieldMapping | None,
        request: Mapping[str, Any],
        line_answers: Mapping[str, Any] | None,
        line: int | None,
    ) -> None:
        if mapping is None:
            return
        value = self.value(pr, self.raw(mapping, request, line_answers), line)
        if not isinstance(value, _Missing):
            out[pr.coupa_key] = value


def requisition_payload(
    *,
    version: WorkflowVersion,
    answers: Mapping[str, Any],
    requester: User,
    info: RequestInfo,
    loaded: VersionMapping | None = None,
) -> BuildResult:
    """The requisition body for these answers, and every problem found building it
    (`loaded`: the version's mapping as the caller read it, else read here)."""
    if loaded is None:
        loaded = VersionMapping(version)
    builder = _Builder(loaded, requester, info)
    mappings = loaded.mappings
    request = answers.get("request") or {}
    lines = answers.get("lines") or []
    if not isinstance(request, Mapping) or not isinstance(lines, list):
        return BuildResult({}, [Problem("", 'Answers must be {"request": {...}, "lines": [...]}.')])
    prs = loaded.pr_fields
    _preload_records(loaded, prs, mappings, request, lines)
    header: dict[str, Any] = {}
    for pr in prs:
        if pr.level == "header":
            builder.put(header, pr, mappings.get(pr.key), request, None, None)
    if not lines:
        builder.problems.append(Problem("", "A requisition needs at least one line."))
    built_lines = []
    for num, line_answers in enumerate(lines, start=1):
        if not isinstance(line_answers, Mapping):
            builder.problems.append(Problem("", f"Line {num}: answers must be an object."))
            continue
        line: dict[str, Any] = {"line-num": num}
        for pr in prs:
            if pr.level == "line":
                builder.put(line, pr, mappings.get(pr.key), request, line_answers, num)
        if line.get("line-type") == "RequisitionAmountLine":
            line.pop("quantity", None)
            line.pop("uom", None)
        built_lines.append(line)
        _check_line(builder, prs, line, num)
    _check_header(builder, prs, header)
    header["requisition-lines"] = built_lines
    return BuildResult(header, builder.problems)


def _preload_records(
    loaded: VersionMapping,
    prs: list[PrField],
    mappings: Mapping[str, FieldMapping],
    request: Mapping[str, Any],
    lines: list[Any],
) -> None:
    """Read at once every offered record the mappings (constants, defaults) and the
    answers (picks) name: one query per kind, however many lines."""
    wanted: list[tuple[str, int]] = []
    for pr in prs:
        mapping = mappings.get(pr.key)
        kind = pr.record_kind
        if mapping is None or kind is None or pr.value_type == "user":
            continue  # a user field's answer is one of our users, matched by email
        values = [mapping.value, mapping.default]
        ff = mapping.form_field if mapping.source == Source.FORM_FIELD else None
        if ff is not None:
            values.append(request.get(ff.api_name))
            values += [line.get(ff.api_name) for line in lines if isinstance(line, Mapping)]
        for value in values:
            pk = value.get("id") if isinstance(value, Mapping) else value
            if isinstance(pk, int) and not isinstance(pk, bool):
                wanted.append((kind, pk))
    loaded.offered_records_preload(wanted)


def _check_header(builder: _Builder, prs: list[PrField], header: Mapping[str, Any]) -> None:
    for pr in prs:
        if pr.level == "header" and pr.required == "always" and pr.coupa_key not in header:
            builder.problem(pr, "no value: Coupa requires it.")


def _check_line(builder: _Builder, prs: list[PrField], line: Mapping[str, Any], num: int) -> None:
    amount = line.get("line-type") == "RequisitionAmountLine"
    for pr in prs:
        if pr.level != "line" or pr.coupa_key in line:
            continue
        if pr.required == "always" or (pr.required == "quantity_line" and not amount):
            if pr.key == "line.uom" and "item" in line:
                continue  # a catalog item gives the line its unit of measure
            builder.problem(pr, "no value: Coupa requires it.", num)
    if "description" not in line and "item" not in line:
        builder.problems.append(
            Problem("line.description", f"Line {num}: a description or an item is required.")
        )


def validate_r39(
    version: WorkflowVersion,
    payload: Mapping[str, Any],
    *,
    loaded: VersionMapping | None = None,
) -> list[Problem]:
    """The payload checked by the R39 validator at the agreed strictness (coupa-api.md 9b;
    `loaded`: the version's mapping as the caller read it, else its fields are read here)."""
    custom: dict[str, list[str]] = {"RequisitionHeader": [], "RequisitionLine": []}
    prs = loaded.pr_fields if loaded is not None else pr_fields_for(version)
    for pr in prs:
        if pr.custom is not None:
            custom["RequisitionHeader" if pr.level == "header" else "RequisitionLine"].append(
                pr.coupa_key
            )
    result = SpecValidator.default().validate(
        "RequisitionHeader", payload, direction="request", custom_fields=custom
    )
    return [Problem("", f"Coupa's specification: {e}") for e in result.errors]


def sample_answers(version: WorkflowVersion, *, requester: User) -> dict[str, Any]:
    """Plausible answers to every field, from offered records, for a first preview."""
    connection = connection_current(organization=version.workflow.organization)
    request: dict[str, Any] = {}
    line: dict[str, Any] = {}
    currency = "USD"
    if connection is not None:
        offered = offered_record_list(connection=connection, kind="currencies")
        # USD when the instance offers it (most do), else the first offered currency.
        first = offered.filter(code=currency).first() or offered.first()
        currency = first.code if first else currency
    today = timezone.localdate()
    for ff in version.fields.all():
        value: Any
        if ff.type in PICKER_KINDS:
            record = (
                offered_record_list(connection=connection, kind=PICKER_KINDS[ff.type]).first()
                if connection is not None
                else None
            )
            value = record.pk if record is not None else None
        elif ff.type == FormField.Type.NUMBER:
            value = "2"
        elif ff.type == FormField.Type.MONEY:
            value = {"amount": "150.00", "currency": currency}
        elif ff.type == FormField.Type.DATE:
            value = (today + dt.timedelta(days=14)).isoformat()
        elif ff.type == FormField.Type.CHOICE:
            value = ff.choices[0] if ff.choices else ""
        elif ff.type == FormField.Type.USER:
            value = requester.pk
        else:
            value = f"Sample {ff.label.lower()}"
        (line if ff.group == FormField.Group.LINE else request)[ff.api_name] = value
    return {"request": request, "lines": [line]}
