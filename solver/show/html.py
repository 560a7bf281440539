"""The partition report as one self-contained HTML file: inline SVG (laid out by Graphviz), CSS and script.

It opens from disk with no network: the facts, a legend, the per-part table, the comparison of methods, the
session graph and the op graph coloured by part (or device), cut edges marked with their tensors and bytes.
Hovering a box shows its ops' names, types, times and part; a search box finds an op by index or name.
Every drawn box carries ``data-ops`` and ``data-part`` (set by the page's script from the embedded data), so a
browser can check what the page shows.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from solver.io.files import write_atomic
from solver.show.graph import COLLAPSE_ABOVE, MAX_BOXES, graph_dot, op_groups, render_svg, session_dot
from solver.show.view import PartitionView, format_bytes


def report_html(view: PartitionView, collapse_above: int = COLLAPSE_ABOVE, max_boxes: int = MAX_BOXES) -> str:
    """The page of ``view`` (see the module doc); runs Graphviz's ``dot`` twice (op graph, session graph).

    ``collapse_above`` and ``max_boxes`` say when large graphs are drawn with fewer boxes (``solver.show.graph``).
    """
    groups = op_groups(view, collapse_above, max_boxes)
    graph_svg = render_svg(graph_dot(view, groups), f"the op graph of {view.title}")
    session_svg = render_svg(session_dot(view), f"the session graph of {view.title}")
    data = {
        "unit": view.unit,
        "ops": [[op.name, op.type, op.time, op.part] for op in view.ops],
        "parts": [{"label": p.label, "color": p.color} for p in view.parts],
        "boxes": {f"n{g[0]}": g for g in groups},
        "cuts": {f"e{c.source}_{c.target}": [[name, nbytes] for name, nbytes in c.tensors] for c in view.cuts},
    }
    collapsed = len(groups) < len(view.ops)
    esc = html.escape
    title = f"{view.title}: {len(view.parts)} parts"
    return _PAGE.format(
        title=esc(title),
        heading=esc(view.title),
        subtitle=esc(f"{len(view.ops)} ops in {len(view.parts)} parts, coloured by {view.colored_by}"
                     + (f"; runs of ops inside a part drawn as one box ({len(groups)} boxes)" if collapsed else "")),
        facts="".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in view.facts),
        legend="".join(f'<span class="key"><i style="background:{p.color}"></i>{esc(p.label)}</span>' for p in view.parts),
        parts=_parts_table(view),
        comparison=_comparison_table(view),
        notes="".join(f"<li>{esc(note)}</li>" for note in view.notes) or "<li>none</li>",
        session=session_svg,
        graph=graph_svg,
        cut_count=len(view.cuts),
        data=json.dumps(data, separators=(",", ":")).replace("</", "<\\/"),
        style=_STYLE,
        script=_SCRIPT,
    )  # fmt: skip


def write_report(path: str | Path, view: PartitionView, collapse_above: int = COLLAPSE_ABOVE) -> Path:
    """Write the page of ``view`` to ``path`` atomically (nothing is written if the layout fails)."""
    return write_atomic(path, report_html(view, collapse_above).encode())


def _parts_table(view: PartitionView) -> str:
    esc, unit = html.escape, view.unit
    device = any(p.device for p in view.parts)
    head = "<tr><th>part</th>" + ("<th>device</th>" if device else "") + (
        f"<th>ops</th><th>time ({esc(unit)})</th><th>share</th><th>constants</th><th></th></tr>"
    )
    rows = []
    for p in view.parts:
        rows.append(
            f'<tr class="{"bottleneck" if p.bottleneck else ""}"><td><i class="sw" style="background:{p.color}"></i>'
            f"{p.part}</td>" + (f"<td>{esc(p.device or '-')}</td>" if device else "")
            + f'<td class="n">{p.ops}</td><td class="n">{p.time}</td><td class="n">{p.share:.1%}'
            f'<span class="bar" style="width:{p.share * 100:.1f}%"></span></td><td class="n">'
            f"{format_bytes(p.constant_bytes)}</td><td title=\"the bottleneck\">{'★' if p.bottleneck else ''}</td></tr>"
        )  # fmt: skip
    return f"<table class=\"parts\">{head}{''.join(rows)}</table><p class=\"small\">★ the bottleneck: the slowest part</p>"


def _comparison_table(view: PartitionView) -> str:
    if not view.comparison:
        return "<p>no comparison available</p>"
    esc = html.escape
    rows = "".join(
        f'<tr><td>{esc(m.method)}</td><td class="n">{m.value}</td><td class="n">{m.ratio:.4f}</td>'
        f"<td>{esc(m.remark)}</td></tr>"
        for m in view.comparison
    )
    return (f"<table><tr><th>method</th><th>value ({esc(view.unit)})</th><th>/ bound</th><th></th></tr>"
            f"{rows}</table>")  # fmt: skip


_STYLE = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:#222;background:#fafafa}
header{padding:14px 24px;background:#243447;color:#fff}header h1{margin:0;font-size:20px}header p{margin:4px 0 0;opacity:.85}
main{padding:12px 24px}.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(360px,1fr));gap:14px;
align-items:start;margin-bottom:14px}section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px 14px;
min-width:0}.wide{grid-column:1/-1}.session{overflow:auto;text-align:center}.session svg{max-width:100%;height:auto;min-height:90px;max-height:220px}.small{font-size:12px;color:#555;margin:6px 0 0}
h2{font-size:15px;margin:0 0 8px}table{border-collapse:collapse;width:100%}th,td{padding:3px 6px;text-align:left;
border-bottom:1px solid #eee;vertical-align:top}td.n{text-align:right;font-variant-numeric:tabular-nums;position:relative}
tr.bottleneck td{font-weight:600;background:#fff4e5}.sw,.key i{display:inline-block;width:12px;height:12px;
border-radius:3px;margin-right:6px;vertical-align:-1px;border:1px solid #0003}.key{margin-right:14px;white-space:nowrap}
.bar{position:absolute;left:0;bottom:0;height:3px;background:#243447;opacity:.35}
.graph{overflow:auto;max-height:85vh;border:1px solid #eee;background:#fff}.graph.fit svg{max-width:100%;height:auto}
.tools{display:flex;gap:8px;align-items:center;margin-bottom:6px}.tools input{flex:1;padding:3px 6px}
g.node.hit polygon,g.node.hit path{stroke:#000;stroke-width:4}
g.edge.cut:hover path{stroke-width:4}
.tip{position:fixed;pointer-events:none;background:#222;color:#fff;padding:6px 9px;border-radius:4px;font-size:12px;
max-width:420px;z-index:9;box-shadow:0 2px 8px #0005;white-space:pre-line}
"""

