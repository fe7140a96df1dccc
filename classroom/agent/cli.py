"""The on-site agent's command line: `classroom-agent` on a classroom PC (an install with the
`agent` extra only), and `classroom agent` where the portal is installed too. It imports nothing
of the portal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from classroom.cli_base import CONFIG, fail, run
from classroom.cli_base import settings as load_settings

app = typer.Typer(
    help="Run the classroom agent (--classroom, --portal, a token), or show its status.",
    add_completion=False,
)


@app.callback(invoke_without_command=True)
def agent(
    ctx: typer.Context,
    classroom: Annotated[
        int | None, typer.Option("--classroom", help="This classroom's id.")
    ] = None,
    portal: Annotated[
        str | None, typer.Option("--portal", help="Portal URL, e.g. http://portal:8000")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="TOML settings file (also CLASSROOM_CONFIG)."),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="CLASSROOM_AGENT_TOKEN",
            help="The agent's device token "
            "(prefer the CLASSROOM_AGENT_TOKEN variable: arguments show in ps).",
        ),
    ] = None,
) -> None:
    """Run a classroom's on-site agent: follow the schedule, take commands from the portal,
    record, upload. `status` shows how a running agent is doing."""
    if config is not None:
        CONFIG["path"] = config
    if ctx.invoked_subcommand is not None:
        return
    if classroom is None or portal is None or not token:
        raise fail("running the agent needs --classroom, --portal and a token", code=2)
    from classroom.agent.client import PortalRefused
    from classroom.agent.launch import build_agent, run_until_stopped
    from classroom.lifecycle import stop_event_on_signals

    settings = load_settings()

    async def _agent() -> None:
        stop = stop_event_on_signals()
        built = await build_agent(settings, classroom, portal, token)
        await run_until_stopped(built, stop)

    try:
        run(_agent())
    except PortalRefused as exc:
        raise fail(f"the portal refused this agent: {exc}") from None


@app.command("status")
def agent_status(
    classroom: Annotated[int, typer.Option("--classroom", help="This classroom's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="The status as JSON.")] = False,
) -> None:
    """The agent's last status on this machine (written with every heartbeat): state, queues,
    upload progress, disk, audio level, alerts. Exit status: 0 fine, 1 alerts or a fault,
    3 not running (no status for three heartbeats)."""
    from datetime import UTC, datetime

    from classroom.agent.health import read_status
    from classroom.agent.local import STATUS, agent_workdir

    settings = load_settings()
    path = agent_workdir(settings.data_dir, classroom) / STATUS
    status = read_status(path)
    if status is None:
        raise fail(f"no agent has run for classroom {classroom} here ({path})", code=3)
    age = (datetime.now(UTC) - datetime.fromisoformat(status["at"])).total_seconds()
    stale = age > 3 * settings.agent.heartbeat_s
    if as_json:
        typer.echo(json.dumps({**status, "age_s": round(age, 1), "running": not stale}))
    else:
        mib = 1024**2
        rows = [
            ("state", status["state"] + ("" if not stale else f" (not running? {age:.0f} s old)")),
            ("recording", ", ".join(map(str, status["recordings"])) or "-"),
            *((peer, _reachability(status, peer)) for peer in ("portal", "store")),
            (
                "disk free",
                f"{status['disk_free_bytes'] / mib:,.0f} MiB "
                f"(floor {status['disk_min_free_bytes'] / mib:,.0f} MiB)",
            ),
            (
                "uploads",
                f"{status['uploads_pending']} waiting"
                + (
                    f", oldest {status['oldest_upload_age_s']:.0f} s"
                    if status["oldest_upload_age_s"]
                    else ""
                ),
            ),
            *(
                (
                    f"  {u['key'].rsplit('/', 1)[-1]}",
                    f"{u['bytes_sent'] / mib:,.1f}/{u['bytes'] / mib:,.1f} MiB, "
                    f"part {u['parts_done']}/{u['parts_total']}",
                )
                for u in status.get("uploads", [])
            ),
            ("reports", f"{status['reports_pending']} waiting"),
            (
                "audio",
                "-"
                if status["audio_rms_dbfs"] is None
                else f"{status['audio_rms_dbfs']} dBFS rms, {status['audio_peak_dbfs']} peak",
            ),
            ("last segment", status["last_segment_at"] or "-"),
            *((f"ALERT {a['code']}", a["message"]) for a in status["alerts"]),
        ]
        width = max(len(k) for k, _ in rows)
        for key, value in rows:
            typer.echo(f"{key:<{width}}  {value}")
    if stale:
        raise typer.Exit(3)
    if status["alerts"] or status["state"] == "fault":
        raise typer.Exit(1)


def _reachability(status: dict[str, Any], peer: str) -> str:
    """ "unreachable since 08:12:03 UTC (95 s)", as the agent last found ``peer``."""
    reachable, since = status.get(f"{peer}_reachable"), status.get(f"{peer}_since")
    word = {True: "reachable", False: "unreachable", None: "-"}[reachable]
    if reachable is None or not since:
        return word
    from datetime import UTC, datetime

    when = datetime.fromisoformat(since)
    held = (datetime.now(UTC) - when).total_seconds()
    return f"{word} since {when:%Y-%m-%d %H:%M:%S} UTC ({held:.0f} s)"
