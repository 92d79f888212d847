"""`yardfleet sim replay BAG`: feed a bag's GNSS fixes onto the yard and report what matched.

Prints the report (counts, trucks, lanes used; JSON with --json), writes
`OUT/replay.json` and the picture `OUT/replay.png`. Ctrl-C stops the replay; the
report of what was replayed so far is still printed and written (exit status 130).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from maps.cli_support import CREATES_FOLDERS, INTERRUPTED_EXIT, output_folder, yard_error
from maps.errors import YardError
from maps.geojson import load_yard
from maps.terminals import terminal
from sim.bags.picture import draw_replay
from sim.bags.reader import BagError, fix_topics
from sim.bags.replay import DEFAULT_MAX_DISTANCE_M, ReplayedFix, ReplayReport, replay
from sim.bags.topicmap import TopicMap, TopicMapError
from sim.feed import DispatcherFeed

__all__ = ["INTERRUPTED_EXIT", "replay_command"]


def _speed(value: str) -> float:
    """`max` or 0 → 0.0 (as fast as possible); else a positive factor of real time."""
    if value.strip().lower() == "max":
        return 0.0
    try:
        speed = float(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a number or 'max'") from None
    if not speed >= 0.0 or speed == float("inf"):
        raise click.BadParameter(f"{value!r}: the speed must be ≥ 0 (0 or 'max': no pacing)")
    return speed


def _print_report(console: Console, report: ReplayReport) -> None:
    """The report as a few lines and a table per truck."""
    state = "[bold yellow]interrupted[/] " if report.interrupted else ""
    console.print(
        f"{state}replay of {report.bag} on {report.yard}: {report.fixes} fixes, "
        f"[green]{report.matched} matched[/] on {len(report.lanes)} lane(s), "
        f"[red]{report.off_map} off the map[/] (farther than {report.max_distance_m:g} m "
        f"from a lane or outside the yard), {report.no_fix} without a fix"
    )
    table = Table("truck", "topic", "fixes", "matched", "off map", "no fix", "top lanes")
    by_truck: dict[str, list[str]] = {}
    for topic, truck in report.topics.items():
        by_truck.setdefault(truck, []).append(topic)
    for truck, t in sorted(report.trucks.items()):
        top = ", ".join(f"{lane} ({n})" for lane, n in t.lanes.most_common(3))
        table.add_row(
            truck,
            ", ".join(by_truck.get(truck, [])),
            str(t.fixes),
            str(t.matched),
            str(t.off_map),
            str(t.no_fix),
            top,
        )
    console.print(table)


@click.command("replay")
@click.argument("bag", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--speed",
    default="1",
    show_default=True,
    metavar="X|max",
    help="times real time; 0 or 'max' for as fast as possible",
)
@click.option(
    "--topic-map",
    type=click.Path(dir_okay=False, path_type=Path),
    help='TOML file: [topics] "/topic" = "TRUCK" (default: the topic\'s truck segment)',
)
@click.option(
    "--yard",
    "yard_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="a yard GeoJSON file (default: the embedded haiphong terminal)",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out"),
    show_default=True,
    help=f"folder for replay.json, replay.png and journal.db ({CREATES_FOLDERS})",
)
@click.option(
    "--max-distance",
    type=float,
    default=DEFAULT_MAX_DISTANCE_M,
    show_default=True,
    help="metres from a lane beyond which a fix is off the map",
)
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON on stdout")
def replay_command(
    bag: Path,
    speed: str,
    topic_map: Path | None,
    yard_file: Path | None,
    out: Path,
    max_distance: float,
    as_json: bool,
) -> None:
    """Replay the NavSatFix topics of BAG (rosbag2 directory or ROS 1 .bag) onto the yard."""
    pace = _speed(speed)
    if not max_distance > 0:
        raise click.BadParameter("must be > 0 metres", param_hint="--max-distance")
    try:
        tmap = TopicMap.load(topic_map) if topic_map else TopicMap()
        yard = load_yard(yard_file) if yard_file else terminal()
        if bag.is_dir() and not (bag / "metadata.yaml").is_file():
            raise BagError(
                f"{bag}: not a bag: a rosbag2 directory holds metadata.yaml, this one does not"
            )
        total = sum(t.count for t in fix_topics(bag))
    except YardError as exc:
        raise yard_error(exc) from None
    except (TopicMapError, BagError) as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:  # what rosbags raises for files it cannot use
        raise click.ClickException(f"{bag}: not a readable bag: {exc.strerror or exc}") from None
    output_folder(out, "--out")
    # With --json, stdout carries only the JSON; the progress bar and table go to stderr.
    console = Console(stderr=as_json)
    progress = Progress(
        TextColumn("replay"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[truck]}"),
        console=Console(stderr=True),
        transient=True,
    )
    task = progress.add_task("replay", total=total or None, truck="")

    feed = DispatcherFeed(yard, out / "journal.db")

    def advance(fix: ReplayedFix) -> None:
        feed(fix)
        progress.update(task, advance=1, truck=fix.truck)

    try:
        with progress:
            report = replay(
                bag,
                yard=yard,
                topic_map=tmap,
                speed=pace,
                max_distance_m=max_distance,
                on_fix=advance,
            )
    except BagError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        feed.close()
    data = report.to_dict()
    data["dispatcher"] = {"journal": str(out / "journal.db"), "states": feed.states}
    (out / "replay.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    picture = draw_replay(yard, report, out / "replay.png")
    if as_json:
        click.echo(json.dumps(data, indent=1))
    _print_report(console, report)
    console.print(f"wrote {out / 'replay.json'} and {picture}")
    if report.interrupted:
        sys.exit(INTERRUPTED_EXIT)
