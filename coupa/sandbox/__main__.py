"""Command line: `python -m coupa.sandbox --port 8111 [options]` (see docs/sandbox.md)."""

from __future__ import annotations

import argparse
import json
import logging
import socket
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import uvicorn

from coupa.sandbox.app import SandboxApp
from coupa.sandbox.auth import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_TOKEN_TTL,
    SCOPE_MODES,
    OAuthClient,
    load_clients,
)
from coupa.sandbox.autopilot import parse_steps
from coupa.sandbox.create import DEFAULT_ROUTING, ROUTING_RULES
from coupa.sandbox.customfields import parse_custom_field_option
from coupa.sandbox.faults import FaultSettings, parse_methods
from coupa.sandbox.generator import DEFAULT_SIZES
from coupa.sandbox.layouts import ID_LAYOUTS, check_inactive_shares, parse_inactive_shares
from coupa.sandbox.resources import Registry, parse_custom_fields
from coupa.sandbox.scopes import DEFAULT_CLIENT_SCOPES
from coupa.sandbox.state import SandboxConfig, SandboxState, anchor_from_date

LISTENING = "Coupa sandbox listening on http://{host}:{port}"


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _inactive_shares(text: str) -> dict[str, float]:
    try:
        shares = parse_inactive_shares(text)
        check_inactive_shares(shares, Registry.build())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return shares


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser (every option is documented in docs/sandbox.md)."""
    p = argparse.ArgumentParser(
        prog="python -m coupa.sandbox", description="A local stand-in for a Coupa instance."
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8111, help="port; 0 picks a free one (default 8111)")
    g = p.add_argument_group("OAuth2")
    g.add_argument(
        "--client-id",
        default=DEFAULT_CLIENT_ID,
        help=f"default client's id (default {DEFAULT_CLIENT_ID})",
    )
    g.add_argument(
        "--client-secret",
        default=DEFAULT_CLIENT_SECRET,
        help="default client's secret (a fixed dev value by default)",
    )
    g.add_argument(
        "--scopes",
        default=" ".join(DEFAULT_CLIENT_SCOPES),
        help="default client's scopes, space or comma separated",
    )
    g.add_argument(
        "--config",
        type=Path,
        help='JSON file: {"clients": [{"client_id", "client_secret", "scopes"}]}; replaces the default client',
    )
    g.add_argument(
        "--token-ttl",
        type=int,
        default=DEFAULT_TOKEN_TTL,
        help=f"token lifetime in seconds (default {DEFAULT_TOKEN_TTL})",
    )
    g.add_argument(
        "--scope-mode",
        choices=SCOPE_MODES,
        default="list",
        help="how missing scopes show (default list)",
    )
    g = p.add_argument_group("data")
    g.add_argument("--seed", type=int, default=42, help="random seed of the generator (default 42)")
    g.add_argument(
        "--anchor-date",
        type=date.fromisoformat,
        help="generated timestamps lie in the two years before this date (default today, UTC)",
    )
    for name, default in DEFAULT_SIZES.items():
        g.add_argument(
            f"--{name.replace('_', '-')}",
            type=int,
            default=None,
            help=f"number of {name} (default {default})",
        )
    g.add_argument(
        "--api-requisitions",
        type=int,
        default=0,
        help="open requisitions created by the API user, added after --requisitions (default 0)",
    )
    g.add_argument(
        "--api-ordered-share",
        type=_share,
        default=0.3,
        help="share of --api-requisitions ordered into purchase orders, 0..1 (default 0.3)",
    )
    g.add_argument(
        "--id-layout",
        choices=ID_LAYOUTS,
        default="dense",
        help="ids of the reference data (charts, accounts, suppliers, items, users, addresses, "
        "commodities, uoms, currencies, departments): dense 1..n, sparse (gaps of 1 to "
        "199,999) or clustered (a few runs of consecutive ids far apart, and lone ids between); "
        "the data is otherwise the same (default dense)",
    )
    g.add_argument(
        "--inactive-share",
        type=_inactive_shares,
        default={},
        metavar="RESOURCE=SHARE,...",
        help="share of a resource's records that are inactive, 0..1, e.g. items=0.95,accounts=0.5 "
        "(other resources as generated)",
    )
    g.add_argument(
        "--custom-fields",
        default="",
        help="custom fields per resource, e.g. accounts:cost-center,suppliers:region",
    )
    g.add_argument(
        "--requisition-fields",
        default="",
        help="typed custom fields of requisitions, e.g. "
        "header:po-ref:string:required,line:project:lookup=Apollo|Zephyr",
    )
    g.add_argument(
        "--user-emails",
        default="",
        help="comma-separated emails given (as email and login) to the 2nd, 3rd, … user "
        "(demo users)",
    )
    g.add_argument(
        "--buyer-action",
        choices=sorted(ROUTING_RULES),
        default=DEFAULT_ROUTING,
        help="which submitted requisitions wait for a buyer (pending_buyer_action) "
        f"instead of going to approval (default {DEFAULT_ROUTING})",
    )
    g.add_argument(
        "--warm-cache",
        action="store_true",
        help="render every record's JSON before listening (faster first walk, more memory)",
    )
    g.add_argument(
        "--no-prefetch",
        dest="prefetch",
        action="store_false",
        help="do not render the next page of an id-ordered walk while the client reads this one",
    )
    g.add_argument(
        "--state-file",
        type=Path,
        help="load data and clients from this file if it exists; save to it on changes and at exit",
    )
    g = p.add_argument_group("limits and latency")
    g.add_argument(
        "--rate",
        type=float,
        default=25.0,
        help="requests per second for the whole instance; 0 = no limit (default 25)",
    )
    g.add_argument("--burst", type=int, default=20, help="token-bucket burst (default 20)")
    g.add_argument(
        "--manual-clock",
        action="store_true",
        help="the rate limit's clock stands still until POST /_sandbox/clock advances it (tests)",
    )
    g.add_argument(
        "--latency-ms", type=float, default=0.0, help="added latency per /api/ and /oauth2/ call"
    )
    g.add_argument(
        "--latency-jitter-ms", type=float, default=0.0, help="uniform jitter around --latency-ms"
    )
    g = p.add_argument_group("faults (probability per /api/ call, 0..1)")
    g.add_argument("--fault-503", type=float, default=0.0, help="answer 503")
    g.add_argument("--fault-429-storm", type=float, default=0.0, help="start a 429 storm")
    g.add_argument(
        "--storm-length", type=int, default=10, help="requests per 429 storm (default 10)"
    )
    g.add_argument(
        "--storm-retry-after",
        type=int,
        default=1,
        help="Retry-After of storm 429s, whole seconds; 0 = retry at once (default 1)",
    )
    g.add_argument("--fault-slow", type=float, default=0.0, help="answer after --slow-seconds")
    g.add_argument(
        "--slow-seconds", type=float, default=5.0, help="delay of slow responses (default 5)"
    )
    g.add_argument(
        "--fault-reset", type=float, default=0.0, help="reset the connection without a response"
    )
    g.add_argument(
        "--fault-incomplete",
        type=float,
        default=0.0,
        help="send half the body, then close (short read)",
    )
    g.add_argument(
        "--fault-truncate",
        type=float,
        default=0.0,
        help="send a body cut in half (valid HTTP, broken JSON)",
    )
    g.add_argument(
        "--fault-malformed", type=float, default=0.0, help="send a body that is not JSON"
    )
    g.add_argument("--fault-500", type=float, default=0.0, help="answer 500 before handling")
    g.add_argument(
        "--fault-lost-response",
        type=float,
        default=0.0,
        help="writes only: handle (commit) the request, then reset without a reply",
    )
    g.add_argument(
        "--fault-slow-create",
        type=float,
        default=0.0,
        help="writes only: handle (commit) the request, then reply after --slow-seconds",
    )
    g.add_argument(
        "--fault-paths",
        default="/api/",
        help="comma-separated path prefixes faults apply to (default /api/)",
    )
    g.add_argument(
        "--fault-methods",
        default="*",
        help="comma-separated HTTP methods faults apply to, e.g. POST,PUT (default *: all)",
    )
    g = p.add_argument_group("auto-pilot")
    g.add_argument(
        "--autopilot",
        default="",
        help="move new requisitions along, e.g. approve=30,order=60,receive=300 "
        "(seconds after submission, approval, ordering; a step left out does not happen)",
    )
    p.add_argument("--log-level", default="warning", help="uvicorn log level (default warning)")
    return p


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    """Build a SandboxConfig from parsed arguments."""
    if args.config is not None:
        clients = load_clients(json.loads(args.config.read_text(encoding="utf-8")))
    else:
        scopes = set(args.scopes.replace(",", " ").split())
        clients = [OAuthClient(args.client_id, args.client_secret, scopes)]
    sizes = {name: getattr(args, name) for name in DEFAULT_SIZES if getattr(args, name) is not None}
    if args.api_requisitions:
        sizes["api_requisitions"] = args.api_requisitions
    faults = FaultSettings(
        rates={
            "error_503": args.fault_503,
            "storm_429": args.fault_429_storm,
            "slow": args.fault_slow,
            "reset": args.fault_reset,
            "incomplete": args.fault_incomplete,
            "truncate": args.fault_truncate,
            "malformed": args.fault_malformed,
            "error_500": args.fault_500,
            "lost_response": args.fault_lost_response,
            "slow_create": args.fault_slow_create,
        },
        storm_length=args.storm_length,
        storm_retry_after=args.storm_retry_after,
        slow_seconds=args.slow_seconds,
        apply_to=tuple(p.strip() for p in args.fault_paths.split(",") if p.strip()),
        apply_methods=parse_methods(args.fault_methods),
    )
    cfg = SandboxConfig(
        host=args.host,
        port=args.port,
        seed=args.seed,
        sizes=sizes,
        custom_fields=parse_custom_fields(args.custom_fields),
        requisition_fields=parse_custom_field_option(args.requisition_fields),
        routing=args.buyer_action,
        clients=clients,
        token_ttl=args.token_ttl,
        scope_mode=args.scope_mode,
        rate=args.rate,
        burst=args.burst,
        manual_clock=args.manual_clock,
        latency_ms=args.latency_ms,
        latency_jitter_ms=args.latency_jitter_ms,
        faults=faults,
        state_file=args.state_file,
        warm_cache=args.warm_cache,
        prefetch=args.prefetch,
        api_ordered_share=args.api_ordered_share,
        id_layout=args.id_layout,
        inactive_shares=args.inactive_share,
        user_emails=tuple(e.strip() for e in args.user_emails.split(",") if e.strip()),
    )
    if args.anchor_date is not None:
        cfg.anchor = anchor_from_date(args.anchor_date)
    cfg.autopilot = parse_steps(args.autopilot)
    return cfg


class _Server(uvicorn.Server):
    """uvicorn server that announces its address once it accepts connections."""

    def __init__(self, config: uvicorn.Config, line: str) -> None:
        super().__init__(config)
        self._line = line

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit:
            # Other code (tests, `make run`) parses this exact line.
            print(self._line, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox until interrupted."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        cfg = config_from_args(args)
        state = SandboxState(cfg)
    except (ValueError, OSError, KeyError) as exc:
        print(f"coupa sandbox: {exc}", file=sys.stderr)
        return 2
    family = socket.AF_INET6 if ":" in cfg.host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only
    # when the listening socket says TCP; without it, small responses (headers and
    # body written separately) wait 40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((cfg.host, cfg.port))
    port = sock.getsockname()[1]
    host = f"[{cfg.host}]" if family == socket.AF_INET6 else cfg.host
    config = uvicorn.Config(
        SandboxApp(state),
        log_level=args.log_level,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        http="h11",
        loop="asyncio",
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    server = _Server(config, LISTENING.format(host=host, port=port))
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
