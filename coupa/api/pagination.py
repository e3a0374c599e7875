"""Paging of the record lists and pickers: matches counted up to a cap, as the tabs do."""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from coupa.reference.selectors import CappedPaginator, PickerPaginator


class CappedPagination(PageNumberPagination):
    """Pages of a list whose `count` stops at its paginator's cap (`count_capped` then says there
    are more, and pages end there): a search over a large catalog is answered from the
    rows of its page, not from a count of every match. Narrow the search to see more."""

    django_paginator_class: type[CappedPaginator] = CappedPaginator

    def get_paginated_response(self, data: Any) -> Response:
        response = super().get_paginated_response(data)
        assert self.page is not None  # set by paginate_queryset before this is called
        paginator = self.page.paginator
        assert isinstance(paginator, CappedPaginator)
        response.data["count_capped"] = paginator.capped
        return response

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        cap = self.django_paginator_class.cap
        paged = super().get_paginated_response_schema(schema)
        paged["properties"]["count"]["description"] = f"Matches, counted up to {cap:,}."
        paged["properties"]["count_capped"] = {
            "type": "boolean",
            "description": f"More than {cap:,} match: only the first {cap:,} are paged; "
            "narrow the search for the rest.",
        }
        paged["required"] = [*paged["required"], "count_capped"]
        return paged


class PickerPagination(CappedPagination):
    """The request form's pickers: 20 a page, counted up to `PICKER_COUNT_CAP`."""

    django_paginator_class = PickerPaginator
    page_size = 20
