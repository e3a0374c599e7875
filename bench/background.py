"""Run one first import of a connection in its own process (case 7's background sync).

Run: python -m bench.background ours|baseline <connection pk>
The database comes from DATABASE_URL (the harness points it at its throwaway database).
"""

from __future__ import annotations

import sys

from bench.env import django_setup


def main(argv: list[str] | None = None) -> int:
    side, pk = (argv if argv is not None else sys.argv[1:])[:2]
    django_setup()
    from bench.baselines import baseline_import
    from bench.cases import BIG, _ours_sync
    from integrations.models import Connection, SyncRun

    connection = Connection.objects.select_related("organization").get(pk=int(pk))
    if side == "ours":
        _ours_sync(connection, BIG, SyncRun.Trigger.INITIAL)
    else:
        baseline_import(connection=connection, resources=BIG)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
