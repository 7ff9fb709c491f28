// Telemetra's dashboard: the channel list and one channel's charts. History comes from the
// metrics and moments endpoints for the chosen range; live updates from the Server-Sent Events
// stream (/v1/events:sse), which the browser reconnects on its own. No polling.
import * as d3 from "d3";

const W = 600, H = 190, M = { top: 10, right: 14, bottom: 28, left: 52 };
const KIND_COLORS = { chat_spike: "#5b2bd6", viewer_spike: "#0a7d32", viewer_drop: "#b3261e", hype: "#9a4a00", raid: "#00639a" };

const state = {
  channels: new Map(), // id → {status}
  selected: null,
  series: new Map(), // window start (ms) → WindowMetrics
  moments: new Map(), // id → Moment
  status: null,
  rangeMinutes: 60,
  events: 0,
  listSource: null,
  channelSource: null,
};

const $ = (id) => document.getElementById(id);
const num = (v) => Number(v || 0);

async function api(path) {
  const r = await fetch(path);
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.message || r.statusText);
  return body;
}

// ---- connection state ----------------------------------------------------------------------

function setConnection(ok, text) {
  const el = $("connection");
  el.textContent = text;
  el.className = "connection " + (ok ? "ok" : "bad");
}

function openStream(params, handlers) {
  const src = new EventSource("/v1/events:sse?" + params);
  src.onopen = () => setConnection(true, "live");
  src.onerror = () => {
    if (src.readyState === EventSource.CLOSED) {
      setConnection(false, "disconnected — retrying…");
      setTimeout(() => handlers.reopen && handlers.reopen(), 2000);
    } else {
      setConnection(false, "reconnecting…");
    }
  };
  for (const [name, fn] of Object.entries(handlers)) {
    if (name === "reopen") continue;
    src.addEventListener(name, (e) => {
      const ev = JSON.parse(e.data);
      fn(ev);
    });
  }
  // the server ends a stream with an "error" event (e.g. too slow): start over with a snapshot
  src.addEventListener("error", (e) => {
    if (e.data) {
      src.close();
      setConnection(false, "stream ended — reconnecting…");
      setTimeout(() => handlers.reopen && handlers.reopen(), 1000);
    }
  });
  return src;
}

function countEvent() {
  state.events++;
  document.body.dataset.events = String(state.events);
  $("connection").textContent = "live · " + new Date().toLocaleTimeString();
}

// ---- channel list ----------------------------------------------------------------------------

function upsertChannel(id, status) {
  state.channels.set(id, { status: status || (state.channels.get(id) || {}).status || {} });
  renderChannels();
}

function renderChannels() {
  const ids = [...state.channels.keys()].sort();
  $("channels-empty").hidden = ids.length > 0;
  const ul = $("channels");
  const focused = document.activeElement && document.activeElement.dataset.channel;
  ul.replaceChildren(...ids.map((id) => {
    const st = state.channels.get(id).status || {};
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.channel = id;
    b.setAttribute("role", "option");
    b.setAttribute("aria-selected", String(id === state.selected));
    b.tabIndex = id === (state.selected || ids[0]) ? 0 : -1;
    b.innerHTML = `<span class="dot ${st.live ? "live" : ""}" aria-hidden="true"></span>`;
    b.append(id);
    const sub = document.createElement("span");
    sub.className = "sub";
    sub.textContent = st.live ? `live · ${st.category || ""}` : "offline";
    b.append(sub);
    b.onclick = () => selectChannel(id);
    li.append(b);
    return li;
  }));
  if (focused) {
    const again = ul.querySelector(`[data-channel="${focused}"]`);
    if (again) again.focus();
  }
}

// arrow keys move through the list, Enter/Space selects (buttons do that already)
$("channels").addEventListener("keydown", (e) => {
  const buttons = [...$("channels").querySelectorAll("button")];
  const i = buttons.indexOf(document.activeElement);
  if (i < 0) return;
  let next = i;
  if (e.key === "ArrowDown") next = Math.min(i + 1, buttons.length - 1);
  else if (e.key === "ArrowUp") next = Math.max(i - 1, 0);
  else if (e.key === "Home") next = 0;
  else if (e.key === "End") next = buttons.length - 1;
  else return;
  e.preventDefault();
  buttons.forEach((b, k) => (b.tabIndex = k === next ? 0 : -1));
  buttons[next].focus();
});

