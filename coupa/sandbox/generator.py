"""Deterministic reference-data generator (same `--seed`, sizes and anchor -> same data).

Each resource draws from its own random stream, so changing one size does not
change the records of another resource. Records are plain dicts with Coupa's
hyphenated keys; references hold the target's id; timestamps are epoch seconds;
keys equal to the field default are left out to keep 200,000 items small.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from coupa.sandbox import layouts, words
from coupa.sandbox.render import instance_timezone
from coupa.sandbox.resources import Registry

Record = dict[str, Any]

TWO_YEARS = 730 * 86400

#: Default sizes: the demo set.
DEFAULT_SIZES: dict[str, int] = {
    "account_types": 4,
    "accounts": 300,
    "suppliers": 200,
    "items": 500,
    "users": 60,
    "addresses": 40,
    "departments": 16,
    "commodities": len(words.COMMODITIES),
    # Their lines, purchase orders and PO lines follow from the requisitions.
    "requisitions": 120,
}

API_USER_ID = 1  # the integration's own API user: created-by/updated-by of API changes


@dataclass(frozen=True)
class ChartTemplate:
    """A chart of accounts: name, currency, legal entity, dynamic flag and segment values."""

    name: str
    currency: str
    legal_entity: str
    dynamic: bool
    active: bool
    segments: tuple[tuple[str, ...], ...]
    weight: float


_GL = tuple(code for code, _ in words.GL_ACCOUNTS)
_GL_NAMES = dict(words.GL_ACCOUNTS)

CHART_TEMPLATES: tuple[ChartTemplate, ...] = (
    ChartTemplate(
        "Acme US Operations",
        "USD",
        "Acme Corporation",
        False,
        True,
        (
            ("US01", "US02", "US03"),
            # "Co-Op" holds a hyphen on purpose: it breaks splitting `code` on "-"
            # (coupa-api.md 5 and 9.11), which clients must survive.
            (
                "Marketing",
                "Sales",
                "Engineering",
                "Finance",
                "HR",
                "Legal",
                "Operations",
                "IT",
                "Facilities",
                "Support",
                "Procurement",
                "Research",
                "Co-Op",
            ),
            _GL,
            tuple(f"{n:03d}" for n in range(100, 220, 10)),
        ),
        0.55,
    ),
    ChartTemplate(
        "Acme EMEA",
        "EUR",
        "Acme Europe B.V.",
        False,
        True,
        (
            ("NL01", "DE01", "FR01", "GB01"),
            tuple(f"CC{n}" for n in range(100, 300, 10)),
            _GL,
            ("EU", "UK", "NORDICS", "DACH", "BENELUX"),
        ),
        0.30,
    ),
    ChartTemplate(
        "Acme Projects (dynamic)",
        "USD",
        "Acme Corporation",
        True,
        True,
        (
            tuple(f"PRJ{n}" for n in range(1001, 1011)),
            tuple(f"T{n:02d}" for n in range(1, 31)),
            tuple(f"{n:02d}" for n in range(1, 13)),
        ),
        0.10,
    ),
    ChartTemplate(
        "Legacy Chart (retired)",
        "USD",
        "Acme Holdings Inc.",
        False,
        False,
        (
            ("LG1", "LG2", "LG3"),
            ("Admin", "Ops", "Sales", "Plant", "Fleet", "R&D", "HQ", "Field", "Lab", "Depot"),
            _GL,
        ),
        0.05,
    ),
)


def chart_template(index: int) -> ChartTemplate:
    """Return the template of the `index`-th chart, from 0 (templates repeat past the fourth)."""
    return CHART_TEMPLATES[index % len(CHART_TEMPLATES)]


def _combo(segments: tuple[tuple[str, ...], ...], index: int) -> list[str]:
    """Return the `index`-th segment combination, spread over the space by a stride."""
    total = math.prod(len(s) for s in segments)
    cycle, index = divmod(index, total)
    stride = 7919
    while math.gcd(stride, total) != 1:
        stride += 2
    j = (index * stride + 17) % total
    out: list[str] = []
    for values in reversed(segments):
        j, r = divmod(j, len(values))
        out.append(values[r])
    out.reverse()
    if cycle:
        out[-1] = f"{out[-1]}{cycle}"
    return out


@dataclass
class Context:
    """What record makers need to know about other resources."""

    anchor: int
    registry: Registry
    ids: dict[str, list[int]] = field(default_factory=dict)
    chart_accounts: dict[int, int] = field(default_factory=dict)  # accounts made per chart

    def pick(self, rng: random.Random, resource: str) -> int | None:
        """Return a random id of `resource`, or None if it has none."""
        pool = self.ids.get(resource)
        return rng.choice(pool) if pool else None

    def nth(self, resource: str, index: int) -> int:
        """Return the id of the `index`-th record (from 0) of `resource`, whatever the layout.

        While `resource` itself is being generated its ids are still dense: `index + 1`.
        """
        return layouts.nth_id(self.ids.get(resource), index)

    def index_of(self, resource: str, rec_id: int) -> int:
        """Return the position (from 0) of record `rec_id` of `resource`."""
        return layouts.index_of(self.ids.get(resource), rec_id)


def stamps(rng: random.Random, anchor: int) -> tuple[int, int]:
    """Return (created, updated) spread over the two years before `anchor`."""
    created = anchor - rng.randrange(TWO_YEARS)
    updated = created if rng.random() < 0.4 else created + rng.randrange(anchor - created + 1)
    return created, updated


def _base(rng: random.Random, rec_id: int, ctx: Context) -> Record:
    created, updated = stamps(rng, ctx.anchor)
    return {
        "id": rec_id,
        "created-at": created,
        "updated-at": updated,
        "created-by": API_USER_ID,
        "updated-by": API_USER_ID,
    }


def add_custom_values(rng: random.Random, rec: Record, registry: Registry, resource: str) -> None:
    """Fill the custom fields declared for `resource` (coupa-api.md 9b)."""
    for name in registry.custom_fields.get(resource, ()):
        rec[name] = rng.choice(words.CUSTOM_VALUES)


def make_countries(rng: random.Random, rec_id: int, index: int, ctx: Context) -> Record:
    """Return a country (fixed list; ids as on Coupa where known)."""
    # Countries keep Coupa's ids (the US is 223), not sequential ones.
    cid, code, name = words.COUNTRIES[index % len(words.COUNTRIES)]
    return {"id": cid, "code": code, "name": name}


def make_currencies(rng: random.Random, rec_id: int, index: int, ctx: Context) -> Record:
    """Return a currency from the fixed list (some disabled)."""
    code, name, symbol, decimals, enabled = words.CURRENCIES[index % len(words.CURRENCIES)]
    return {
        "id": rec_id,
        "code": code,
        "name": name,
        "symbol": symbol,
        "decimals": decimals,
        "enabled": enabled,
        "updated-by": API_USER_ID,
    }


def make_uoms(rng: random.Random, rec_id: int, index: int, ctx: Context) -> Record:
    """Return a unit of measure from the fixed list (one inactive)."""
    code, name, precision, active = words.UOMS[index % len(words.UOMS)]
    rec = _base(rng, rec_id, ctx)
    rec.update({"code": code, "name": name, "allowable-precision": precision, "active": active})
    return rec


def make_commodities(rng: random.Random, rec_id: int, index: int, ctx: Context) -> Record:
    """Return a commodity; children point at their parent by id."""
    n = len(words.COMMODITIES)
    name, category, parent = words.COMMODITIES[index % n]
    if index >= n:
        name = f"{name} {index // n + 1}"
    rec = _base(rng, rec_id, ctx)
    rec.update({"name": name, "category": category, "active": rng.random() > 0.05})
    if parent is not None:
        names = [c[0] for c in words.COMMODITIES]
        rec["parent"] = ctx.nth("commodities", names.index(parent))
    return rec


def make_departments(rng: random.Random, rec_id: int, index: int, ctx: Context) -> Record:
    """Return a department (about one in eight inactive)."""
    n = len(words.DEPARTMENTS)
    name = (
        words.DEPARTMENTS[index % n]
        if index < n
        else f"{words.DEPARTMENTS[index % n]} {index // n + 1}"
    )
    rec = _base(rng, rec_id, ctx)
    rec.update({"name": name, "active": index % 8 != 7})
    return rec


def make_payment_terms(rng: random.Random, rec_id: int, index: int, ctx: Context) -> Record:
    """Return a payment term from the fixed list."""
    code, desc, disc_days, net_days, rate, active = words.PAYMENT_TERMS[
        index % len(words.PAYMENT_TERMS)
    ]
    rec = _base(rng, rec_id, ctx)
    rec.update(
        {
            "code": code,
            "description": desc,
            "days-for-discount-payment": disc_days,
            "days-for-net-payment": net_days,
            "discount-rate": rate,
            "active": active,
        }
    )
    return rec


def make_shipping_terms(rng: random.Random, rec_id: int, index: int, ctx: Context) -> Record:
    """Return a shipping term from the fixed list."""
    code, desc, active = words.SHIPPING_TERMS[index % len(words.SHIPPING_TERMS)]
    rec = _base(rng, rec_id, ctx)
    rec.update({"code": code, "description": desc, "active": active})
    return rec


def _country_ids(ctx: Context) -> dict[str, int]:
    return {code: cid for cid, code, _ in words.COUNTRIES}


def make_addresses(rng: random.Random, rec_id: int, index: int, ctx: Context) -> Record:
    """Return a company (ship-to) address."""
    city, state, country, postal = words.CITIES[index % len(words.CITIES)]
    rec = _base(rng, rec_id, ctx)
    suffix = "" if index < len(words.CITIES) else f" {index // len(words.CITIES) + 1}"
    rec.update(
        {
            "name": f"{city} Office{suffix}",
            "location-code": f"LOC-{city[:3].upper()}-{index + 1:03d}",
            "street1": f"{rng.randrange(1, 999)} {rng.choice(words.STREETS)}",
            "city": city,
            "state": state,
            "state-iso-code": f"{country}-{state}",
            "postal-code": f"{postal}{rng.randrange(10, 99)}".replace(" ", ""),
            "active": rng.random() > 0.1,
            "country": _country_ids(ctx).get(country, 223),
        }
    )
    if rng.random() < 0.3:
        rec["street2"] = f"Suite {rng.randrange(100, 999)}"
    return rec


def make_account_types(rng: random.Random, rec_id: int, index: int, ctx: Context) -> Record:
    """Return a chart of accounts: one dynamic, one inactive in every four."""
    tpl = chart_template(index)
    rec = _base(rng, rec_id, ctx)
    cycle = index // len(CHART_TEMPLATES)
    currencies = [c[0] for c in words.CURRENCIES]
    rec.update(
        {
            "name": tpl.name if cycle == 0 else f"{tpl.name} {cycle + 1}",
            "active": tpl.active,
            "currency": ctx.nth("currencies", currencies.index(tpl.currency)),
            "dynamic-flag": tpl.dynamic,
            "legal-entity-name": tpl.legal_entity,
            "primary-contact": {
                "id": 1000 + rec_id,
                "email": f"controller{rec_id}@acme-demo.example",
                "name-given": "Chart",
                "name-family": "Controller",
            },
            "primary-address": ctx.pick(rng, "addresses"),
        }
    )
    return rec


def make_account(
    rng: random.Random, rec_id: int, chart_id: int, combo_index: int, ctx: Context
) -> Record:
    """Return an account of chart `chart_id`: segments, code = segments joined by "-"."""
    tpl = chart_template(ctx.index_of("account_types", chart_id))
    segs = _combo(tpl.segments, combo_index)
    rec = _base(rng, rec_id, ctx)
    gl = next((_GL_NAMES[s] for s in segs if s in _GL_NAMES), "General")
    rec.update({"code": "-".join(segs), "active": rng.random() > 0.12, "account-type": chart_id})
    # Some accounts have no nickname, as account_get_13.json ("") and 205 (null).
    roll = rng.random()
    if roll > 0.1:
        rec["name"] = f"{segs[1]} {gl}" if len(segs) > 1 else gl
    elif roll > 0.05:
        rec["name"] = ""
    for i, s in enumerate(segs, start=1):
        rec[f"segment-{i}"] = s
    return rec


def _supplier_name(index: int) -> str:
    a, b, c = words.SUPPLIER_FIRST, words.SUPPLIER_MIDDLE, words.SUPPLIER_LAST
    total = len(a) * len(b) * len(c)
    cycle, j = divmod(index, total)
    j = (j * 7901 + 3) % total
    j, k = divmod(j, len(c))
    i, m = divmod(j, len(b))
    name = f"{a[i]} {b[m]} {c[k]}"
    return name if cycle == 0 else f"{name} {cycle + 1}"


def make_suppliers(rng: random.Random, rec_id: int, index: int, ctx: Context) -> Record:
    """Return a supplier with an embedded primary contact and address."""
    name = _supplier_name(index)
    slug = "".join(ch for ch in name.lower() if ch.isalnum())[:24]
    rec = _base(rng, rec_id, ctx)
    roll = rng.random()
    status = "active" if roll < 0.8 else ("inactive" if roll < 0.95 else "draft")
    po_method = rng.choice(("email", "email", "cxml", "prompt", "mark_as_sent"))
    city, state, country, postal = rng.choice(words.CITIES)
    cid, ccode, cname = next(c for c in words.COUNTRIES if c[1] == country)
    first, last = rng.choice(words.FIRST_NAMES), rng.choice(words.LAST_NAMES)
    rec.update(
        {
            "name": name,
            "display-name": name,
            "number": f"SUP-{rec_id:06d}",
            "status": status,
            "website": f"https://www.{slug}.example",
            "po-method": po_method,
            "cxml-url": f"https://punchout.{slug}.example/cxml" if po_method == "cxml" else "",
            "cxml-domain": "NetworkId" if po_method == "cxml" else "",
            "cxml-identity": "AcmeBuyer" if po_method == "cxml" else "",
            "cxml-supplier-domain": "DUNS" if po_method == "cxml" else "",
            "cxml-supplier-identity": f"{rng.randrange(10**8, 10**9)}"
            if po_method == "cxml"
            else "",
            "cxml-protocol": "cXML" if po_method == "cxml" else "",
            "po-email": f"orders@{slug}.example",
            "duns": f"{rng.randrange(10**8, 10**9)}" if rng.random() < 0.5 else "",
            "tax-id": f"{rng.randrange(10, 99)}-{rng.randrange(10**6, 10**7)}"
            if rng.random() < 0.7
            else "",
            "invoice-matching-level": rng.choice(("2-way", "3-way", "none")),
            "primary-contact": {
                "email": f"{first.lower()}.{last.lower()}@{slug}.example",
                "id": rec_id,
                "name-additional": None,
                "name-family": last,
                "name-fullname": None,
                "name-given": first,
                "name-prefix": None,
                "name-suffix": None,
                "notes": None,
            },
            "primary-address": {
                "attention": None,
                "city": city,
                "id": rec_id,
                "name": name[:60],
                "postal-code": f"{postal}{rng.randrange(10, 99)}".replace(" ", ""),
                "state": state,
                "street1": f"{rng.randrange(1, 999)} {rng.choice(words.STREETS)}",
                "street2": "",
                "country": {"code": ccode, "id": cid, "name": cname},
            },
            "payment-term": ctx.pick(rng, "payment_terms"),
            "shipping-term": ctx.pick(rng, "shipping_terms"),
        }
    )
    if rng.random() < 0.03:
        rec["on-hold"] = True
    return rec


_UOM_INDEX = {u[0]: i for i, u in enumerate(words.UOMS)}


def make_items(rng: random.Random, rec_id: int, index: int, ctx: Context) -> Record:
    """Return a catalog item with a UoM and a commodity."""
    product, uom = rng.choice(words.ITEM_PRODUCTS)
    adjective = rng.choice(words.ITEM_ADJECTIVES)
    material = rng.choice(words.ITEM_MATERIALS)
    maker = rng.choice(words.MANUFACTURERS)
    mpn = f"{maker[:3].upper()}-{rng.randrange(10000, 99999)}"
    name = f"{adjective} {material} {product}"
    rec = _base(rng, rec_id, ctx)
    rec.update(
        {
            "name": name,
            "description": f"{name} by {maker}, part {mpn}",
            "item-number": f"IT{rec_id:07d}",
            "active": rng.random() > 0.08,
            "manufacturer-name": maker,
            "manufacturer-part-number": mpn,
            "commodity": ctx.pick(rng, "commodities"),
            "uom": ctx.nth("uoms", _UOM_INDEX.get(uom, 0)),
            "api-user": API_USER_ID,
        }
    )
    return rec


def make_users(rng: random.Random, rec_id: int, index: int, ctx: Context) -> Record:
    """Return a user; the first one (id 1) is the integration's API user."""
    rec = _base(rng, rec_id, ctx)
    api_user = index == 0
    if api_user:
        first, last, login = "Integration", "API User", "spendflo.integration"
    else:
        first, last = rng.choice(words.FIRST_NAMES), rng.choice(words.LAST_NAMES)
        login = f"{first[0].lower()}{last.lower()}{rec_id}"
    email = f"{login}@acme-demo.example"
    rec.update(
        {
            "login": login,
            "email": email,
            "purchasing-user": api_user or rng.random() < 0.7,
            "expense-user": rng.random() < 0.4,
            "employee-number": f"E{10000 + rec_id}",
            "firstname": first,
            "lastname": last,
            "fullname": f"{first} {last}",
            "api-user": api_user,
            "active": api_user or rng.random() > 0.1,
            "sso-identifier": email,
            "default-locale": "en",
            "mention-name": f"{first}{last}".lower().replace(" ", ""),
            "phone-work": {
                "id": rec_id,
                "country-code": "1",
                "area-code": str(rng.randrange(201, 989)),
                "number": str(rng.randrange(2000000, 9999999)),
                "extension": None,
            },
            "phone-mobile": None
            if rng.random() < 0.5
            else {
                "id": 100000 + rec_id,
                "country-code": "1",
                "area-code": str(rng.randrange(201, 989)),
                "number": str(rng.randrange(2000000, 9999999)),
                "extension": None,
            },
            "roles": [
                {
                    "id": 3,
                    "name": "User",
                    "description": "Standard role for all users who need to create and/or approve requisitions",
                    "omnipotent": False,
                    "system-role": True,
                }
            ],
            # Someone generated before this user (the API user and the first one have none).
            "manager": None if index <= 1 else ctx.nth("users", rng.randrange(index)),
            "default-address": ctx.pick(rng, "addresses"),
            "default-account": ctx.pick(rng, "accounts"),
            "default-account-type": ctx.pick(rng, "account_types"),
            "default-currency": ctx.nth("currencies", 0),
            "department": ctx.pick(rng, "departments"),
        }
    )
    return rec


