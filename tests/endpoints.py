"""The product's endpoints, read from the URL resolver: for tests that visit all of them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

# URL parameters that name no object of a tenant.
NOT_OBJECTS = {"kind", "target", "uidb64", "token", "format"}
PARAM = re.compile(r"<(?:\w+:)?(\w+)>|\{(\w+)\}")


def fill_route(route: str, ids: Mapping[tuple[str, str], Any]) -> tuple[str, bool]:
    """A concrete path for a route (`<int:pk>` or `{id}` style), and whether it names an
    object. `ids` gives each parameter's value by the path segment before it, e.g.
    `("sync-runs", "pk")`, or by `("*", name)` wherever it appears."""
    out: list[str] = []
    previous = ""
    names_object = False
    for part in route.strip("/").split("/"):
        match = PARAM.fullmatch(part)
        if match is None:
            out.append(part)
            previous = part
            continue
        name = match.group(1) or match.group(2)
        name = "pk" if name == "id" else name
        key = (previous, name) if (previous, name) in ids else ("*", name)
        assert key in ids, f"{route}: no id for {name!r} after {previous!r}"
        out.append(str(ids[key]))
        names_object = names_object or name not in NOT_OBJECTS
    trailing = "/" if route.endswith("/") else ""
    return "/" + "/".join(out) + trailing if out else "/", names_object


@dataclass
class Route:
    route: str
    callback: Callable[..., Any]
    name: str


def url_routes() -> Iterator[Route]:
    """Every route but the admin site's and format-suffix duplicates."""

    def walk(resolver: URLResolver, prefix: str) -> Iterator[Route]:
        for entry in resolver.url_patterns:
            pattern = prefix + str(entry.pattern).lstrip("^").rstrip("$")
            if isinstance(entry, URLResolver):
                if pattern.startswith("admin/"):
                    continue  # Django's admin: staff only, its own login; not the product's
                yield from walk(entry, pattern)
            elif isinstance(entry, URLPattern):
                if "format" in entry.pattern.regex.groupindex:
                    continue  # the same view in another format (?P<format>...)
                yield Route(pattern, entry.callback, entry.name or "")

    yield from walk(get_resolver(), "")


def view_class(callback: Any) -> Any:
    return getattr(callback, "view_class", None) or getattr(callback, "cls", None)
