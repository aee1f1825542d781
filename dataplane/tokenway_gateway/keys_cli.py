"""`tokenway keys`: make API keys for the gateway's `auth.keys` (or the key Secret)."""

from __future__ import annotations

import argparse
import sys

import yaml
from pydantic import ValidationError

from .auth.keys import KEY_PREFIX, entry_for, new_key

DESCRIPTION = """\
Make API keys. Tokenway keeps only a key's SHA-256: `keys new` prints the key once, with
the entry to add to the gateway config's `auth.keys` or to the key Secret (a YAML list).

  tokenway keys new --tenant team-a --tier premium
  tokenway keys hash --tenant team-a --tier premium < key.txt   # the entry of an existing key
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, help_text in (("new", "print a fresh random key once, and its entry"),
                            ("hash", "print the entry of a key read from stdin")):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("--tenant", required=True, help="who the key belongs to (limits are per tenant)")
        action.add_argument("--tier", default="default", help="the key's tier (selects rateLimits and rules)")
        action.add_argument("--disabled", action="store_true", help="write the entry disabled")


def run(args: argparse.Namespace) -> int:
    if args.action == "new":
        key = new_key()
    else:
        key = sys.stdin.readline().strip()
        if not key:
            print("tokenway keys hash: no key on stdin", file=sys.stderr)
            return 2
    try:
        entry = entry_for(key, args.tenant, args.tier, args.disabled)
    except ValidationError as exc:  # tenant or tier out of bounds
        for error in exc.errors(include_input=False):
            print(f"tokenway keys: --{error['loc'][0]}: {error['msg']}", file=sys.stderr)
        return 2
    entry_yaml = yaml.safe_dump([entry.dump()], sort_keys=False)
    if args.action == "new":
        print(f"# API key for tenant {entry.tenant} (tier {entry.tier}); shown once: Tokenway stores only its SHA-256")
        print(key)
    print("# entry for auth.keys in the gateway config, or for the key Secret's YAML list:")
    sys.stdout.write(entry_yaml)
    return 0


__all__ = ["DESCRIPTION", "KEY_PREFIX", "add_arguments", "run"]
