"""A picture of a site's CloudWatch dashboard, drawn from the synthesized dashboard body itself:
each widget where CloudWatch puts it (a 24-column grid), with its title, statistic and the
metric lines it plots. No data: it shows what the dashboard watches, so docs/monitoring.md can
show the real layout without an AWS account. Below the widgets, a key: what the failover state
numbers mean, and each alarm's threshold as the same stack synthesizes it (and which monitoring
field sets it). Plain SVG text; no plotting library needed.

    python -m dhcp_failover.dashboard_picture cdktf.out/stacks/SITE-shared/cdk.tf.json > picture.svg
"""

from __future__ import annotations

import json
import sys
from html import escape
from pathlib import Path
from typing import Any

from .backends.isc.omapi import STATE_NAMES

COLUMN = 40  # pixels per grid column (CloudWatch dashboards are 24 columns wide)
ROW = 34  # pixels per grid row
MARGIN = 10
LINE = 14
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


# What FailoverState's numbers mean: ISC dhcpd 4.x's own numbering (a Kea member publishes its HA
# state as the ISC number of the same meaning; docs/monitoring.md).
STATE_KEY = ("FailoverState: " + ", ".join(f"{number} {name}" for number, name in STATE_NAMES.items() if number)
             + "; a gap: OMAPI did not answer")
# The monitoring field that sets each alarm's threshold, by the alarm's kind (its name's end).
THRESHOLD_FIELDS = {
    "not-normal": "failover.max_response_delay + monitoring.state_margin_seconds, in periods",
    "dhcpd-down": "",
    "clock-offset": "monitoring.clock_offset_seconds",
    "pool": "monitoring.pool_free_percent, or pool_free_percents per pool",
}
_OPERATORS = {"LessThanThreshold": "<", "GreaterThanThreshold": ">", "LessThanOrEqualToThreshold": "<=",
              "GreaterThanOrEqualToThreshold": ">="}


def dashboard_bodies(stack: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """dashboard name → its body, from a synthesized stack (cdk.tf.json)."""
    boards = stack.get("resource", {}).get("aws_cloudwatch_dashboard", {})
    return {board["dashboard_name"]: json.loads(board["dashboard_body"]) for board in boards.values()}


def _label(line: list[Any]) -> str:
    options = line[-1] if line and isinstance(line[-1], dict) else {}
    name = line[1]
    return f"{name}: {options.get('label', '')}".rstrip(": ")


def _widget(widget: dict[str, Any]) -> list[str]:
    props = widget["properties"]
    x, y = MARGIN + widget["x"] * COLUMN, MARGIN + widget["y"] * ROW
    w, h = widget["width"] * COLUMN - 6, widget["height"] * ROW - 6
    title = f"{props['title']} ({props.get('stat', 'Average')}, {props.get('period', 300)} s)"
    parts = [
        f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="4" fill="#ffffff" stroke="#aab7c4"/>',
        f'<text x="{x + 8}" y="{y + 18}" font-size="13" font-weight="bold">{escape(title)}</text>',
        # The plot area: axes only, the lines below name what is drawn there.
        f'<line x1="{x + 8}" y1="{y + h - 10}" x2="{x + w - 8}" y2="{y + h - 10}" stroke="#d0d7de"/>',
        f'<line x1="{x + 8}" y1="{y + 28}" x2="{x + 8}" y2="{y + h - 10}" stroke="#d0d7de"/>',
    ]
    lines = props["metrics"]
    room = max(1, (h - 46) // LINE)
    shown = lines if len(lines) <= room else lines[: room - 1]
    for i, line in enumerate(shown):
        colour = PALETTE[i % len(PALETTE)]
        ty = y + 40 + i * LINE
        parts.append(f'<line x1="{x + 16}" y1="{ty - 4}" x2="{x + 34}" y2="{ty - 4}" stroke="{colour}" stroke-width="3"/>')
        parts.append(f'<text x="{x + 40}" y="{ty}" font-size="11">{escape(_label(line))}</text>')
    if len(shown) < len(lines):
        parts.append(f'<text x="{x + 40}" y="{y + 40 + len(shown) * LINE}" font-size="11">'
                     f"… and {len(lines) - len(shown)} more</text>")
    return parts


def alarm_thresholds(stack: dict[str, Any]) -> list[str]:
    """One line per kind of alarm in a synthesized stack: its metric, condition, periods and
    what sets the threshold (pools with different thresholds each get their line)."""
    lines: dict[str, None] = {}
    for alarm in stack.get("resource", {}).get("aws_cloudwatch_metric_alarm", {}).values():
        if alarm.get("namespace") != "DhcpFailover":
            continue
        kind = str(alarm["alarm_name"]).rsplit("-primary-", 1)[-1].rsplit("-secondary-", 1)[-1]
        kind = "pool" if kind.startswith("pool-") else kind
        condition = f"{alarm['metric_name']} {_OPERATORS.get(alarm['comparison_operator'], '?')} {alarm['threshold']:g}"
        periods = f"for {alarm['evaluation_periods']} period(s) of {alarm['period']} s"
        field = THRESHOLD_FIELDS.get(kind, "the inventory")
        lines[f"{kind}: {condition} {periods} ({f'set by {field}' if field else 'fixed'})"] = None
    return sorted(lines)


def _key(lines: list[str], y: int) -> list[str]:
    return [f'<text x="{MARGIN}" y="{y + i * LINE}" font-size="11" fill="#24292f">{escape(line)}</text>'
            for i, line in enumerate(lines)]


def _wrapped(text: str, width: int = 150) -> list[str]:
    """Text cut at spaces into lines of at most ``width`` characters (SVG text does not wrap)."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return lines


def render_svg(name: str, body: dict[str, Any], thresholds: list[str] | None = None) -> str:
    widgets = body["widgets"]
    width = MARGIN * 2 + 24 * COLUMN
    key = _wrapped(STATE_KEY) + (["Alarm thresholds (each member; an alarm also notifies when it clears):"]
                                 + [f"  {line}" for line in thresholds] if thresholds else [])
    grid = MARGIN * 2 + max(w["y"] + w["height"] for w in widgets) * ROW
    height = grid + len(key) * LINE + 24
    parts = [
        (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
         f'viewBox="0 0 {width} {height}" font-family="sans-serif">'),
        f'<rect width="{width}" height="{height}" fill="#f4f6f8"/>',
    ]
    for widget in widgets:
        parts += _widget(widget)
    parts += _key(key, grid + 4)
    parts.append(f'<text x="{MARGIN}" y="{height - 10}" font-size="11" fill="#57606a">CloudWatch dashboard '
                 f"{escape(name)}: layout and metrics as synthesized (no data)</text>")
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("error: usage: python -m dhcp_failover.dashboard_picture STACK/cdk.tf.json", file=sys.stderr)
        return 2
    path = Path(argv[0])
    try:
        stack = json.loads(path.read_text())
        boards = dashboard_bodies(stack)
    except (OSError, ValueError) as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
        return 2
    if not boards:
        print(f"error: {path}: no aws_cloudwatch_dashboard; is the site monitored (a monitoring section)?",
              file=sys.stderr)
        return 2
    for name, body in sorted(boards.items()):
        sys.stdout.write(render_svg(name, body, alarm_thresholds(stack)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
