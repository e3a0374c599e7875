"""Derive the committed R39 definitions from Coupa's Swagger 2.0 files.

`python scripts/derive_r39.py [SPEC_DIR]` reads every *.json Swagger file in SPEC_DIR
(default: ../shared/coupa-openapi beside the repository) and writes
coupa/spec/r39_definitions.json: per definition, only what `SpecValidator` reads.
`--check` writes nothing and exits 1 when the committed file differs.

Run it after Coupa's specs change or after the validator starts reading another
keyword (then extend `_compact` in coupa/spec/validator.py first).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from coupa.spec.validator import (  # noqa: E402 - needs the repository on the path
    DEFINITIONS_FILE,
    derive_definitions,
    render_definitions,
)

DEFAULT_SPEC_DIR = ROOT.parent / "shared" / "coupa-openapi"
OUTPUT = ROOT / "coupa" / "spec" / DEFINITIONS_FILE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "spec_dir",
        nargs="?",
        type=Path,
        default=DEFAULT_SPEC_DIR,
        help=f"directory of Coupa's R39 Swagger JSON files (default {DEFAULT_SPEC_DIR})",
    )
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"default {OUTPUT}")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the output file is not up to date"
    )
    args = parser.parse_args(argv)
    text = render_definitions(derive_definitions(args.spec_dir))
    current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
    if args.check:
        if current != text:
            print(f"{args.output} is out of date: run scripts/derive_r39.py", file=sys.stderr)
            return 1
        return 0
    if current != text:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        print(f"{args.output} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
