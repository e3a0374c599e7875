"""A bounded load generator on loopback: N clients, each repeating a cycle of actions.

Admins open the Items tab with a search and toggle Show to Users (session cookie, CSRF
header as htmx sends it); requesters search the item picker and submit a request (API
token). Like a person (or a locust user's `wait_time`), a client pauses between actions
for a random `think` time; without pauses N clients measure the server's saturation
(latency = N / throughput), not how it responds to N people. Every action's latency in
ms and whether it failed (a status >= 400 or a transport error) are recorded. No Django
here: it speaks HTTP only.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx

WORDS = ["laptop", "paper", "desk", "cable", "chair", "toner", "monitor", "a", "ser", "pro"]
RECORDS_PATH = "/settings/integrations/coupa/records/items/"
PICKER_PATH = "/api/v1/pickers/items"
REQUESTS_PATH = "/api/v1/requests"


def action_of(method: str, path: str) -> str | None:
    """Which load action a request is (list, toggle, picker, submit), or None."""
    if method == "GET" and path == RECORDS_PATH:
        return "list"
    if method == "POST" and path.startswith(RECORDS_PATH) and path.endswith("/toggle/"):
        return "toggle"
    if method == "GET" and path == PICKER_PATH:
        return "picker"
    if method == "POST" and path == REQUESTS_PATH:
        return "submit"
    return None


@dataclass
class Sample:
    kind: str
    ms: float
    ok: bool


@dataclass
class Load:
    base_url: str
    session_cookie: tuple[str, str]  # (name, value) of an admin's session
    token: str  # a requester's API token
    item_pks: list[int]
    request_body: dict[str, Any]
    think: tuple[float, float] = (0.0, 0.0)  # seconds between a client's actions
    samples: list[Sample] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _pause(self, rnd: random.Random) -> None:
        # A full pause even once the window closed: a client finishing its minimum
        # cycles must not turn into a burst.
        if self.think[1] > 0:
            time.sleep(rnd.uniform(*self.think))

    def _timed(self, kind: str, call: Callable[[], httpx.Response]) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            resp = call()
            ok = resp.status_code < 400
        except httpx.HTTPError:
            resp, ok = None, False
        with self._lock:
            self.samples.append(Sample(kind, (time.perf_counter() - started) * 1000, ok))
        return resp

    def admin(self, stop: threading.Event, cycles: int, seed: int) -> None:
        rnd = random.Random(seed)
        with httpx.Client(base_url=self.base_url, timeout=30.0) as http:
            http.cookies.set(*self.session_cookie)
            done = 0
            while done < cycles or not stop.is_set():
                word = rnd.choice(WORDS)
                self._timed("list", partial(http.get, RECORDS_PATH, params={"search": word}))
                self._pause(rnd)
                csrf = http.cookies.get("csrftoken") or ""
                pk = rnd.choice(self.item_pks)
                self._timed(
                    "toggle",
                    partial(
                        http.post,
                        f"{RECORDS_PATH}{pk}/toggle/",
                        data={"show_to_users": rnd.choice(["0", "1"])},
                        headers={
                            "X-CSRFToken": csrf,
                            "HX-Request": "true",
                            "Referer": self.base_url + RECORDS_PATH,
                        },
                    ),
                )
                self._pause(rnd)
                done += 1
                if done >= cycles * 50:
                    return

    def requester(self, stop: threading.Event, cycles: int, seed: int) -> None:
        rnd = random.Random(seed)
        headers = {"Authorization": f"Token {self.token}"}
        with httpx.Client(base_url=self.base_url, timeout=30.0, headers=headers) as http:
            done = 0
            while done < cycles or not stop.is_set():
                word = rnd.choice(WORDS)
                self._timed("picker", partial(http.get, PICKER_PATH, params={"search": word}))
                self._pause(rnd)
                body = {**self.request_body, "title": f"Load {seed}-{done}"}
                self._timed("submit", partial(http.post, REQUESTS_PATH, json=body))
                self._pause(rnd)
                done += 1
                if done >= cycles * 50:
                    return

    def run(self, clients: int, cycles: int, until: Callable[[], bool], deadline: float) -> None:
        """Run `clients` (half admins, half requesters) until `until()` and at least
        `cycles` cycles each, or `deadline` seconds."""
        stop = threading.Event()
        threads = [
            threading.Thread(
                target=self.admin if i % 2 == 0 else self.requester,
                args=(stop, cycles, i),
                daemon=True,
            )
            for i in range(clients)
        ]
        for t in threads:
            t.start()
        ends = time.monotonic() + deadline
        while not until() and time.monotonic() < ends:
            time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join()
