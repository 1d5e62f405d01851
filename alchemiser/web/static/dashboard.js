// alchemiser dashboard: live updates over Server-Sent Events and countdowns. No framework, no external code.
// Rows are built with DOM APIs and textContent only (never innerHTML), so event text cannot inject markup.
"use strict";

(function () {
  const MAX_ROWS = 200;

  function formatDuration(seconds) {
    if (seconds < 10) return seconds.toFixed(1) + "s";
    let s = Math.floor(seconds);
    if (s < 60) return s + "s";
    let m = Math.floor(s / 60); s %= 60;
    if (m < 60) return m + "m " + String(s).padStart(2, "0") + "s";
    let h = Math.floor(m / 60); m %= 60;
    if (h < 24) return h + "h " + String(m).padStart(2, "0") + "m";
    const d = Math.floor(h / 24); h %= 24;
    return d + "d " + String(h).padStart(2, "0") + "h";
  }

  // Countdowns count on the daemon's clock: the page carries the server's "now", we advance it by wall time
  // (in sim the daemon's clock may run faster; the next page load or status event corrects it).
  function startCountdowns() {
    const items = Array.from(document.querySelectorAll("[data-countdown]"));
    if (!items.length) return;
    const loadedAt = Date.now();
    function tick() {
      for (const el of items) {
        const target = Date.parse(el.dataset.countdown);
        const serverNow = Date.parse(el.dataset.now || "") || loadedAt;
        const now = serverNow + (Date.now() - loadedAt);
        const left = (target - now) / 1000;
        el.textContent = left >= 0 ? "in " + formatDuration(left) : formatDuration(-left) + " ago";
      }
    }
    tick();
    setInterval(tick, 1000);
  }

  function cell(tag, label, text, href) {
    const td = document.createElement(tag);
    td.dataset.label = label;
    if (href) {
      const a = document.createElement("a");
      a.href = href;
      a.textContent = text;
      td.appendChild(a);
    } else {
      td.textContent = text;
    }
    return td;
  }

  function prepend(tbody, row) {
    row.classList.add("fresh");
    tbody.insertBefore(row, tbody.firstChild);
    while (tbody.rows.length > MAX_ROWS) tbody.deleteRow(tbody.rows.length - 1);
  }

  function localTime(iso) {
    const date = new Date(iso);
    return isNaN(date) ? iso : date.toLocaleString();
  }

  function onAudit(event) {
    const tail = document.getElementById("event-tail");
    if (tail && (!tail.dataset.category || tail.dataset.category === event.category)) {
      const row = document.createElement("tr");
      row.className = "cat-" + event.category;
      row.appendChild(cell("td", "Time", localTime(event.at)));
      const cat = cell("td", "Category", "");
      const pill = document.createElement("span");
      pill.className = "pill cat";
      pill.textContent = event.category;
      cat.appendChild(pill);
      row.appendChild(cat);
      row.appendChild(cell("td", "Event", event.kind));
      row.appendChild(cell("td", "Summary", event.summary));
      row.appendChild(cell("td", "By", event.actor));
      prepend(tail.tBodies[0], row);
    }
    const fills = document.getElementById("live-fills");
    if (fills && event.category === "fill") {
      const row = document.createElement("tr");
      row.appendChild(cell("td", "Time", localTime(event.at)));
      row.appendChild(cell("th", "Fill", event.summary));
      const decision = event.decision_id || "";
      row.appendChild(cell("td", "Decision", decision, decision ? "/decisions/" + encodeURIComponent(decision) : null));
      prepend(fills.tBodies[0], row);
      const empty = document.getElementById("live-fills-empty");
      if (empty) empty.hidden = true;
    }
  }

  function onStatus(status) {
    const kill = status.kill_switch || {};
    const pill = document.getElementById("kill-state");
    if (pill) {
      pill.textContent = kill.engaged ? "Kill switch engaged" : "Trading enabled";
      pill.className = "pill " + (kill.engaged ? "bad" : "ok");
    }
    document.body.classList.toggle("killed", Boolean(kill.engaged));
    const plan = document.getElementById("plan-pending");
    if (plan) plan.hidden = !status.awaiting_approval;
  }

  function connect() {
    if (document.body.dataset.stream !== "on" || !window.EventSource) return;
    const source = new EventSource("/events/stream");
    source.addEventListener("audit", (e) => onAudit(JSON.parse(e.data)));
    source.addEventListener("status", (e) => onStatus(JSON.parse(e.data)));
    source.addEventListener("open", () => document.body.classList.add("live-connected"));
    source.addEventListener("error", () => document.body.classList.remove("live-connected"));
  }

  document.addEventListener("DOMContentLoaded", () => {
    startCountdowns();
    connect();
  });
})();
