"""The HTML report's one stylesheet, and the Content-Security-Policy that admits only it.

The palette is a set of CSS variables with a dark variant under `prefers-color-scheme: dark`;
every text colour keeps a contrast of at least 4.5:1 against its background in both (the browser
test computes it). Below 640 px the tables reflow into one labelled block per row (each cell
carries its column name in `data-label`), and the wide plots give way to narrow ones drawn for
that width, so nothing overflows a phone screen and nothing is scaled down to unreadable text.
"""

from __future__ import annotations

import base64
import hashlib

CSS = """
:root{--bg:#ffffff;--fg:#1f2328;--muted:#57606a;--line:#d0d7de;--panel:#f6f8fa;
--accent:#0969da;--good:#1a7f37;--warn:#9a6700;--bad:#cf222e;--grid:#e4e8ec;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;
--line:#3d444d;--panel:#151b23;--accent:#4493f8;--good:#3fb950;--warn:#d29922;--bad:#f85149;
--grid:#262c36}}
*{box-sizing:border-box}
html{background:var(--bg);color:var(--fg)}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;
max-width:1200px;padding:1.5rem 1.25rem;background:var(--bg);color:var(--fg)}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.15rem;margin:2rem 0 .6rem}
p.meta{color:var(--muted);margin:0 0 1rem;overflow-wrap:anywhere}
code{font:.85em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;margin:.25rem 0}
th,td{border-bottom:1px solid var(--line);padding:.35rem .5rem;text-align:left;
vertical-align:top;overflow-wrap:break-word}
.wrap{overflow-wrap:anywhere}.nw{white-space:nowrap}
th{font-weight:600;color:var(--muted);font-size:.85rem}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
td.n span{white-space:nowrap}
.kv th{width:14rem}.kv td{overflow-wrap:anywhere}
.valid,.good{color:var(--good)}.unknown,.warn{color:var(--warn)}.bad{color:var(--bad)}
.muted,.note{color:var(--muted)}.note{font-size:.85rem}
.tag{font-weight:600}
.verdicts{list-style:none;padding:0;margin:0;display:grid;gap:.6rem;
grid-template-columns:minmax(0,1fr)}
.verdicts li{border:1px solid var(--line);border-left-width:6px;border-radius:6px;
padding:.6rem .8rem;background:var(--panel)}
.verdicts li.v-regressed{border-left-color:var(--bad)}
.verdicts li.v-improved{border-left-color:var(--good)}
.verdicts li.v-none{border-left-color:var(--line)}
.badge{display:inline-block;white-space:nowrap;font-weight:700;text-transform:uppercase;font-size:.8rem;
letter-spacing:.04em;padding:.05rem .45rem;border-radius:4px;border:1px solid currentColor}
.figures{margin:.3rem 0 0;display:flex;flex-wrap:wrap;gap:.2rem 1.5rem}
.figures span{white-space:nowrap}
figure{margin:0 0 1rem}figcaption{color:var(--muted);font-size:.85rem}
svg.plot{display:block;width:100%;height:auto;background:var(--panel);
border:1px solid var(--line);border-radius:6px}
svg.narrow{display:none}
svg text{fill:var(--fg);font:13px system-ui,sans-serif}
svg text.tick,svg text.axis-title{fill:var(--muted)}
svg .grid{stroke:var(--grid);stroke-width:1}
svg .axis{stroke:var(--muted);stroke-width:1}
svg .series{stroke:var(--accent)}svg .point{fill:var(--accent)}
svg .trust-valid{stroke:var(--good);fill:var(--good)}
svg .trust-unknown{stroke:var(--warn);fill:var(--warn)}
svg .trust-bad{stroke:var(--bad);fill:var(--bad)}
svg line.digest-change{stroke-width:2}
svg text.marker-label{font:600 11px system-ui,sans-serif;stroke:none}
@media (min-width:641px){#provenance-table td:nth-child(4),#changes-table td:nth-child(3)
{min-width:14rem}}
@media (max-width:640px){
body{padding:1rem .75rem}
svg.wide{display:none}svg.narrow{display:block}
table.reflow thead{display:none}
.figures span{white-space:normal}
table.reflow,table.reflow tbody,table.reflow tr,table.reflow td{display:block;width:100%}
table.reflow tr{border:1px solid var(--line);border-radius:6px;margin:0 0 .6rem;
padding:.3rem .5rem}
table.reflow td{border:0;padding:.15rem 0;text-align:left;white-space:normal;display:grid;
grid-template-columns:minmax(6.5rem,38%) 1fr;gap:.5rem}
table.reflow td::before{content:attr(data-label);color:var(--muted);font-size:.85rem}
.kv th{width:auto}
table.reflow caption{display:block;text-align:left}
}
"""


def csp() -> str:
    """`default-src 'none'` plus the hash of exactly this stylesheet: no script, no network
    request, no other style can run or load when the report is opened."""
    digest = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
    return (f"default-src 'none'; style-src 'sha256-{digest}'; img-src 'none'; "
            "base-uri 'none'; form-action 'none'")
