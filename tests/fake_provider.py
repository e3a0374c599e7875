"""A stand-in `IntegrationProvider` for core tests: records what it is asked, answers what
a test sets. Name it in `settings.INTEGRATION_PROVIDERS` (the `fake_provider` fixture)."""

from __future__ import annotations

from typing import Any

from integrations.providers import Blocker, ProviderCard


class FakeProvider:
    key = "fake"
    name = "Fake"

    #: Shared by every instance; tests reset them through the fixture.
    calls: list[tuple[str, int]] = []
    problems: list[Blocker] = []
    documents: dict[int, dict[str, Any]] = {}

    @classmethod
    def reset(cls) -> None:
        cls.calls.clear()
        cls.problems.clear()
        cls.documents.clear()

    def procurement_card(self, *, organization: Any, user: Any) -> ProviderCard:
        return ProviderCard(template="integrations/procurement.html")

    def workflow_blockers(self, *, version: Any) -> list[Blocker]:
        return []

    def workflow_links(self, *, version: Any) -> list[tuple[str, str]]:
        return []

    def request_problems(self, *, version: Any, answers: Any, requester: Any) -> list[Blocker]:
        self.calls.append(("problems", version.pk))
        return list(self.problems)

    def request_send(self, *, request: Any) -> None:
        # As a real provider does: one timeline entry for what it queued.
        from spendflo.workflows.models import RequestEvent
        from spendflo.workflows.services import request_event_record

        self.calls.append(("send", request.pk))
        request_event_record(request=request, kind=RequestEvent.Kind.QUEUED, message="Queued.")

    def request_retry(self, *, request: Any, user: Any) -> None:
        self.calls.append(("retry", request.pk))

    def request_document(self, *, request: Any) -> dict[str, Any] | None:
        return self.documents.get(request.pk)