MAKERS = {
    "countries": make_countries,
    "currencies": make_currencies,
    "uoms": make_uoms,
    "commodities": make_commodities,
    "departments": make_departments,
    "payment_terms": make_payment_terms,
    "shipping_terms": make_shipping_terms,
    "addresses": make_addresses,
    "account_types": make_account_types,
    "suppliers": make_suppliers,
    "items": make_items,
    "users": make_users,
}

FIXED_SIZES = {
    "countries": len(words.COUNTRIES),
    "currencies": len(words.CURRENCIES),
    "uoms": len(words.UOMS),
    "payment_terms": len(words.PAYMENT_TERMS),
    "shipping_terms": len(words.SHIPPING_TERMS),
}

# Users are generated last (they reference addresses, accounts, departments), but
# every resource references user 1 as created-by, which always exists.
GENERATION_ORDER: tuple[str, ...] = (
    "countries",
    "currencies",
    "uoms",
    "commodities",
    "departments",
    "payment_terms",
    "shipping_terms",
    "addresses",
    "account_types",
    "accounts",
    "suppliers",
    "items",
    "users",
)

#: Generated together after the rest, from the `requisitions` size.
PURCHASING: tuple[str, ...] = (
    "requisitions",
    "requisition_lines",
    "purchase_orders",
    "purchase_order_lines",
)

