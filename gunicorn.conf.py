"""gunicorn's settings for the web server. The image, docker-compose and `make bench` run
it with these; the command line adds the address (--bind).

Workers: a request mostly waits on PostgreSQL, Redis or Coupa rather than computing, so 4
per core + 1 (9 on 2 cores). With gunicorn's usual 2 per core + 1, a Show to Users toggle
or a picker search often waited for a free worker behind a list page or a submission
(docs/benchmarks.md, case 7). WEB_CONCURRENCY sets another number.
"""

import os


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may use
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


workers = int(os.environ.get("WEB_CONCURRENCY") or 4 * _cores() + 1)
accesslog = "-"
