// YardFleet fleet console: draws the yard once, then every snapshot from the /ws feed.
"use strict";
(() => {
  const NS = "http://www.w3.org/2000/svg";
  const STATES = ["idle", "to_pickup", "laden", "queued", "held", "refuelling", "lost",
    "broken", "no_fix"];
  const STATE_TEXT = { idle: "idle", to_pickup: "to pickup", laden: "laden", queued: "queued",
    held: "held", refuelling: "refuelling", lost: "lost", broken: "broken down",
    no_fix: "no GNSS fix" };
  const TZ = "Asia/Ho_Chi_Minh";
  const clockFmt = new Intl.DateTimeFormat("en-GB", { timeZone: TZ, hour: "2-digit",
    minute: "2-digit", second: "2-digit", hour12: false });
  const $ = (id) => document.getElementById(id);
  const ui = { csrf: null, role: null, operator: null, yard: null, snap: null,
    lanes: {}, selectedLane: null, selectedTruck: null, trucks: {}, view: null,
    lastFeed: 0, ws: null };

  function el(tag, attrs, parent) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (parent) parent.appendChild(e);
    return e;
  }
  const pts = (points) => points.map(([x, y]) => `${x},${-y}`).join(" ");
  const cssVar = (name) => getComputedStyle(document.documentElement).getPropertyValue(name);

  async function api(path, options) {
    const opts = Object.assign({ credentials: "same-origin", headers: {} }, options || {});
    if (opts.method === "POST") {
      opts.headers["Content-Type"] = "application/json";
      if (ui.csrf) opts.headers["X-CSRF-Token"] = ui.csrf;
    }
    const res = await fetch(path, opts);
    let body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    return { status: res.status, body };
  }

  // -- sign-in ------------------------------------------------------------------------
  function signedIn(who) {
    ui.csrf = who.csrf; ui.role = who.role; ui.operator = who.operator;
    $("who").textContent = `${who.operator} · ${who.role}`;
    $("sign-out").hidden = false;
    $("login").hidden = true;
    document.body.classList.toggle("viewer", who.role !== "dispatcher");
  }

  async function start() {
    const s = await api("/api/session");
    if (s.status === 200) { signedIn(s.body); return load(); }
    const y = await api("/api/yard");
    if (y.status === 200) {
      $("who").textContent = "watch only (no operators file)";
      document.body.classList.add("watch");
      return load(y.body);
    }
    $("login").hidden = false;
    $("login-name").focus();
  }

  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const r = await api("/api/login", { method: "POST", body: JSON.stringify({
      name: $("login-name").value, password: $("login-password").value }) });
    if (r.status !== 200) {
      $("login-error").textContent = (r.body && r.body.detail) || "sign-in failed";
      return;
    }
    $("login-password").value = "";
    signedIn(r.body);
    load();
  });
  $("sign-out").addEventListener("click", async () => {
    await api("/api/logout", { method: "POST", body: "{}" });
    location.reload();
  });

  // -- the map ------------------------------------------------------------------------
  async function load(yard) {
    if (!yard) yard = (await api("/api/yard")).body;
    ui.yard = yard;
    $("yard-id").textContent = `Yard ${yard.id} v${yard.version}`;
    drawYard(yard);
    legend();
    connect();
  }

  function drawYard(yard) {
    const [x0, y0, x1, y1] = yard.bounds;
    const pad = 12;
    ui.view = { x: x0 - pad, y: -y1 - pad, w: x1 - x0 + 2 * pad, h: y1 - y0 + 2 * pad };
    ui.home = Object.assign({}, ui.view);
    setView();
    const areas = $("layer-areas"), labels = $("layer-labels");
    for (const a of yard.areas) {
      el("polygon", { points: pts(a.ring), class: `area ${a.kind}` }, areas);
      const xs = a.ring.map((p) => p[0]), ys = a.ring.map((p) => p[1]);
      const cx = (Math.min(...xs) + Math.max(...xs)) / 2, cy = (Math.min(...ys) + Math.max(...ys)) / 2;
      const t = el("text", { x: cx, y: -cy, class: `label ${a.kind === "block" ? "block" : "area"}` }, labels);
      t.textContent = a.kind === "block" ? a.id : a.name;
    }
    for (const j of yard.junctions) el("polygon", { points: pts(j.ring), class: "junction" }, $("layer-junctions"));
    for (const lane of yard.lanes) {
      const through = ["main", "block", "apron"].includes(lane.kind);
      el("polyline", { points: pts(lane.points), class: `lane ${lane.kind}${through ? " through" : ""}` }, $("layer-lanes"));
      const hit = el("polyline", { points: pts(lane.points), class: "hit", "data-lane": lane.id }, $("layer-hits"));
      hit.addEventListener("click", (ev) => { if (!ui.dragged) { ev.stopPropagation(); selectLane(lane.id); } });
      ui.lanes[lane.id] = lane;
    }
    for (const c of yard.quay_cranes) {
      const g = el("g", { class: "crane", transform: `translate(${c.x},${-c.y})` }, $("layer-cranes"));
      el("rect", { x: -9, y: -4, width: 18, height: 8 }, g);
      const t = el("text", { x: 0, y: -7 }, g);
      t.textContent = c.id;
    }
  }

  function setView() {
    const v = ui.view;
    $("map").setAttribute("viewBox", `${v.x} ${v.y} ${v.w} ${v.h}`);
  }

  function legend() {
    const box = $("legend");
    box.innerHTML = "";
    for (const s of STATES) {
      const d = document.createElement("div");
      d.innerHTML = `<i style="background:var(--${s})"></i>${STATE_TEXT[s]}`;
      box.appendChild(d);
    }
  }

  // pan (drag) and zoom (wheel); a drag is not a click
  (() => {
    const svg = $("map");
    let down = null;
    svg.addEventListener("mousedown", (ev) => { down = { x: ev.clientX, y: ev.clientY, v: Object.assign({}, ui.view) }; ui.dragged = false; });
    window.addEventListener("mousemove", (ev) => {
      if (!down || !ui.view) return;
      const dx = ev.clientX - down.x, dy = ev.clientY - down.y;
      if (Math.abs(dx) + Math.abs(dy) > 4) ui.dragged = true;
      if (!ui.dragged) return;
      const k = ui.view.w / svg.clientWidth;
      ui.view.x = down.v.x - dx * k; ui.view.y = down.v.y - dy * k;
      setView();
    });
    window.addEventListener("mouseup", () => { down = null; });
    svg.addEventListener("wheel", (ev) => {
      if (!ui.view) return;
      ev.preventDefault();
      const f = ev.deltaY > 0 ? 1.15 : 1 / 1.15;
      const r = svg.getBoundingClientRect();
      const px = (ev.clientX - r.left) / r.width, py = (ev.clientY - r.top) / r.height;
      const v = ui.view;
      const nw = v.w * f, nh = v.h * f;
      ui.view = { x: v.x + (v.w - nw) * px, y: v.y + (v.h - nh) * py, w: nw, h: nh };
      setView();
    }, { passive: false });
    svg.addEventListener("dblclick", () => { ui.view = Object.assign({}, ui.home); setView(); });
  })();

  // -- selection and actions ------------------------------------------------------------
  function selectLane(id) {
    ui.selectedLane = id; ui.selectedTruck = null;
    for (const h of document.querySelectorAll(".hit.selected")) h.classList.remove("selected");
    const hit = document.querySelector(`.hit[data-lane="${CSS.escape(id)}"]`);
    if (hit) hit.classList.add("selected");
    $("selection").hidden = false;
    $("action-result").textContent = "";
    $("action-result").className = "";
    renderSelection();
  }

  function selectTruck(id) {
    ui.selectedTruck = id; ui.selectedLane = null;
    for (const h of document.querySelectorAll(".hit.selected")) h.classList.remove("selected");
    $("selection").hidden = false;
    $("action-result").textContent = "";
    renderSelection();
    if (ui.snap) render(ui.snap);
  }

  function renderSelection() {
    const closed = (ui.snap && ui.snap.closed_lanes) || {};
    if (ui.selectedLane) {
      const lane = ui.lanes[ui.selectedLane];
      const isClosed = lane.id in closed;
      $("sel-title").textContent = `Lane ${lane.id}`;
      $("sel-body").textContent = `${lane.kind} · ${lane.length_m} m · ${lane.speed_limit_kmh} km/h · ${lane.start} → ${lane.end}` +
        (isClosed ? ` · CLOSED: ${closed[lane.id]}` : " · open");
      $("lane-actions").hidden = ui.role !== "dispatcher";
      $("truck-actions").hidden = true;
      $("close-lane").hidden = isClosed;
      $("open-lane").hidden = !isClosed;
    } else if (ui.selectedTruck && ui.snap) {
      const t = ui.snap.trucks.find((x) => x.id === ui.selectedTruck);
      $("lane-actions").hidden = true;
      if (!t) return;
      $("truck-actions").hidden = ui.role !== "dispatcher";
      $("pause-truck").hidden = t.operator_pause;
      $("resume-truck").hidden = !t.operator_pause;
      $("sel-title").textContent = `Truck ${t.id} (${t.mode})`;
      $("sel-body").textContent = `${STATE_TEXT[t.state]} · phase ${t.phase} · job ${t.job || "–"} · ` +
        `${Math.round(t.fuel * 100)} % fuel · ${t.speed_kmh} km/h · goal ${t.goal || "–"}` +
        (t.route ? ` · route ${t.route.lanes.length} lanes, ${t.route.released} released` : "");
    }
  }

  async function act(kind, args, out) {
    out.textContent = "…"; out.className = "";
    const r = await api(`/api/actions/${kind}`, { method: "POST", body: JSON.stringify(args) });
    const text = (r.body && (r.body.text || r.body.detail)) || `error ${r.status}`;
    out.textContent = r.status === 200 ? `✓ ${text}` : `✗ refused: ${text}`;
    out.className = r.status === 200 ? "result-ok" : "result-refused";
    return r;
  }

  $("close-lane").addEventListener("click", () => act("close_lane",
    { lane: ui.selectedLane, reason: $("lane-reason").value || "closed from the console" }, $("action-result")));
  $("open-lane").addEventListener("click", () => act("open_lane",
    { lane: ui.selectedLane, reason: $("lane-reason").value || "reopened from the console" }, $("action-result")));
  $("pause-truck").addEventListener("click", () => act("pause_truck", { truck: ui.selectedTruck }, $("action-result")));
  $("resume-truck").addEventListener("click", () => act("resume_truck", { truck: ui.selectedTruck }, $("action-result")));
  $("stop-all").addEventListener("click", () => { showResult(); act("stop_all", {}, $("action-result")); });
  $("release-all").addEventListener("click", () => { showResult(); act("release_all", {}, $("action-result")); });
  function showResult() {
    $("selection").hidden = false;
    $("sel-title").textContent = "Whole fleet";
    $("sel-body").textContent = "each truck's acknowledgement shows in the fleet table (✓)";
    $("lane-actions").hidden = true; $("truck-actions").hidden = true;
    ui.selectedLane = null; ui.selectedTruck = null;
  }
  $("add-job").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const job = {};
    for (const [k, v] of new FormData(ev.target).entries()) if (String(v).trim()) job[k] = String(v).trim();
    act("add_job", { job }, $("job-result"));
  });

  // -- the feed -------------------------------------------------------------------------
  function connect() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${proto}://${location.host}/ws`);
    ui.ws = ws;
    ws.onmessage = (ev) => { ui.lastFeed = Date.now(); render(JSON.parse(ev.data)); };
    ws.onclose = () => setTimeout(connect, 1000);
  }
  setInterval(() => {
    const live = Date.now() - ui.lastFeed < 3000;
    $("feed").textContent = live ? "live" : "feed down";
    $("feed").className = `feed ${live ? "live" : "down"}`;
  }, 500);

  function render(snap) {
    ui.snap = snap;
    window.__snap = snap;  // for the browser test and the curious
    $("clock").textContent = clockFmt.format(new Date(snap.at));
    $("moves").textContent = snap.moves;
    $("strategy").textContent = snap.strategy;
    drawTrucks(snap.trucks);
    drawClosed(snap.closed_lanes);
    drawRoute(snap.trucks.find((t) => t.id === ui.selectedTruck));
    fleetTable(snap.trucks);
    queues(snap.queues, snap.cranes);
    alarms(snap.alarms || []);
    if (!$("selection").hidden) renderSelection();
  }

  function truckShape(g) {
    // a tractor with its chassis, 16 m long, drawn 7 m wide so it reads on the yard
    el("path", { d: "M8,0 L3,-3.5 L-8,-3.5 L-8,3.5 L3,3.5 Z" }, g);
  }

  function drawTrucks(trucks) {
    const layer = $("layer-trucks");
    const seen = new Set();
    for (const t of trucks) {
      seen.add(t.id);
      let rec = ui.trucks[t.id];
      if (!rec) {
        const g = el("g", { class: "truck", "data-truck": t.id }, layer);
        const body = el("g", {}, g);
        truckShape(body);
        const label = el("text", { x: 0, y: -7, "text-anchor": "middle" }, g);
        label.textContent = t.id;
        g.addEventListener("click", (ev) => { ev.stopPropagation(); selectTruck(t.id); });
        rec = ui.trucks[t.id] = { g, body, label };
      }
      const deg = t.heading == null ? 0 : -t.heading * 180 / Math.PI;
      rec.g.setAttribute("transform", `translate(${t.x},${-t.y})`);
      rec.g.setAttribute("data-x", t.x); rec.g.setAttribute("data-y", t.y);
      rec.g.setAttribute("data-state", t.state);
      rec.body.setAttribute("transform", `rotate(${deg})`);
      rec.body.firstChild.setAttribute("fill", cssVar(`--${t.state}`));
      rec.g.classList.toggle("selected", t.id === ui.selectedTruck);
      rec.g.classList.toggle("stale", t.stale);
    }
    for (const id of Object.keys(ui.trucks)) if (!seen.has(id)) { ui.trucks[id].g.remove(); delete ui.trucks[id]; }
  }

  function drawRoute(t) {
    // the selected truck's order: its base (released) solid, its horizon dashed
    const layer = $("layer-route");
    const route = t && t.route;
    const key = route ? `${t.id}:${route.released}:${route.lanes.join(",")}` : "";
    if (layer.dataset.key === key) return;
    layer.dataset.key = key;
    layer.replaceChildren();
    if (!route) return;
    route.lanes.forEach((id, k) => {
      if (!ui.lanes[id]) return;
      el("polyline", { points: pts(ui.lanes[id].points), "data-lane": id,
        class: k < route.released ? "route-base" : "route-horizon" }, layer);
    });
  }

  function drawClosed(closed) {
    const layer = $("layer-closed");
    const want = new Set(Object.keys(closed));
    for (const p of [...layer.children]) if (!want.has(p.dataset.lane)) p.remove();
    const have = new Set([...layer.children].map((p) => p.dataset.lane));
    for (const id of want) {
      if (have.has(id) || !ui.lanes[id]) continue;
      const p = el("polyline", { points: pts(ui.lanes[id].points), class: "closed-lane", "data-lane": id }, layer);
      const title = el("title", {}, p);
      title.textContent = `${id} closed: ${closed[id]}`;
    }
  }

  function cell(tr, html, cls) {
    const td = document.createElement("td");
    td.innerHTML = html;
    if (cls) td.className = cls;
    tr.appendChild(td);
  }
  const esc = (s) => String(s == null ? "–" : s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));

  function fleetTable(trucks) {
    const body = document.querySelector("#fleet tbody");
    const rows = document.createDocumentFragment();
    for (const t of trucks) {
      const tr = document.createElement("tr");
      tr.dataset.truck = t.id;
      if (t.id === ui.selectedTruck) tr.className = "selected";
      tr.addEventListener("click", () => selectTruck(t.id));
      cell(tr, `<b>${esc(t.id)}</b>`);
      cell(tr, `<span class="mode ${t.mode}">${t.mode === "autonomous" ? "AUTO" : "MANUAL"}</span>`);
      const pill = t.operator_pause ? `paused ${t.says_paused ? "✓" : "…"}` : STATE_TEXT[t.state];
      cell(tr, `<span class="pill" style="background:var(--${t.operator_pause ? "held" : t.state})">${pill}</span>`);
      cell(tr, esc(t.job));
      const pct = Math.max(0, Math.min(100, Math.round(t.fuel * 100)));
      cell(tr, `<span class="fuel${t.low_fuel ? " low" : ""}"><i style="width:${pct}%"></i></span><span class="fuel-l">${pct} %</span>`);
      cell(tr, `${t.heard_s.toFixed(0)} s ago`, t.stale ? "stale" : "");
      cell(tr, t.speed_kmh.toFixed(1));
      cell(tr, t.link === "connected" ? "connected" : "lost", t.link === "connected" ? "" : "link-lost");
      rows.appendChild(tr);
    }
    body.replaceChildren(rows);
    $("fleet-count").textContent = trucks.length;
  }

  function queues(qs, cranes) {
    const box = $("queues");
    const rate = {};
    for (const c of cranes) rate[c.id] = c;
    const frag = document.createDocumentFragment();
    for (const [crane, q] of Object.entries(qs)) {
      const div = document.createElement("div");
      div.className = "qc";
      div.dataset.crane = crane;
      const c = rate[crane] || {};
      const r = c.rate == null ? "–" : c.rate.toFixed(1);
      const below = c.rate != null && c.rate < c.target;
      let html = `<h3><span>${esc(crane)} · ${q.open} open</span><span class="rate${below ? " below" : ""}">${r}/h of ${c.target || 30} · ${c.moves || 0} moves</span></h3><ol>`;
      for (const j of q.jobs) {
        html += `<li class="${j.late ? "late" : ""}" data-job="${esc(j.job)}"><span>${esc(j.seq)}</span><span class="kind" title="${esc(j.type)}">${esc(j.type[0])}</span>` +
          `<span>${esc(j.box)}</span><span class="stage">${esc(j.stage)}</span><span>${esc(j.truck)}</span></li>`;
      }
      html += "</ol>";
      if (q.open > q.jobs.length) html += `<div class="more">+ ${q.open - q.jobs.length} more</div>`;
      div.innerHTML = html;
      frag.appendChild(div);
    }
    box.replaceChildren(frag);
  }

  function alarms(list) {
    const ul = $("alarms");
    const frag = document.createDocumentFragment();
    for (const a of list) {
      const li = document.createElement("li");
      li.className = `${a.tier}${a.acked_by ? " acked" : ""}`;
      li.dataset.alarm = a.id;
      const when = clockFmt.format(new Date(a.raised_at));
      li.innerHTML = `<span class="tier">${esc(a.tier)}</span><span class="text">${esc(a.text)}</span><span class="when">${when}</span>`;
      if (a.acked_by) {
        const s = document.createElement("span");
        s.className = "acked-by";
        s.textContent = `ack ${a.acked_by} ${clockFmt.format(new Date(a.acked_at))}`;
        li.appendChild(s);
      } else if (ui.role === "dispatcher") {
        const b = document.createElement("button");
        b.textContent = "Ack";
        b.className = "ack";
        b.addEventListener("click", () => act("ack_alarm", { alarm: a.id }, $("action-result")));
        li.appendChild(b);
      }
      frag.appendChild(li);
    }
    ul.replaceChildren(frag);
    $("alarm-count").textContent = list.filter((a) => !a.acked_by).length;
  }

  start();
})();
