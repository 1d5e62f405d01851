"""A table of any length in a self-contained HTML report: every row travels as inline JSON, a small inline script
shows one page at a time with a filter box (no CDN, no network; cells are set with ``textContent``, never parsed
as HTML). Without scripts the first page is still there, rendered on the server, with a note pointing to the CSV.
"""

from __future__ import annotations

import html
import json

PAGE_SIZE = 50

# One copy per document (``PAGER_SCRIPT`` goes once before ``</body>``), driving every ``.paged`` block.
PAGER_SCRIPT = """<script>
(function(){
  document.querySelectorAll('.paged').forEach(function(box){
    var rows=JSON.parse(box.querySelector('script[type="application/json"]').textContent);
    var size=parseInt(box.dataset.pageSize,10), page=0, shown=rows;
    var body=box.querySelector('tbody'), pos=box.querySelector('.pager-pos'), filter=box.querySelector('input');
    function draw(){
      var pages=Math.max(1,Math.ceil(shown.length/size)); page=Math.min(Math.max(page,0),pages-1);
      body.textContent='';
      shown.slice(page*size,(page+1)*size).forEach(function(row){
        var tr=document.createElement('tr');
        row.forEach(function(cell){var td=document.createElement('td');td.textContent=cell;tr.appendChild(td);});
        body.appendChild(tr);
      });
      pos.textContent='page '+(page+1)+' of '+pages+' ('+shown.length+' rows)';
    }
    box.querySelector('.nojs').hidden=true; box.querySelector('.pager').hidden=false;
    box.querySelectorAll('button').forEach(function(b){b.addEventListener('click',function(){
      var act=b.dataset.act; page=act==='first'?0:act==='prev'?page-1:act==='next'?page+1:1e9; draw();});});
    filter.addEventListener('input',function(){
      var q=filter.value.toLowerCase(); page=0;
      shown=q?rows.filter(function(r){return r.join(' ').toLowerCase().indexOf(q)>=0;}):rows; draw();
    });
    draw();
  });
})();
</script>"""

PAGER_CSS = ".pager{margin:6px 0;font-size:12px}.pager button{font-size:12px}.pager input{margin-left:12px}"


def _json_for_script(rows: list[list[str]]) -> str:
    # "<" escaped: no "</script>" (or "<!--") inside the data can end the element early
    return json.dumps(rows, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def paged_table(
    table_id: str, headers: list[str], rows: list[list[str]], *, csv_name: str, page_size: int = PAGE_SIZE
) -> str:
    """A ``.paged`` block: the rows (plain text cells) as JSON, the first page pre-rendered, the pager controls."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    first = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows[:page_size]
    )
    more = (
        f"The first {page_size} of {len(rows)} rows; {html.escape(csv_name)} holds all of them."
        if len(rows) > page_size
        else f"{len(rows)} rows."
    )
    return (
        f'<div class="paged" id="{html.escape(table_id)}" data-page-size="{page_size}">'
        f'<script type="application/json">{_json_for_script(rows)}</script>'
        f'<p class="muted nojs">{more}</p>'
        '<div class="pager" hidden><button data-act="first">« First</button> <button data-act="prev">‹ Prev</button> '
        '<span class="pager-pos"></span> <button data-act="next">Next ›</button> '
        '<button data-act="last">Last »</button>'
        '<input type="search" placeholder="filter rows" aria-label="filter rows"></div>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{first}</tbody></table></div>"
    )