function watchList() {
  if (state.listSource) state.listSource.close();
  state.listSource = openStream("types=CHANNEL_EVENT_TYPE_STATUS&include_snapshot=true", {
    status: (ev) => {
      countEvent();
      upsertChannel(ev.channel, ev.status.status);
      if (ev.channel === state.selected) {
        state.status = ev.status.status;
        renderHeader();
      }
    },
    heartbeat: () => {},
    reopen: watchList,
  });
}

// ---- one channel -------------------------------------------------------------------------------

async function selectChannel(id) {
  state.selected = id;
  state.series.clear();
  state.moments.clear();
  state.status = (state.channels.get(id) || {}).status || null;
  renderChannels();
  renderHeader();
  const end = new Date(Date.now() + 60_000);
  const start = new Date(end - state.rangeMinutes * 60_000);
  const range = `start_time=${start.toISOString()}&end_time=${end.toISOString()}`;
  try {
    const [metrics, moments] = await Promise.all([
      api(`/v1/channels/${id}/metrics?include_provisional=true&page_size=5000&${range}`),
      api(`/v1/channels/${id}/moments?page_size=1000&${range}`),
    ]);
    if (state.selected !== id) return;
    for (const m of metrics.metrics || []) state.series.set(Date.parse(m.windowStart), m);
    for (const m of moments.moments || []) state.moments.set(m.id, m);
  } catch (err) {
    showNotice(`History unavailable: ${err.message}`);
  }
  render();
  watchChannel(id);
}

function watchChannel(id) {
  if (state.channelSource) state.channelSource.close();
  state.channelSource = openStream(`channels=${encodeURIComponent(id)}&include_snapshot=true`, {
    window: (ev) => {
      if (ev.channel !== state.selected) return;
      countEvent();
      const w = ev.window;
      const key = Date.parse(w.windowStart);
      const prev = state.series.get(key);
      if (!prev || (w.final && !prev.final) || (w.final === prev.final && num(w.version) >= num(prev.version))) {
        state.series.set(key, w);
      }
      render();
    },
    moment: (ev) => {
      if (ev.channel !== state.selected) return;
      countEvent();
      state.moments.set(ev.moment.id, ev.moment);
      render();
    },
    status: (ev) => {
      if (ev.channel !== state.selected) return;
      countEvent();
      state.status = ev.status.status;
      upsertChannel(ev.channel, ev.status.status);
      renderHeader();
    },
    heartbeat: () => {},
    reopen: () => state.selected === id && watchChannel(id),
  });
}

$("range").addEventListener("change", (e) => {
  state.rangeMinutes = Number(e.target.value);
  if (state.selected) selectChannel(state.selected);
});

function showNotice(text) {
  const el = $("channel-state");
  el.hidden = !text;
  el.textContent = text || "";
}

function renderHeader() {
  const st = state.status || {};
  $("channel-name").textContent = state.selected || "Pick a channel";
  const meta = $("channel-meta");
  meta.replaceChildren();
  if (!state.selected) return;
  const badge = document.createElement("span");
  badge.className = "badge " + (st.live ? "live" : "");
  badge.textContent = st.live ? "LIVE" : "OFFLINE";
  meta.append(badge, ` ${st.title || ""} ${st.category ? "· " + st.category : ""}`);
}

function render() {
  const data = [...state.series.values()].sort((a, b) => Date.parse(a.windowStart) - Date.parse(b.windowStart));
  const st = state.status || {};
  if (!data.length) showNotice("No data yet for this range: waiting for the channel's first events.");
  else if (!st.live) showNotice(`This channel is offline${st.endedAt ? " since " + new Date(st.endedAt).toLocaleTimeString() : ""}; showing its history.`);
  else showNotice("");
  renderStats(data);
  const x = timeScale(data);
  lineChart($("chart-viewers"), data, x, [
    { label: "viewers", color: "#5b2bd6", value: (d) => d.viewers ? d.viewers.avg || 0 : 0 },
    { label: "chatters", color: "#0a7d32", value: (d) => d.viewers ? d.viewers.chattersAvg || 0 : 0 },
  ], "people");
  barChart($("chart-chat"), data, x, (d) => num(d.chat && d.chat.messages), "messages / min", "#00639a");
  lineChart($("chart-sentiment"), data, x, [
    { label: "sentiment", color: "#9a4a00", value: (d) => (d.chat && d.chat.sentiment ? d.chat.sentiment.average || 0 : 0) },
  ], "score (−1 … 1)", [-1, 1]);
  barChart($("chart-revenue"), data, x, (d) => num(d.transactions && d.transactions.revenueCents) / 100, "USD / min", "#0a7d32");
  emotesChart($("chart-emotes"), data.length ? data[data.length - 1] : null);
  momentsChart($("chart-moments"), x, [...state.moments.values()]);
}

