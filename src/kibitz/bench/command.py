"""``kibitz bench``: the click command. Parses options into a ``BenchConfig`` and reports."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .config import DEFAULT_SCENARIOS, GROUP_PHASES, SCENARIOS, BenchConfig
from .placement import parse_cpus

__all__ = ["bench"]

_D = BenchConfig()


def _cpu(_: Any, __: Any, value: int | None) -> int | None:
    if value is not None and value < 0:
        raise click.BadParameter("a CPU number is >= 0")
    return value


def _cpus(_: Any, __: Any, value: str | None) -> tuple[int, ...]:
    if not value:
        return ()
    try:
        return parse_cpus(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@click.command()
@click.option(
    "--scenario",
    "scenarios",
    multiple=True,
    type=click.Choice(SCENARIOS),
    help="Run only these (repeatable). Default: connect, echo, fanout, saturate, in order "
    "(group runs when named).",
)
@click.option(
    "--sessions",
    type=int,
    default=_D.sessions,
    show_default=True,
    help="connect: sessions to log in and hold.",
)
@click.option(
    "--ramp",
    type=float,
    default=_D.ramp,
    show_default=True,
    help="connect: logins/s offered (0 = as fast as --connect-concurrency allows).",
)
@click.option(
    "--connect-concurrency",
    type=int,
    default=_D.connect_concurrency,
    show_default=True,
    help="Logins in flight at once.",
)
@click.option(
    "--hold",
    type=float,
    default=_D.hold,
    show_default=True,
    help="connect: seconds to hold the sessions before reading server RSS.",
)
@click.option(
    "--pairs",
    type=int,
    default=_D.pairs,
    show_default=True,
    help="echo: pairs, each pinging its partner who answers at once.",
)
@click.option(
    "--echo-rate",
    type=float,
    default=_D.echo_rate,
    show_default=True,
    help="echo: pings/s per pair.",
)
@click.option(
    "--receivers",
    type=int,
    default=_D.receivers,
    show_default=True,
    help="fanout/saturate: online receivers of each REST multi-target send.",
)
@click.option(
    "--rate",
    type=float,
    default=_D.rate,
    show_default=True,
    help="fanout: sends/s (each reaches every receiver).",
)
@click.option(
    "--duration",
    type=float,
    default=_D.duration,
    show_default=True,
    help="echo/fanout/group rate and large: seconds of traffic.",
)
@click.option(
    "--sat-pairs",
    type=int,
    default=_D.sat_pairs,
    show_default=True,
    help="saturate 1:1: sending pairs.",
)
@click.option(
    "--sat-start",
    type=float,
    default=_D.sat_start,
    show_default=True,
    help="saturate 1:1: msg/s at the first step.",
)
@click.option(
    "--sat-fanout-start",
    type=float,
    default=_D.sat_fanout_start,
    show_default=True,
    help="saturate fanout: deliveries/s at the first step.",
)
@click.option(
    "--sat-factor",
    type=float,
    default=_D.sat_factor,
    show_default=True,
    help="saturate: rate multiplier between steps.",
)
@click.option(
    "--sat-steps",
    type=int,
    default=_D.sat_steps,
    show_default=True,
    help="saturate: at most this many steps per mode.",
)
@click.option(
    "--sat-refine",
    type=int,
    default=_D.sat_refine,
    show_default=True,
    help="saturate: extra steps bisecting between the best pass and the first failure.",
)
@click.option(
    "--sat-duration",
    type=float,
    default=_D.sat_duration,
    show_default=True,
    help="saturate: seconds per step.",
)
@click.option(
    "--latency-limit",
    "latency_limit_ms",
    type=float,
    default=_D.latency_limit_ms,
    show_default=True,
    help="saturate: a step fails above this p99 (ms).",
)
@click.option(
    "--loss-limit",
    type=float,
    default=_D.loss_limit,
    show_default=True,
    help="saturate: a step fails above this lost fraction.",
)
@click.option(
    "--group-members",
    type=click.IntRange(2, 10**6),
    default=_D.group_members,
    show_default=True,
    help="group: members of the group (one sends over msync, the others pull).",
)
@click.option(
    "--group-rate",
    type=float,
    default=_D.group_rate,
    show_default=True,
    help="group rate: GROUPCHAT sends/s (each reaches --group-members − 1).",
)
@click.option(
    "--group-sat-start",
    type=float,
    default=_D.group_sat_start,
    show_default=True,
    help="group saturate: delivered msg/s offered at the first step.",
)
@click.option(
    "--group-large-members",
    type=click.IntRange(2, 10**6),
    default=_D.group_large_members,
    show_default=True,
    help="group large: members of the large group.",
)
@click.option(
    "--group-large-rate",
    type=float,
    default=_D.group_large_rate,
    show_default=True,
    help="group large: GROUPCHAT sends/s.",
)
@click.option(
    "--group-phase",
    "group_phases",
    multiple=True,
    type=click.Choice(GROUP_PHASES),
    help="group: run only these phases (repeatable). Default: rate, saturate, large.",
)
@click.option(
    "--warmup",
    type=float,
    default=_D.warmup,
    show_default=True,
    help="Seconds of unrecorded traffic before echo, fanout and each saturate mode.",
)
@click.option(
    "--drain-timeout",
    type=float,
    default=_D.drain_timeout,
    show_default=True,
    help="Seconds to wait for acked messages after sending stops.",
)
@click.option(
    "--procs",
    type=click.IntRange(1, 64),
    default=_D.procs,
    show_default=True,
    help="Generator processes.",
)
@click.option(
    "--server-cpu", type=int, callback=_cpu, help="Pin the local server to this CPU (taskset)."
)
@click.option(
    "--server-cpus",
    callback=_cpus,
    metavar="CPU,CPU,…",
    help="--cluster-nodes: pin node i to the i-th CPU of this list (taskset), e.g. 0,1.",
)
@click.option(
    "--client-cpu", type=int, callback=_cpu, help="Pin the generator processes to this CPU."
)
@click.option(
    "--database-url",
    envvar="KIBITZ_BENCH_DATABASE_URL",
    help="Local server on PostgreSQL (postgresql://…); default SQLite in a temp dir.",
)
@click.option(
    "--cluster-nodes",
    type=click.IntRange(1, 64),
    help="Start N local kibitz serve nodes as one cluster (needs a PostgreSQL "
    "--database-url and --redis-url); sessions are spread so traffic crosses nodes.",
)
@click.option(
    "--redis-url",
    envvar="KIBITZ_BENCH_REDIS_URL",
    help="--cluster-nodes: the Redis the nodes share (redis://…); a fresh key prefix per run.",
)
@click.option(
    "--server-env",
    multiple=True,
    metavar="KEY=VALUE",
    help="Extra environment for the local server, e.g. KIBITZ_LOG_LEVEL=warning.",
)
@click.option("--keep-data", is_flag=True, help="Keep the local server's data dir and log.")
@click.option(
    "--rest-server",
    "rest_servers",
    multiple=True,
    help="Target a running server: its REST base URL. Repeat for the nodes of a cluster: "
    "pairs, receivers and logins are spread over them so traffic crosses nodes.",
)
@click.option(
    "--im-server",
    "im_servers",
    multiple=True,
    help="Its msync WebSocket URL (default: ws://REST-HOST/websocket); repeated, paired with "
    "--rest-server by position.",
)
@click.option("--app-key", help="Remote: ORG#APP.")
@click.option("--client-id", help="Remote: app client id (for the REST app token).")
@click.option("--client-secret", envvar="KIBITZ_BENCH_CLIENT_SECRET", help="Remote: secret.")
@click.option("--app-id", help="Remote: app ID, to mint 007 user tokens locally.")
@click.option(
    "--app-certificate",
    envvar="KIBITZ_BENCH_APP_CERTIFICATE",
    help="Remote: app certificate (without it users log in with passwords).",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every figure, the machine and the configuration here.",
)
@click.option(
    "--plot",
    "plot_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write PNG charts into this folder (needs matplotlib).",
)
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
def bench(
    scenarios: tuple[str, ...],
    group_phases: tuple[str, ...],
    server_env: tuple[str, ...],
    quiet: bool,
    **options: Any,
) -> None:
    """Load-test kibitz: connect, echo, fanout, saturate and group; Markdown on stdout."""
    from .report import check_targets, markdown, write_json, write_plots
    from .runner import run_bench

    env = {}
    for item in server_env:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--server-env")
        env[key] = value
    order = tuple(s for s in SCENARIOS if s in scenarios) if scenarios else DEFAULT_SCENARIOS
    phases = tuple(p for p in GROUP_PHASES if p in group_phases) if group_phases else GROUP_PHASES
    cfg = BenchConfig(
        scenarios=order,
        group_phases=phases,
        server_env=env,
        progress=not quiet,
        **options,
    )
    try:
        cfg.validate()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    if cfg.plot_dir is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError as exc:
            raise click.UsageError("--plot needs matplotlib: pip install 'kibitz[bench]'") from exc
    try:
        run = run_bench(cfg)
    except (RuntimeError, ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    run["targets"] = check_targets(run["results"])
    click.echo(markdown(run))
    if cfg.json_path is not None:
        write_json(run, cfg.json_path)
        click.echo(f"JSON: {cfg.json_path}", err=True)
    if cfg.plot_dir is not None:
        for path in write_plots(run, cfg.plot_dir):
            click.echo(f"plot: {path}", err=True)
    sys.stdout.flush()