_SCRIPT = """
(function(){
  const data = JSON.parse(document.getElementById('nnpart-data').textContent);
  const tip = document.getElementById('tip');
  const unit = data.unit;
  function opLine(i){const o=data.ops[i];return '#'+i+' '+o[0]+'\\n   '+o[1]+', '+o[2]+' '+unit+', '+data.parts[o[3]].label;}
  function show(e,text){tip.textContent=text;tip.hidden=false;tip.style.left=(e.clientX+14)+'px';tip.style.top=(e.clientY+14)+'px';}
  function hide(){tip.hidden=true;}
  document.querySelectorAll('#graph g.node').forEach(function(g){
    const ops=data.boxes[g.id]; if(!ops) return;
    g.dataset.ops=ops.join(','); g.dataset.part=String(data.ops[ops[0]][3]);
    const text=ops.length===1?opLine(ops[0]):ops.length+' ops\\n'+ops.slice(0,12).map(opLine).join('\\n')+(ops.length>12?'\\n…':'');
    g.addEventListener('mousemove',function(e){show(e,text);}); g.addEventListener('mouseleave',hide);
  });
  document.querySelectorAll('#graph g.edge.cut').forEach(function(g){
    const tensors=data.cuts[g.id]; if(!tensors) return;
    g.dataset.tensors=String(tensors.length);
    const text='cut edge '+g.id.slice(1).replace('_',' -> ')+'\\n'+tensors.map(function(t){return t[0]+': '+t[1]+' B';}).join('\\n');
    g.addEventListener('mousemove',function(e){show(e,text);}); g.addEventListener('mouseleave',hide);
  });
  const box=document.getElementById('graph');
  document.getElementById('fit').addEventListener('click',function(){box.classList.toggle('fit');});
  document.getElementById('find').addEventListener('change',function(e){
    const q=e.target.value.trim().toLowerCase(); document.querySelectorAll('g.node.hit').forEach(function(g){g.classList.remove('hit');});
    if(!q) return;
    const hit=[...document.querySelectorAll('#graph g.node[data-ops]')].find(function(g){
      return g.dataset.ops.split(',').some(function(i){return i===q||data.ops[+i][0].toLowerCase().includes(q);});});
    if(hit){hit.classList.add('hit');hit.scrollIntoView({block:'center',inline:'center'});}
  });
  document.body.dataset.ready='1';
})();
"""

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="generator" content="nnpart">
<title>{title}</title><style>{style}</style></head>
<body>
<header><h1>{heading}</h1><p>{subtitle}</p></header>
<main>
<div class="cards">
<section><h2>Summary</h2><table class="facts">{facts}</table></section>
<section><h2>Parts</h2>{parts}</section>
<section><h2>Against the bound</h2>{comparison}</section>
<section class="wide"><h2>Session graph</h2><div class="session">{session}</div></section>
</div>
<section><h2>Op graph</h2><div class="legend">{legend} <span class="key"><i style="background:#c0392b"></i>{cut_count} cut edges (tensor, bytes)</span></div>
<div class="tools"><input id="find" placeholder="find an op by index or name, then Enter"><button id="fit">fit width / actual size</button></div>
<div id="graph" class="graph fit">{graph}</div></section>
<section><h2>Notes</h2><ul>{notes}</ul></section>
</main>
<div id="tip" class="tip" hidden></div>
<script id="nnpart-data" type="application/json">{data}</script>
<script>{script}</script>
</body></html>
"""
