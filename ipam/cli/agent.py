"""`ipam agent`: the per-host agent (`ipam_agent`), with the same options as `ipam-agent`."""

from __future__ import annotations

import argparse


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], parents: list[argparse.ArgumentParser]
) -> None:
    from ipam_agent.options import add_arguments

    parser = subparsers.add_parser(
        "agent",
        parents=parents,
        help="run the per-host agent (registers the host, serves the ipam-cni socket and the Docker IPAM driver)",
        description="Register this host with the IPAM server, heartbeat, and serve the unix socket the "
        "ipam-cni plugin talks to and Docker's remote IPAM driver (/run/docker/plugins/NAME.sock). Runs until "
        "SIGTERM or Ctrl-C; the same as the `ipam-agent` command.",
        epilog="examples:\n  ipam agent --host node-1 --label zone=a --server ipam.example:50051\n"
        "  ipam agent --host node-1 --docker --docker-plugin-name ipam   # then: docker network create "
        "--ipam-driver ipam ...",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ipam.cli.errors import CliError
    from ipam_agent.main import AgentError
    from ipam_agent.main import run as run_agent

    try:
        return run_agent(args)
    except AgentError as err:
        raise CliError(str(err)) from None
