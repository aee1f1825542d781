"""The `tokenway` command: one entry point, one module per subcommand.

Each subcommand module exposes ``add_arguments(parser)`` and ``run(args) -> int``;
they are imported lazily so `tokenway sim` never pays for the operator's imports.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "up": ("tokenway_gateway.up", "run the embedded demo: a gateway in front of a simulated pool"),
    "gateway": ("tokenway_gateway.server.main", "run the gateway"),
    "sim": ("tokenway_gateway.simulator.cli", "run a vLLM-like simulated inference server"),
    "operator": ("tokenway_operator.cli", "run the Kubernetes operator"),
    "crds": ("tokenway_operator.crdgen", "generate CRD YAML from the API models"),
    "keys": ("tokenway_gateway.keys_cli", "make API keys (printed once) and their auth.keys entries"),
    "status": ("tokenway_operator.status_cli", "summarise pools, gateways and recent scaling decisions of a namespace"),
    "scrape-config": ("tokenway_operator.autoscaling.scrape", "print the scrape config the autoscaler expects"),
}


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tokenway", description="Tokenway: the LLM-aware AI gateway.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        if name == chosen:
            module = importlib.import_module(module_name)
            sub_parser = sub.add_parser(
                name, help=help_text, description=getattr(module, "DESCRIPTION", help_text),
                formatter_class=argparse.RawDescriptionHelpFormatter,
            )
            module.add_arguments(sub_parser)
            sub_parser.set_defaults(_run=module.run)
        else:
            sub.add_parser(name, help=help_text)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(args_list).parse_args(args_list)
    result: int = args._run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