function renderStats(data) {
  const last = data[data.length - 1];
  const st = state.status || {};
  const items = [
    ["viewers", num(st.viewers).toLocaleString()],
    ["chatters", num(st.chatters).toLocaleString()],
    ["messages this minute", last ? num(last.chat && last.chat.messages).toLocaleString() : "–"],
    ["revenue in range", "$" + (data.reduce((s, d) => s + num(d.transactions && d.transactions.revenueCents), 0) / 100).toFixed(2)],
    ["moments in range", String(state.moments.size)],
  ];
  $("stats").replaceChildren(...items.map(([label, value]) => {
    const div = document.createElement("div");
    div.className = "stat";
    div.innerHTML = `<b></b><span></span>`;
    div.querySelector("b").textContent = value;
    div.querySelector("span").textContent = label;
    return div;
  }));
}

// ---- charts (D3) -------------------------------------------------------------------------------

function timeScale(data) {
  const end = data.length ? Date.parse(data[data.length - 1].windowEnd) : Date.now();
  const start = Math.min(data.length ? Date.parse(data[0].windowStart) : end, end - state.rangeMinutes * 60_000);
  return d3.scaleTime().domain([start, end]).range([M.left, W - M.right]);
}

function frame(svg, x, y, yLabel) {
  const s = d3.select(svg).attr("viewBox", `0 0 ${W} ${H}`);
  s.selectAll("*").remove();
  s.append("g").attr("class", "axis").attr("transform", `translate(0,${H - M.bottom})`)
    .call(d3.axisBottom(x).ticks(6).tickFormat(d3.timeFormat("%H:%M")));
  s.append("g").attr("class", "axis").attr("transform", `translate(${M.left},0)`).call(d3.axisLeft(y).ticks(5));
  s.append("text").attr("class", "axis-label").attr("transform", "rotate(-90)")
    .attr("x", -(H - M.bottom) / 2).attr("y", 12).attr("text-anchor", "middle").text(yLabel);
  s.append("text").attr("class", "axis-label").attr("x", W - M.right).attr("y", H - 2).attr("text-anchor", "end").text("time (local)");
  return s;
}

function emptyText(s, text) {
  s.append("text").attr("class", "empty-text").attr("x", W / 2).attr("y", H / 2).attr("text-anchor", "middle").text(text);
}

function lineChart(svg, data, x, series, yLabel, fixed) {
  const max = d3.max(data, (d) => d3.max(series, (s) => s.value(d))) || 1;
  const y = d3.scaleLinear().domain(fixed || [0, max * 1.1]).nice().range([H - M.bottom, M.top]);
  const s = frame(svg, x, y, yLabel);
  if (!data.length) return emptyText(s, "No data yet");
  for (const ser of series) {
    s.append("path").datum(data).attr("class", "line").attr("stroke", ser.color)
      .attr("d", d3.line().x((d) => x(Date.parse(d.windowStart))).y((d) => y(ser.value(d))));
    // points too: a line needs two windows, a new channel has one
    s.append("g").selectAll("circle").data(data).join("circle").attr("r", 2.5).attr("fill", ser.color)
      .attr("cx", (d) => x(Date.parse(d.windowStart))).attr("cy", (d) => y(ser.value(d)));
  }
  series.forEach((ser, k) => {
    s.append("text").attr("class", "axis-label").attr("x", M.left + 8 + k * 80).attr("y", M.top + 8).attr("fill", ser.color).text("— " + ser.label);
  });
}