#: Requisition statuses generated, with weights (coupa-api.md 6.4; the cart, abandoned and
#: backgrounded states belong to the UI and are left out).
REQUISITION_STATUSES: tuple[tuple[str, float], ...] = (
    ("draft", 0.10),
    ("pending_approval", 0.15),
    ("pending_buyer_action", 0.05),
    ("approved", 0.12),
    ("ordered", 0.38),
    ("partially_received", 0.06),
    ("received", 0.09),
    ("withdrawn", 0.05),
)
#: Statuses of requisitions that have been ordered into purchase orders.
ORDERED_STATUSES = frozenset({"ordered", "partially_received", "received"})
_SERVICES = (
    "Consulting services",
    "Annual maintenance",
    "Office cleaning",
    "Event catering",
    "Legal services",
    "Translation services",
    "Software subscription",
    "Equipment rental",
)
_CENT = Decimal("0.01")
_TZ = instance_timezone()
DAY = 86400


def _money(value: Decimal) -> str:
    return str(value.quantize(_CENT))


def _later(rng: random.Random, start: int, anchor: int, most: int) -> int:
    """Return a time after `start` by up to `most` seconds, never after `anchor`."""
    return min(anchor, start + rng.randrange(60, most))


def _purchasing(
    n: int, seed: int, ctx: Context, out: Mapping[str, Sequence[Record]]
) -> dict[str, list[Record]]:
    """Return requisitions, their lines, and the purchase orders of the ordered ones.

    Ordering makes one purchase order per supplier of a requisition (coupa-api.md 7),
    with `requisition-header` on the PO, `requisition-line-id` on each PO line and
    `order-line-id` on each requisition line.
    """
    rng = stream(seed, "requisitions")
    users = [u for u in out.get("users", ()) if u.get("active") and u["id"] != API_USER_ID]
    suppliers = [r for r in out.get("suppliers", ()) if r.get("status") == "active"]
    items = [r for r in out.get("items", ()) if r.get("active")]
    accounts = [r["id"] for r in out.get("accounts", ()) if r.get("active")]
    addresses = [r["id"] for r in out.get("addresses", ()) if r.get("active")]
    departments = {r["id"]: r for r in out.get("departments", ())}
    result: dict[str, list[Record]] = {
        "requisitions": [],
        "requisition_lines": [],
        "purchase_orders": [],
        "purchase_order_lines": [],
    }
    if not (users and suppliers and addresses):
        return result
    statuses = [s for s, _ in REQUISITION_STATUSES]
    weights = [w for _, w in REQUISITION_STATUSES]
    currency_ids = {c[0]: ctx.nth("currencies", i) for i, c in enumerate(words.CURRENCIES)}
    anchor = ctx.anchor
    for req_id in range(1, n + 1):
        requester = rng.choice(users)
        status = rng.choices(statuses, weights)[0]
        created = anchor - rng.randrange(60, TWO_YEARS)
        submitted = None if status == "draft" else _later(rng, created, anchor, 2 * DAY)
        updated = _later(rng, submitted or created, anchor, 20 * DAY)
        currency = currency_ids["EUR"] if rng.random() < 0.2 else currency_ids["USD"]
        department = departments.get(requester.get("department") or 0)
        product = rng.choice(words.ITEM_PRODUCTS)[0]
        title = f"{product} for {department['name'] if department else 'the office'}"[:50]
        # A third are raised by the integration itself, as the product does for its requests.
        creator = API_USER_ID if rng.random() < 0.3 else requester["id"]
        line_suppliers = rng.sample(suppliers, 2 if rng.random() < 0.3 else 1)
        line_ids: list[int] = []
        total = Decimal(0)
        for num in range(1, rng.randint(1, 4) + 1):
            supplier = rng.choice(line_suppliers)
            line_id = len(result["requisition_lines"]) + 1
            line: Record = {
                "id": line_id,
                "created-at": created,
                "updated-at": updated,
                "line-num": num,
                "status": status,
                "currency": currency,
                "supplier": supplier["id"],
                "account": rng.choice(accounts) if accounts else None,
                "payment-term": supplier.get("payment-term"),
                "shipping-term": supplier.get("shipping-term"),
                "need-by-date": local_midnight(created + rng.randrange(7, 60) * DAY),
                "created-by": creator,
                "updated-by": creator,
            }
            if items and rng.random() < 0.7:
                item = rng.choice(items)
                quantity = rng.randint(1, 20)
                price = Decimal(rng.randrange(100, 50000)) / 100
                line.update(
                    {
                        "line-type": "RequisitionQuantityLine",
                        "description": item["name"],
                        "item": item["id"],
                        "uom": item.get("uom"),
                        "commodity": item.get("commodity"),
                        "quantity": float(quantity),
                        "unit-price": _money(price),
                        "source-part-num": item.get("manufacturer-part-number"),
                        "total": _money(price * quantity),
                    }
                )
                total += price * quantity
            else:
                # An amount line: no quantity or UoM, the price is the amount (6.3).
                price = Decimal(rng.randrange(10000, 2000000)) / 100
                line.update(
                    {
                        "line-type": "RequisitionAmountLine",
                        "description": rng.choice(_SERVICES),
                        "commodity": ctx.pick(rng, "commodities"),
                        "unit-price": _money(price),
                        "total": _money(price),
                    }
                )
                total += price
            result["requisition_lines"].append(line)
            line_ids.append(line_id)
        req: Record = {
            "id": req_id,
            "created-at": created,
            "updated-at": updated,
            "req-title": title,
            "justification": f"Needed by {requester['firstname']} {requester['lastname']}",
            "status": status,
            "submitted-at": submitted,
            "ship-to-attention": requester["fullname"],
            "total": _money(total),
            "currency": currency,
            "department": requester.get("department"),
            "requested-by": requester["id"],
            "requester": requester["id"],
            "ship-to-address": requester.get("default-address") or rng.choice(addresses),
            "requisition-lines": line_ids,
            "created-by": creator,
            "updated-by": creator,
        }
        result["requisitions"].append(req)
        if status in ORDERED_STATUSES:
            _order(rng, req, result, anchor)
    return result


