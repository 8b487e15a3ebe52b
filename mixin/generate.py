"""The command line both generators share: write their files, or check the committed ones are current.

Why shared: `alerts/build.py` and `dashboards/build.py` must take the same overrides and answer `--check`
the same way, so that one value changed for both is regenerated the same way for both.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from mixin.vocabulary import Vocabulary, VocabularyError, with_overrides

Render = Callable[[Vocabulary], dict[str, str]]


def main(render: Render, default_dir: Path, command: str, description: str,
         argv: Sequence[str] | None = None) -> int:
    """Write each file `render` returns (name -> content) into `--out` (default `default_dir`), or with
    `--check` exit 1 naming the files there that differ from it and the `command` that rewrites them."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed file is not current")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                        help="override one entry of mixin/vocabulary.py (repeatable)")
    parser.add_argument("--out", type=Path, default=default_dir,
                        help=f"directory to write or check (default: {default_dir.name}/)")
    args = parser.parse_args(argv)
    try:
        files = render(with_overrides(args.overrides))
    except VocabularyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not args.out.is_dir():
        print(f"error: --out {args.out}: expected an existing directory", file=sys.stderr)
        return 2
    stale = []
    for name, content in files.items():
        path = args.out / name
        if args.check:
            if not path.exists() or path.read_text() != content:
                stale.append(name)
        else:
            path.write_text(content)
    if stale:
        print(f"stale: {', '.join(stale)}; run {command}", file=sys.stderr)
        return 1
    return 0