function barChart(svg, data, x, value, yLabel, color) {
  const y = d3.scaleLinear().domain([0, (d3.max(data, value) || 1) * 1.1]).nice().range([H - M.bottom, M.top]);
  const s = frame(svg, x, y, yLabel);
  if (!data.length) return emptyText(s, "No data yet");
  s.append("g").selectAll("rect").data(data).join("rect").attr("class", "bar").attr("fill", color)
    .attr("opacity", (d) => (d.final ? 1 : 0.55))
    .attr("x", (d) => x(Date.parse(d.windowStart)))
    .attr("width", (d) => Math.max(1, x(Date.parse(d.windowEnd)) - x(Date.parse(d.windowStart)) - 1))
    .attr("y", (d) => y(value(d))).attr("height", (d) => H - M.bottom - y(value(d)))
    .append("title").text((d) => `${new Date(d.windowStart).toLocaleTimeString()}: ${value(d)} ${d.final ? "" : "(provisional)"}`);
}

function emotesChart(svg, window) {
  const emotes = (window && window.chat && window.chat.topEmotes) || [];
  const s = d3.select(svg).attr("viewBox", `0 0 ${W} ${H}`);
  s.selectAll("*").remove();
  if (!emotes.length) return emptyText(s, "No emotes in this minute yet");
  const y = d3.scaleBand().domain(emotes.map((e) => e.emote)).range([M.top, H - M.bottom]).padding(0.15);
  const x = d3.scaleLinear().domain([0, d3.max(emotes, (e) => num(e.count))]).nice().range([90, W - M.right]);
  s.append("g").attr("class", "axis").attr("transform", "translate(90,0)").call(d3.axisLeft(y));
  s.append("g").attr("class", "axis").attr("transform", `translate(0,${H - M.bottom})`).call(d3.axisBottom(x).ticks(5));
  s.append("text").attr("class", "axis-label").attr("x", W - M.right).attr("y", H - 2).attr("text-anchor", "end").text("uses");
  s.append("g").selectAll("rect").data(emotes).join("rect").attr("class", "bar").attr("fill", "#5b2bd6")
    .attr("x", 90).attr("y", (e) => y(e.emote)).attr("height", y.bandwidth()).attr("width", (e) => x(num(e.count)) - 90);
}

function momentsChart(svg, x, moments) {
  const s = d3.select(svg).attr("viewBox", `0 0 ${W} ${H}`);
  s.selectAll("*").remove();
  s.append("g").attr("class", "axis").attr("transform", `translate(0,${H - M.bottom})`)
    .call(d3.axisBottom(x).ticks(6).tickFormat(d3.timeFormat("%H:%M")));
  s.append("text").attr("class", "axis-label").attr("x", W - M.right).attr("y", H - 2).attr("text-anchor", "end").text("time (local)");
  const kinds = Object.keys(KIND_COLORS);
  const y = d3.scaleBand().domain(kinds).range([M.top, H - M.bottom]).padding(0.2);
  s.append("g").attr("class", "axis").attr("transform", `translate(${M.left},0)`)
    .call(d3.axisLeft(y).tickFormat((k) => k.replace("viewer_", "viewers ").replace("chat_spike", "chat")));
  const kindOf = (m) => String(m.kind || "").replace("MOMENT_KIND_", "").toLowerCase();
  const inRange = moments.filter((m) => Date.parse(m.at) >= x.domain()[0]);
  s.append("g").selectAll("circle").data(inRange).join("circle").attr("class", "moment")
    .attr("cx", (m) => x(Date.parse(m.at))).attr("cy", (m) => y(kindOf(m)) + y.bandwidth() / 2).attr("r", 5)
    .attr("fill", (m) => KIND_COLORS[kindOf(m)] || "#333")
    .append("title").text((m) => `${new Date(m.at).toLocaleTimeString()} ${m.description || kindOf(m)}`);
  if (!inRange.length) emptyText(s, "No moments in this range");
  const list = [...inRange].sort((a, b) => Date.parse(b.at) - Date.parse(a.at)).slice(0, 20);
  $("moments").replaceChildren(...list.map((m) => {
    const li = document.createElement("li");
    li.textContent = `${new Date(m.at).toLocaleTimeString()} · ${kindOf(m).replace("_", " ")} · ${m.description || ""}`;
    return li;
  }));
}

// ---- start ---------------------------------------------------------------------------------

async function start() {
  try {
    const r = await api("/v1/channels?page_size=1000");
    for (const c of r.channels || []) state.channels.set(c.channelId, { status: c.status });
  } catch (err) {
    setConnection(false, "API unavailable — retrying…");
  }
  renderChannels();
  watchList();
  const first = [...state.channels.entries()].sort().find(([, c]) => c.status && c.status.live);
  if (first) selectChannel(first[0]);
}

start();