def local_midnight(epoch: int) -> int:
    """Return the instance's local midnight of the day holding `epoch`.

    Need-by dates are days, sent as local midnight (`"2010-12-24T00:00:00-08:00"` in
    purchase_order_get_2400.json).
    """
    day = datetime.fromtimestamp(epoch, _TZ).replace(hour=0, minute=0, second=0)
    return int(day.timestamp())


def _order(rng: random.Random, req: Record, result: dict[str, list[Record]], anchor: int) -> None:
    """Order `req`: one purchase order per supplier of its lines, PO lines linked both ways."""
    lines = {r["id"]: r for r in result["requisition_lines"][-len(req["requisition-lines"]) :]}
    ordered_at = min(anchor, req["submitted-at"] + rng.randrange(600, 3 * DAY))
    # Ordering changes the requisition and its lines, so their updated-at moves with it.
    req["updated-at"] = max(req["updated-at"], ordered_at)
    for line in lines.values():
        line["updated-at"] = req["updated-at"]
    orders, order_lines = build_orders(
        req,
        [lines[line_id] for line_id in req["requisition-lines"]],
        ordered_at=ordered_at,
        first_po_id=len(result["purchase_orders"]) + 1,
        first_line_id=len(result["purchase_order_lines"]) + 1,
    )
    result["purchase_orders"] += orders
    result["purchase_order_lines"] += order_lines


