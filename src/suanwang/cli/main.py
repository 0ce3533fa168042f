"""Entry point of the ``suanwang`` command: the top-level app and its sub-commands."""

from __future__ import annotations

import typer

from suanwang import __version__
from suanwang.cli.agent import agent_app
from suanwang.cli.code import artefact_app, object_app
from suanwang.cli.common import console
from suanwang.cli.config import config_app
from suanwang.cli.contexts import CONTEXT_META
from suanwang.cli.demo import demo
from suanwang.cli.deploy import deploy_app
from suanwang.cli.graph import graph_app
from suanwang.cli.graph_run import add_run_commands
from suanwang.cli.intents import intent_app
from suanwang.cli.ledger import ledger_app
from suanwang.cli.market import market_app
from suanwang.cli.measure import measure
from suanwang.cli.plan import plan
from suanwang.cli.registration import add_registration_commands
from suanwang.cli.resources import audit_app, link_app, load_scenario, principal_app, site_app
from suanwang.cli.results import task_logs, task_result
from suanwang.cli.scenario import app as scenario_app
from suanwang.cli.serve import serve
from suanwang.cli.services import services_app
from suanwang.cli.tasks import node_app, task_app
from suanwang.cli.templates import template_app
from suanwang.cli.tokens import token_app
from suanwang.cli.twin import app as twin_app
from suanwang.cli.twin_fork import fork as twin_fork
from suanwang.cli.twin_market import twin_market
from suanwang.cli.usage import invoice_app, usage

app = typer.Typer(
    name="suanwang",
    help="suanwang (算网): an open-source computing force network.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)
app.add_typer(scenario_app, name="scenario")
app.add_typer(twin_app, name="twin")
app.add_typer(task_app, name="task")
add_registration_commands()
app.add_typer(node_app, name="node")
app.add_typer(token_app, name="token")
app.add_typer(site_app, name="site")
app.add_typer(link_app, name="link")
app.add_typer(audit_app, name="audit")
app.add_typer(principal_app, name="principal")
app.add_typer(ledger_app, name="ledger")
app.add_typer(agent_app, name="agent")
app.add_typer(config_app, name="config")
add_run_commands(graph_app)  # run, list, show, cancel: graphs on the live network
app.add_typer(graph_app, name="graph")
app.add_typer(services_app, name="services")
app.add_typer(market_app, name="market")
app.add_typer(intent_app, name="intent")
app.add_typer(artefact_app, name="artefact")
app.add_typer(object_app, name="object")
app.add_typer(deploy_app, name="deploy")
app.add_typer(template_app, name="template")
app.add_typer(invoice_app, name="invoice")
task_app.command("result")(task_result)
task_app.command("logs")(task_logs)
scenario_app.command("load")(load_scenario)
twin_app.command("fork")(twin_fork)
twin_app.command("market")(twin_market)
app.command()(serve)
app.command()(demo)
app.command()(measure)
app.command()(plan)
app.command()(usage)


def _show_version(value: bool) -> None:
    if value:
        console.print(f"suanwang {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    ctx: typer.Context,
    context: str | None = typer.Option(
        None,
        "--context",
        envvar="SUANWANG_CONTEXT",
        help="The config file's context to use (default: its current-context).",
    ),
    version: bool = typer.Option(
        False,
        "--version",
        callback=_show_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """Run suanwang (算网), an open-source computing force network."""
    ctx.meta[CONTEXT_META] = context


def main() -> None:
    """Run the ``suanwang`` command."""
    app()
