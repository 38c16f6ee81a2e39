"""Architecture diagram of a stack, drawn from its offline plan: what `pulumi up` would build, as a picture.

    python -m tools.diagram --stack prod                  # writes docs/diagram-prod.png
    python -m tools.diagram --stack prod --format svg --out /tmp

Two steps. `build_model(plan)` turns the registrations into a graph model: groups (region, VPC, one per AZ, one per
subnet, the EKS cluster, one per namespace, the trust chain, the service graph), nodes inside them (NAT gateways,
node groups, data services, Helm releases, issuers, services) and edges (node groups -> control plane, TLS from the
cluster security group to each data service, the trust chain's signatures, the mesh's mTLS calls). `render(model)`
lays that model out on a fixed grid and draws it with matplotlib, which installs from PyPI as wheels with everything
it needs: no Graphviz binary, so `make diagram` works on a fresh clone with only python3. Layers not in the plan yet
(the mesh, the services) are drawn greyed, so the picture says what is missing instead of hiding it. This module
draws and holds the CLI; the model's types are in `tools/diagram/diagram_model.py`, `build_model` in
`tools/diagram/build.py`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any, Final

import matplotlib
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, Rectangle

from tools.diagram.build import build_model
from tools.diagram.diagram_model import DiagramModel, Node
from tools.engine.mock_engine import ROOT, Plan, list_stacks, run_stack
from tools.engine.plan_facts import load_plan

DOCS: Final = ROOT / "docs"


KIND_ORDER: Final = {"rds": 0, "mq": 1, "cache": 2}
COLOURS: Final = {
    "public": "#e8f5e9", "private": "#e3f2fd", "isolated": "#f3e5f5", "vpc": "#fbfbfb", "region": "#ffffff",
    "cluster": "#fff8e1", "regional": "#fafafa", "trust": "#fffde7", "services": "#f1f8e9", "namespace": "#ffffff",
    "nat": "#8c4fff", "control-plane": "#ed7100", "nodegroup": "#f7a541", "rds": "#3b48cc", "mq": "#c7131f",
    "cache": "#2e7d32", "release": "#326ce5", "k8s": "#90a4ae", "trust-node": "#b8860b", "service": "#00897b",
    "absent": "#bdbdbd", "tls": "#3b48cc", "mtls": "#00897b", "signs": "#b8860b", "joins": "#ed7100",
}


class Canvas:
    """Fixed-grid layout of a `DiagramModel` on matplotlib axes: AWS on the left, Kubernetes and trust on the right."""

    def __init__(self, ax: Any, model: DiagramModel) -> None:
        self.ax, self.m = ax, model
        self.where: dict[str, tuple[float, float, float, float]] = {}  # node id -> drawn box
        ax.set_xlim(0, 220)
        ax.set_ylim(0, 130)
        ax.axis("off")

    # primitives
    def box(self, x0: float, y0: float, x1: float, y1: float, face: str, label: str = "", *, edge: str = "#607d8b",
            dashed: bool = False, size: float = 8, bold: bool = False, colour: str = "#263238", lw: float = 1.0,
            rounded: bool = True) -> None:
        style = "round,pad=0,rounding_size=0.8" if rounded else "square,pad=0"
        self.ax.add_patch(FancyBboxPatch((x0, y0), x1 - x0, y1 - y0, boxstyle=style, facecolor=face, edgecolor=edge,
                                         linewidth=lw, linestyle="--" if dashed else "-"))
        if label:
            self.text(x0 + 0.8, y1 - 0.6, label, size=size, bold=bold, colour=colour, va="top")

    def text(self, x: float, y: float, s: str, *, size: float = 8, bold: bool = False, colour: str = "#263238",
             ha: str = "left", va: str = "center", width: float | None = None) -> None:
        if width is not None:  # clip to the box: about 0.72 units per character at 8 pt
            limit = max(4, int(width / (0.09 * size)))
            s = s if len(s) <= limit else s[: limit - 1] + "…"
        self.ax.text(x, y, s, fontsize=size, fontweight="bold" if bold else "normal", color=colour, ha=ha, va=va)

    def card(self, x0: float, y0: float, x1: float, y1: float, node: Node, colour: str) -> None:
        """A node: coloured bar on the left, label, detail below."""
        self.where[node.id] = (x0, y0, x1, y1)
        face = "#ffffff" if node.present else "#f5f5f5"
        edge = colour if node.present else COLOURS["absent"]
        self.box(x0, y0, x1, y1, face, edge=edge, dashed=not node.present, lw=1.2)
        self.ax.add_patch(self._rect(x0, y0, 0.9, y1 - y0, edge))
        ink = "#263238" if node.present else "#9e9e9e"
        label = node.label + ("" if node.present else "  (not in plan yet)")
        one_line = y1 - y0 < 4.6 or not node.detail
        self.text(x0 + 1.6, (y0 + y1) / 2 if one_line else y1 - 1.5, label, size=7.5, bold=True, colour=ink,
                  width=x1 - x0 - 2)
        if not one_line:
            self.text(x0 + 1.6, y0 + 1.5, node.detail, size=6.5, colour=ink, width=x1 - x0 - 2)

    @staticmethod
    def _rect(x: float, y: float, w: float, h: float, colour: str) -> Any:
        return Rectangle((x, y), w, h, facecolor=colour, edgecolor="none")

    def arrow(self, points: list[tuple[float, float]], colour: str, label: str = "", *, dashed: bool = False,
              lw: float = 1.2) -> None:
        xs, ys = zip(*points, strict=True)
        self.ax.plot(xs, ys, color=colour, linewidth=lw, linestyle="--" if dashed else "-")
        self.ax.annotate("", xy=points[-1], xytext=points[-2],
                         arrowprops={"arrowstyle": "-|>", "color": colour, "lw": lw, "shrinkA": 0, "shrinkB": 0})
        if label:
            (ax_, ay), (bx, by) = points[-2], points[-1]
            self.text((ax_ + bx) / 2 + 0.6, (ay + by) / 2, label, size=6.5, colour=colour)

    # layout
    def draw(self) -> None:
        m = self.m
        self.text(2, 127, m.title, size=15, bold=True)
        self.text(218, 127, "orange: compute   blue/red/green: data   gold: trust chain   teal: mTLS calls   "
                  "dashed grey: designed, not in this plan yet", size=7.5, ha="right", colour="#546e7a")
        self.box(2, 2, 140, 123, COLOURS["region"], m.groups["region"].label, size=10, bold=True)
        self._aws()
        self._kubernetes()
        self._trust()
        self._services()

    def _aws(self) -> None:
        m = self.m
        control = m.nodes.get("control-plane")
        if control is not None:
            self.box(6, 109, 136, 120, COLOURS["cluster"], m.groups["cluster"].label, edge=COLOURS["control-plane"],
                     size=9, bold=True)
            self.card(8, 110, 134, 116.2, control, COLOURS["control-plane"])
        self.box(6, 24, 136, 106.5, COLOURS["vpc"], m.groups["vpc"].label, size=9, bold=True)
        zones = m.zones or ("",)
        width = (126 - 2 * (len(zones) - 1)) / len(zones)
        rows = {"public": (83.0, 97.0), "private": (55.0, 81.0), "isolated": (27.0, 53.0)}
        self.columns = {z: (8 + k * (width + 2), 8 + k * (width + 2) + width) for k, z in enumerate(zones)}
        for zone, (x0, x1) in self.columns.items():
            self.box(x0, 26, x1, 102.5, "#ffffff", f"AZ {zone}", edge="#90a4ae", size=8.5, bold=True)
            for tier, (y0, y1) in rows.items():
                group = m.groups.get(f"subnet:{tier}:{zone}")
                if group is None:
                    continue
                self.box(x0 + 1, y0, x1 - 1, y1, COLOURS[tier], group.label, edge="#b0bec5", size=7)
                cells = sorted(m.nodes_in(group.id), key=lambda n: (KIND_ORDER.get(n.kind, 9), n.id))
                self._stack(cells, x0 + 2, x1 - 2, y1 - 3.2, y0 + 0.8)
        self._node_groups(rows["private"])
        for e in m.edges:
            if e.kind == "replication" and e.src in self.where and e.dst in self.where:
                a, b = self.where[e.src], self.where[e.dst]
                y = (a[1] + a[3]) / 2
                self.arrow([(a[2], y), (b[0], (b[1] + b[3]) / 2)], "#546e7a", dashed=True, lw=0.9)
                self.text((a[2] + b[0]) / 2, y + 1.0, e.label, size=6, colour="#546e7a", ha="center")
        if any(e.kind == "tls" for e in m.edges):
            x = (self.columns[zones[0]][0] + self.columns[zones[0]][1]) / 2
            self.arrow([(x, rows["private"][0] + 0.2), (x, rows["isolated"][1] - 0.2)], COLOURS["tls"],
                       "only from the cluster SG, TLS ports", dashed=True)
        self._regional()

    def _stack(self, nodes: list[Node], x0: float, x1: float, top: float, bottom: float) -> None:
        if not nodes:
            return
        height = min(6.4, (top - bottom) / len(nodes) - 0.6)
        tls = {e.dst: e.label for e in self.m.edges if e.kind == "tls"}
        for k, node in enumerate(nodes):
            y1 = top - k * (height + 0.6)
            shown = node if node.id not in tls else Node(node.id, node.label, node.kind, node.group,
                                                         f"{node.detail} · {tls[node.id]}", node.present)
            self.card(x0, y1 - height, x1, y1, shown, COLOURS.get(node.kind, "#607d8b"))

    def _node_groups(self, row: tuple[float, float]) -> None:
        groups = self.m.nodes_of("nodegroup")
        for k, node in enumerate(groups):
            spans = [self.columns[z] for z in node.zones if z in self.columns] or list(self.columns.values())
            x0, x1 = min(s[0] for s in spans) + 2, max(s[1] for s in spans) - 2
            y1 = row[1] - 4 - k * 8
            self.card(x0, y1 - 6.4, x1, y1, node, COLOURS["nodegroup"])
            lane = 7.0 + k * 0.45
            self.arrow([(x0, y1 - 3.2), (lane, y1 - 3.2), (lane, 110)], COLOURS["joins"], lw=0.8)

    def _regional(self) -> None:
        nodes = self.m.nodes_of("regional")
        self.box(6, 4, 136, 21.5, COLOURS["regional"], "Regional services", size=8.5, bold=True)
        width = (126 - 2 * (len(nodes) - 1)) / max(1, len(nodes))
        for k, node in enumerate(nodes):
            x0 = 8 + k * (width + 2)
            self.card(x0, 6, x0 + width, 16.5, node, "#546e7a")

    def _kubernetes(self) -> None:
        m = self.m
        namespaces = m.groups_of("namespace")
        self.box(144, 84, 218, 123, COLOURS["cluster"], "Kubernetes: namespaces and Helm releases",
                 edge=COLOURS["control-plane"], size=9, bold=True)
        if not namespaces:
            self.text(146, 104, "Not in this plan yet: the mesh layer adds namespaces and the cert-manager,\n"
                      "Vault and Linkerd releases (issue 3); they appear here.", size=8, colour="#9e9e9e")
            return
        cols = 3 if len(namespaces) > 4 else 2
        rows = -(-len(namespaces) // cols)
        w, h = (72 - 1.5 * (cols - 1)) / cols, (34 - 1.5 * (rows - 1)) / rows
        for k, ns in enumerate(namespaces):
            x0, y1 = 145 + (k % cols) * (w + 1.5), 119.5 - (k // cols) * (h + 1.5)
            self.box(x0, y1 - h, x0 + w, y1, "#ffffff", f"ns {ns.label}", edge="#326ce5", size=7.5, bold=True)
            inside = m.nodes_in(ns.id)
            fits = max(1, int((h - 4) // 2.3) + 1)
            if len(inside) > fits:  # keep the releases, fold the rest into one line
                rest = inside[fits - 1:]
                inside = [*inside[: fits - 1], Node(f"{ns.id}:more", f"+ {len(rest)} more kinds", "k8s", ns.id)]
            for j, node in enumerate(inside):
                colour = COLOURS["release"] if node.kind == "release" else COLOURS["k8s"]
                self.text(x0 + 1, y1 - 3.6 - j * 2.3, f"● {node.label}", size=6.5, colour=colour, width=w - 1.5)

    def _trust(self) -> None:
        nodes = self.m.nodes_of("trust")
        self.box(144, 47, 218, 81, COLOURS["trust"], self.m.groups["trust"].label, edge=COLOURS["signs"], size=9,
                 bold=True)
        for k, node in enumerate(nodes):
            y1 = 77 - k * 6
            self.card(150, y1 - 4.6, 214, y1, node, COLOURS["trust-node"])
            if k:
                self.arrow([(147.5, y1 + 1.4 + 2.3 - 0.2 + 0.0), (147.5, y1 - 2.3)], COLOURS["signs"], lw=1.0)

    def _services(self) -> None:
        m = self.m
        self.box(144, 2, 218, 44, COLOURS["services"], m.groups["services"].label, edge=COLOURS["mtls"], size=9,
                 bold=True)
        services = [n for n in m.nodes_of("service") if n.id != "svc:internet"]
        if not services:
            self.text(146, 23, "No services in this plan yet: the service catalog (issue 4) adds them, with\n"
                      "each mTLS edge its AuthorizationPolicy allows.", size=8, colour="#9e9e9e")
            return
        cx, cy, radius = 181.0, 21.0, 15.0
        where: dict[str, tuple[float, float]] = {}
        for k, node in enumerate(services):
            angle = math.pi / 2 - 2 * math.pi * k / len(services)
            where[node.id] = (cx + 1.9 * radius * math.cos(angle), cy + radius * math.sin(angle))
        if "svc:internet" in m.nodes:
            where["svc:internet"] = (150.0, 40.0)
        for e in m.edges:
            if e.kind in ("mtls", "public") and e.src in where and e.dst in where:
                (x0, y0), (x1, y1) = where[e.src], where[e.dst]
                self.ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops={
                    "arrowstyle": "-|>", "color": COLOURS["mtls"] if e.kind == "mtls" else "#ed7100", "lw": 0.9,
                    "shrinkA": 9, "shrinkB": 9, "connectionstyle": "arc3,rad=0.08"})
        for node_id, (x, y) in where.items():
            self.ax.text(x, y, m.nodes[node_id].label, fontsize=6.5, ha="center", va="center", color="#ffffff",
                         bbox={"boxstyle": "round,pad=0.3", "facecolor": COLOURS["service"], "edgecolor": "none"})


def render(model: DiagramModel, path: Path) -> Path:
    """Draw `model` to `path` (.png or .svg) on a 220 x 130 grid (1 unit = 0.1 in)."""
    # A bare Figure, not pyplot: no GUI backend is chosen and no global figure registry needs closing.
    fig = Figure(figsize=(22, 13))
    ax = fig.add_axes((0, 0, 1, 1))
    Canvas(ax, model).draw()
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata: dict[str, Any] = {"Date": None} if path.suffix == ".svg" else {"Software": None}
    with matplotlib.rc_context({"svg.hashsalt": "mtls-platform"}):  # stable ids: the SVG diffs only when the model does
        fig.savefig(path, dpi=100, metadata=metadata)
    return path


def render_diagram(plan: Plan, out_dir: Path = DOCS, fmt: str = "png") -> Path:
    return render(build_model(plan), out_dir / f"diagram-{plan.stack}.{fmt}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, choices=list_stacks())
    parser.add_argument("--format", choices=("png", "svg"), default="png")
    parser.add_argument("--out", type=Path, default=DOCS, help="directory (default: docs/)")
    parser.add_argument("--model", action="store_true", help="print the graph model as JSON instead of drawing")
    args = parser.parse_args(argv)
    plan = load_plan(run_stack, args.stack)
    if plan is None:
        return 2
    if args.model:
        model = build_model(plan)
        print(json.dumps({"groups": [vars(g) for g in model.groups.values()],
                          "nodes": [vars(n) for n in model.nodes.values()],
                          "edges": [vars(e) for e in model.edges]}, indent=2))
        return 0
    print(render_diagram(plan, args.out, args.format))
    return 0


if __name__ == "__main__":
    sys.exit(main())