def order_line_quantity(line: Record) -> float:
    """Return what receiving a PO line in full means: its quantity, or its amount."""
    if line["type"] == "OrderAmountLine":
        return float(line["total"])
    return float(line["quantity"])


def build_orders(
    req: Record,
    lines: Sequence[Record],
    *,
    ordered_at: int,
    first_po_id: int,
    first_line_id: int,
) -> tuple[list[Record], list[Record]]:
    """Return the purchase orders and PO lines ordering `req` makes, linked both ways.

    One purchase order per supplier of `lines` (in the order suppliers first appear), with
    `requisition-header` on the PO, `requisition-line-id` on each PO line and
    `order-line-id` set on each requisition line. PO ids and PO line ids run on from
    `first_po_id` and `first_line_id`. The requisition's status says how much is received:
    `ordered` nothing, `received` everything (the PO is then closed), otherwise half.
    Shared by the generator and the lifecycle (coupa/sandbox/lifecycle.py).
    """
    by_supplier: dict[int, list[Record]] = {}
    for line in lines:
        by_supplier.setdefault(line["supplier"], []).append(line)
    received = req["status"]
    orders: list[Record] = []
    order_lines: list[Record] = []
    for supplier_id, req_lines in by_supplier.items():
        po_id = first_po_id + len(orders)
        po_lines: list[int] = []
        for num, line in enumerate(req_lines, start=1):
            pol_id = first_line_id + len(order_lines)
            amount = line["line-type"] == "RequisitionAmountLine"
            full = float(line["total"]) if amount else float(line["quantity"])
            got = full if received == "received" else (full / 2 if received != "ordered" else 0.0)
            order_lines.append(
                {
                    "id": pol_id,
                    "created-at": ordered_at,
                    "updated-at": req["updated-at"],
                    "accounting-total": line["total"],
                    "description": line["description"],
                    "line-num": num,
                    "need-by-date": line["need-by-date"],
                    "order-header-id": po_id,
                    "order-header-number": str(po_id),
                    "price": line["unit-price"],
                    "quantity": None if amount else line["quantity"],
                    "received": got,
                    "requisition-line-id": str(line["id"]),
                    "source-part-num": line.get("source-part-num") or "",
                    "status": {"received": "received", "ordered": "created"}.get(
                        received, "partially_received"
                    ),
                    "total": line["total"],
                    "type": "OrderAmountLine" if amount else "OrderQuantityLine",
                    "account": line["account"],
                    "accounting-total-currency": line["currency"],
                    "currency": line["currency"],
                    "commodity": line.get("commodity"),
                    "item": line.get("item"),
                    "uom": line.get("uom"),
                    "supplier": supplier_id,
                    "created-by": API_USER_ID,
                    "updated-by": API_USER_ID,
                }
            )
            line["order-line-id"] = pol_id
            po_lines.append(pol_id)
        first = req_lines[0]
        orders.append(
            {
                "id": po_id,
                "created-at": ordered_at,
                "updated-at": req["updated-at"],
                "po-number": str(po_id),  # the PO number is the id unless overridden (7)
                "status": "closed" if received == "received" else "issued",
                "transmission-status": "sent_via_email",
                "version": 1,
                "internal-revision": 1,
                "ship-to-attention": req["ship-to-attention"],
                "currency": req["currency"],
                "requisition-header": req["id"],
                "ship-to-address": req["ship-to-address"],
                "ship-to-user": req["requested-by"],
                "supplier": supplier_id,
                "payment-term": first.get("payment-term"),
                "shipping-term": first.get("shipping-term"),
                "order-lines": po_lines,
                "created-by": API_USER_ID,
                "updated-by": API_USER_ID,
            }
        )
    return orders, order_lines


