"""Small server-rendered SVG charts: no JavaScript, no CDN."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

W, H, PAD_L, PAD_B, PAD_T, PAD_R = 640, 240, 44, 28, 12, 12


def monthly_progress_svg(
    actual: Sequence[float],
    target: float,
    label_actual: str,
    label_target: str,
    months: Sequence[str],
) -> str:
    """Cumulative hours at the end of each month against the straight line to the year's quota."""
    top = max([target, *actual, 1.0])
    plot_w, plot_h = W - PAD_L - PAD_R, H - PAD_T - PAD_B

    def x(i: int) -> float:
        return PAD_L + plot_w * (i + 1) / 12

    def y(v: float) -> float:
        return PAD_T + plot_h * (1 - v / top)

    grid = []
    for k in range(5):
        v = top * k / 4
        grid.append(
            f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            f'class="grid"/><text x="{PAD_L - 6}" y="{y(v) + 4:.1f}" '
            f'text-anchor="end">{v:.0f}</text>'
        )
    ticks = "".join(
        f'<text x="{x(i):.1f}" y="{H - 8}" text-anchor="middle">{escape(m)}</text>'
        for i, m in enumerate(months)
    )
    pts = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(actual))
    goal = f"{PAD_L},{y(0):.1f} {x(11):.1f},{y(target):.1f}"
    dots = "".join(
        f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3"><title>{escape(months[i])}: '
        f"{v:g}</title></circle>"
        for i, v in enumerate(actual)
    )
    return (
        f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" '
        f'aria-label="{escape(label_actual)}" xmlns="http://www.w3.org/2000/svg">'
        f"{''.join(grid)}{ticks}"  # styled by app.css (svg.chart): no inline style under the CSP
        f'<polyline class="goal" points="{goal}"><title>{escape(label_target)}</title></polyline>'
        f'<polyline class="actual" points="{pts}"/>{dots}'
        f'<text x="{PAD_L + 8}" y="{PAD_T + 12}" fill="#1f5fa8">— {escape(label_actual)}</text>'
        f'<text x="{PAD_L + 8}" y="{PAD_T + 28}" fill="#b3261e">- - {escape(label_target)}</text>'
        f"</svg>"
    )