#: Statuses of seeded API requisitions that are not ordered: open, waiting for approval
#: or for ordering, as requisitions the daily sync follows are.
API_OPEN_STATUSES = ("pending_approval", "approved")


def api_requisitions(
    n: int,
    *,
    ordered_share: float,
    rng: random.Random,
    ctx: Context,
    out: Mapping[str, Sequence[Record]],
    first_ids: Mapping[str, int] | None = None,
) -> dict[str, list[Record]]:
    """Return `n` open requisitions the API user created, `ordered_share` of them ordered.

    For benchmarks and tests of the daily sync: what N submissions through
    `POST /api/requisitions/submit_for_approval` would leave, without N calls. Every
    record is created and updated by the API user (`created-by` 1); the unordered ones are
    `pending_approval` or `approved`; the ordered ones (spread evenly, exactly
    floor(n * ordered_share)) get their purchase orders from `_order`. Ids start at
    `first_ids[resource]` (default 1) for each of the four purchasing resources.
    """
    users = [u for u in out.get("users", ()) if u.get("active") and u["id"] != API_USER_ID]
    suppliers = [r for r in out.get("suppliers", ()) if r.get("status") == "active"]
    items = [r for r in out.get("items", ()) if r.get("active") and r.get("uom")]
    accounts = [r["id"] for r in out.get("accounts", ()) if r.get("active")]
    addresses = [r["id"] for r in out.get("addresses", ()) if r.get("active")]
    departments = {r["id"]: r for r in out.get("departments", ())}
    # Built from 1 so that `_order` numbers the POs; shifted to `first_ids` at the end.
    result: dict[str, list[Record]] = {name: [] for name in PURCHASING}
    if n <= 0 or not (users and suppliers and addresses):
        return result
    share = min(1.0, max(0.0, ordered_share))
    usd = next(ctx.nth("currencies", i) for i, c in enumerate(words.CURRENCIES) if c[0] == "USD")
    anchor = ctx.anchor
    for index in range(n):
        requester = rng.choice(users)
        ordered = math.floor((index + 1) * share) > math.floor(index * share)
        status = "ordered" if ordered else rng.choice(API_OPEN_STATUSES)
        # Submitted on creation, as submit_for_approval does; within the last 90 days.
        created = anchor - rng.randrange(3 * 3600, 90 * DAY)
        updated = created if status == "pending_approval" else _later(rng, created, anchor, 5 * DAY)
        department = departments.get(requester.get("department") or 0)
        supplier = rng.choice(suppliers)
        line_ids: list[int] = []
        total = Decimal(0)
        for num in range(1, rng.randint(1, 4) + 1):
            line_id = len(result["requisition_lines"]) + 1
            line: Record = {
                "id": line_id,
                "created-at": created,
                "updated-at": updated,
                "line-num": num,
                "status": status,
                "currency": usd,
                "supplier": supplier["id"],
                "account": rng.choice(accounts) if accounts else None,
                "payment-term": supplier.get("payment-term"),
                "shipping-term": supplier.get("shipping-term"),
                "need-by-date": local_midnight(created + rng.randrange(7, 60) * DAY),
                "created-by": API_USER_ID,
                "updated-by": API_USER_ID,
            }
            price = Decimal(rng.randrange(100, 50000)) / 100
            if items and rng.random() < 0.6:
                item = rng.choice(items)
                quantity = rng.randint(1, 20)
                line.update(
                    {
                        "line-type": "RequisitionQuantityLine",
                        "description": item["name"],
                        "item": item["id"],
                        "uom": item["uom"],
                        "commodity": item.get("commodity"),
                        "quantity": float(quantity),
                        "unit-price": _money(price),
                        "source-part-num": item.get("manufacturer-part-number"),
                        "total": _money(price * quantity),
                    }
                )
                total += price * quantity
            else:
                line.update(
                    {
                        "line-type": "RequisitionAmountLine",
                        "description": rng.choice(_SERVICES),
                        "commodity": ctx.pick(rng, "commodities"),
                        "unit-price": _money(price * 10),
                        "total": _money(price * 10),
                    }
                )
                total += price * 10
            result["requisition_lines"].append(line)
            line_ids.append(line_id)
        product = rng.choice(words.ITEM_PRODUCTS)[0]
        title = f"{product} for {department['name'] if department else 'the office'}"[:50]
        req: Record = {
            "id": index + 1,
            "created-at": created,
            "updated-at": updated,
            "req-title": title,
            "justification": f"Requested by {requester['firstname']} {requester['lastname']}",
            "status": status,
            "submitted-at": created,
            "ship-to-attention": requester["fullname"],
            "total": _money(total),
            "currency": usd,
            "department": requester.get("department"),
            "requested-by": requester["id"],
            "requester": requester["id"],
            "ship-to-address": requester.get("default-address") or rng.choice(addresses),
            "requisition-lines": line_ids,
            "created-by": API_USER_ID,
            "updated-by": API_USER_ID,
        }
        result["requisitions"].append(req)
        if ordered:
            _order(rng, req, result, anchor)
    if first_ids:
        _shift_purchasing(result, {k: first_ids.get(k, 1) - 1 for k in PURCHASING})
    return result


def _shift_purchasing(result: Mapping[str, list[Record]], by: Mapping[str, int]) -> None:
    """Add `by[resource]` to the ids of purchasing records and to every link between them."""
    req, line, po, pol = (by[k] for k in PURCHASING)
    for rec in result["requisitions"]:
        rec["id"] += req
        rec["requisition-lines"] = [i + line for i in rec["requisition-lines"]]
    for rec in result["requisition_lines"]:
        rec["id"] += line
        if rec.get("order-line-id") is not None:
            rec["order-line-id"] += pol
    for rec in result["purchase_orders"]:
        rec["id"] += po
        rec["po-number"] = str(rec["id"])
        rec["requisition-header"] += req
        rec["order-lines"] = [i + pol for i in rec["order-lines"]]
    for rec in result["purchase_order_lines"]:
        rec["id"] += pol
        rec["order-header-id"] += po
        rec["order-header-number"] = str(rec["order-header-id"])
        rec["requisition-line-id"] = str(int(rec["requisition-line-id"]) + line)


def stream(seed: int, resource: str, salt: str = "") -> random.Random:
    """Return the random stream of one resource (independent of the others)."""
    return random.Random(f"{seed}:{resource}:{salt}")


def _accounts(n: int, ctx: Context, seed: int) -> Iterator[Record]:
    rng = stream(seed, "accounts")
    charts = ctx.ids.get("account_types", [])
    if not charts:
        return
    weights = [chart_template(i).weight for i in range(len(charts))]
    total = sum(weights)
    counts = [int(n * w / total) for w in weights]
    counts[0] += n - sum(counts)
    if n >= len(charts):
        # Every chart has accounts (with many charts the light ones would round to none),
        # taken from the biggest: a chart's accounts stay a small share of many charts'.
        for i, count in enumerate(counts):
            if count == 0:
                counts[counts.index(max(counts))] -= 1
                counts[i] = 1
    rec_id = 0
    for chart_id, count in zip(charts, counts, strict=True):
        for k in range(count):
            rec_id += 1
            yield make_account(rng, rec_id, chart_id, k, ctx)
        ctx.chart_accounts[chart_id] = count


def generate(
    *,
    seed: int,
    anchor: int,
    registry: Registry,
    sizes: Mapping[str, int] | None = None,
    api_ordered_share: float = 0.3,
    id_layout: str = "dense",
    inactive_shares: Mapping[str, float] | None = None,
) -> tuple[dict[str, list[Record]], Context]:
    """Generate every resource; return the records by resource and the generation context.

    `sizes["api_requisitions"]` adds that many open requisitions of the API user after the
    generated ones (`api_requisitions`), `api_ordered_share` of them ordered.
    `inactive_shares` ({resource: share}) then sets that share of a resource's records
    inactive, and `id_layout` gives the reference resources dense, sparse or clustered
    ids (coupa/sandbox/layouts.py); neither changes anything else. Raises ValueError for
    an unknown layout or a bad share.
    """
    layouts.check_id_layout(id_layout)
    layouts.check_inactive_shares(inactive_shares or {}, registry)
    want = dict(DEFAULT_SIZES)
    want.update(FIXED_SIZES)
    want.update(sizes or {})
    ctx = Context(anchor=anchor, registry=registry)
    out: dict[str, list[Record]] = {}
    for resource in GENERATION_ORDER:
        n = max(0, want.get(resource, 0))
        if resource == "users":
            n = max(n, 2)  # the API user and a manager always exist
        if resource == "accounts":
            records = list(_accounts(n, ctx, seed))
        else:
            rng = stream(seed, resource)
            maker = MAKERS[resource]
            records = [maker(rng, i + 1, i, ctx) for i in range(n)]
        if registry.custom_fields.get(resource):
            crng = stream(seed, resource, "custom")
            for rec in records:
                add_custom_values(crng, rec, registry, resource)
        out[resource] = records
        ctx.ids[resource] = [r["id"] for r in records]
    purchasing = _purchasing(max(0, want.get("requisitions", 0)), seed, ctx, out)
    seeded = api_requisitions(
        want.get("api_requisitions", 0),
        ordered_share=api_ordered_share,
        rng=stream(seed, "api_requisitions"),
        ctx=ctx,
        out=out,
        first_ids={k: (purchasing[k][-1]["id"] if purchasing[k] else 0) + 1 for k in PURCHASING},
    )
    for resource, records in seeded.items():
        purchasing[resource].extend(records)
    for resource, records in purchasing.items():
        out[resource] = records
        ctx.ids[resource] = [r["id"] for r in records]
    if inactive_shares:
        layouts.apply_inactive_shares(out, shares=inactive_shares, seed=seed, registry=registry)
    layouts.apply_layout(out, layout=id_layout, seed=seed, registry=registry, ctx=ctx)
    return out, ctx
