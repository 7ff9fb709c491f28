// Telemetra's dashboard: the channel list and one channel's charts. History comes from the
// metrics and moments endpoints for the chosen range; live updates from the Server-Sent Events
// stream (/v1/events:sse), read with fetch so that it carries the bearer token (./sse.js), and
// reconnected with backoff. No polling. A gateway started with --auth-token answers 401 until
// the page has its token: the page then asks for it.
import * as d3 from "d3";
import { connectEventStream } from "./sse.js";

const W = 600, H = 190, M = { top: 10, right: 14, bottom: 28, left: 52 };
const KIND_COLORS = { chat_spike: "#5b2bd6", viewer_spike: "#0a7d32", viewer_drop: "#b3261e", hype: "#9a4a00", raid: "#00639a" };

const state = {
  session: 0, // bumped whenever the page starts over (new token, sign out): stale callbacks check it
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

// ---- the bearer token ------------------------------------------------------------------------

// The token lives in this tab's sessionStorage: it survives a reload but not the tab, and it is
// only ever sent as a header, never put in a URL. Where storage is refused (some privacy
// settings), it is kept in memory for the page's life.
const tokenStore = {
  key: "telemetra.token",
  memory: "",
  get() {
    try { return sessionStorage.getItem(this.key) || ""; } catch { return this.memory; }
  },
  set(token) {
    this.memory = token;
    try { sessionStorage.setItem(this.key, token); } catch { /* memory only */ }
  },
  forget() {
    this.memory = "";
    try { sessionStorage.removeItem(this.key); } catch { /* memory only */ }
  },
};

function authHeaders() {
  const token = tokenStore.get();
  return token ? { Authorization: "Bearer " + token } : {};
}

// Unauthorized is an HTTP 401: the gateway wants a token (tokenSent false) or refused ours.
class Unauthorized extends Error {
  constructor(tokenSent, message) {
    super(message || "unauthenticated");
    this.tokenSent = tokenSent;
  }
}

async function api(path) {
  const headers = authHeaders();
  const r = await fetch(path, { headers });
  const body = await r.json().catch(() => ({}));
  if (r.status === 401) throw new Unauthorized("Authorization" in headers, body.message);
  if (!r.ok) throw new Error(body.message || r.statusText);
  return body;
}

// askForToken stops everything and shows the token form instead of the dashboard: without a
// token there is nothing to show, and "No channels yet" or "disconnected" would be untrue.
function askForToken(tokenSent) {
  resetSession();
  if (tokenSent) tokenStore.forget(); // a refused token is no use on reload either
  const reason = tokenSent ? "token rejected" : "token required";
  setConnection(false, reason);
  $("login-reason").textContent = tokenSent
    ? "Token rejected: the gateway refused this token. Enter the token it was started with (--auth-token)."
    : "Token required: this gateway was started with --auth-token. Enter its token to see the dashboard.";
  $("dashboard").hidden = true;
  $("sign-out").hidden = true;
  $("login").hidden = false;
  $("login-submit").disabled = false;
  $("token").value = "";
  $("token").focus();
}

function showDashboard() {
  $("login").hidden = true;
  $("dashboard").hidden = false;
  $("sign-out").hidden = !tokenStore.get();
}

$("login").addEventListener("submit", (e) => {
  e.preventDefault();
  const token = $("token").value.trim();
  if (!token) return;
  tokenStore.set(token);
  $("token").value = "";
  $("login-submit").disabled = true;
  setConnection(false, "checking token…");
  start();
});

$("sign-out").addEventListener("click", () => {
  tokenStore.forget();
  setConnection(false, "connecting…");
  start(); // a gateway that wants a token answers 401 and the form comes back
});

// ---- connection state ----------------------------------------------------------------------

function setConnection(ok, text) {
  const el = $("connection");
  el.textContent = text;
  el.className = "connection " + (ok ? "ok" : "bad");
}

const RETRY_TEXT = {
  network: "reconnecting…",
  refused: "disconnected — retrying…",
  ended: "stream ended — reconnecting…", // e.g. a subscriber too slow: the retry starts over with a snapshot
};

// openStream subscribes to /v1/events:sse with params; handlers maps event names (window,
// moment, status, heartbeat) to functions of the decoded ChannelEvent. Reconnects resubscribe
// with the same params, so a snapshot comes again.
function openStream(params, handlers) {
  const session = state.session;
  return connectEventStream("/v1/events:sse?" + params, {
    headers: authHeaders,
    onOpen: () => setConnection(true, "live"),
    onEvent: (ev) => {
      if (ev.type === "error") { // the server ends the stream with its status; the retry follows
        console.warn("event stream ended by the gateway:", ev.data);
        return;
      }
      const handle = handlers[ev.type];
      if (handle) handle(JSON.parse(ev.data));
    },
    onRetry: (reason) => setConnection(false, RETRY_TEXT[reason]),
    onUnauthorized: ({ authorizationSent }) => session === state.session && askForToken(authorizationSent),
  });
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
  });
}

// ---- one channel -------------------------------------------------------------------------------

async function selectChannel(id) {
  const session = state.session;
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
    if (session !== state.session || state.selected !== id) return;
    for (const m of metrics.metrics || []) state.series.set(Date.parse(m.windowStart), m);
    for (const m of moments.moments || []) state.moments.set(m.id, m);
  } catch (err) {
    if (session !== state.session || state.selected !== id) return;
    if (err instanceof Unauthorized) return askForToken(err.tokenSent);
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

// resetSession closes the streams and forgets what the page showed; callbacks of the old
// session see state.session moved on and do nothing.
function resetSession() {
  state.session++;
  if (state.listSource) state.listSource.close();
  if (state.channelSource) state.channelSource.close();
  state.listSource = state.channelSource = null;
  state.channels.clear();
  state.series.clear();
  state.moments.clear();
  state.selected = null;
  state.status = null;
  for (const svg of document.querySelectorAll("svg.chart")) svg.replaceChildren();
  $("stats").replaceChildren();
  $("moments").replaceChildren();
  showNotice("");
  $("channels").replaceChildren();
  $("channels-empty").hidden = true; // "No channels yet" only once the gateway said so
  renderHeader();
  return state.session;
}

// start loads the channel list and subscribes; on page load, after a token was entered and after
// signing out. Its first call tells whether the gateway wants a token: with none configured
// it succeeds and no form is ever shown.
async function start() {
  const session = resetSession();
  try {
    const r = await api("/v1/channels?page_size=1000");
    if (session !== state.session) return;
    for (const c of r.channels || []) state.channels.set(c.channelId, { status: c.status });
  } catch (err) {
    if (session !== state.session) return;
    if (err instanceof Unauthorized) return askForToken(err.tokenSent);
    setConnection(false, "API unavailable — retrying…");
  }
  showDashboard();
  renderChannels();
  watchList();
  const first = [...state.channels.entries()].sort().find(([, c]) => c.status && c.status.live);
  if (first) selectChannel(first[0]);
}

start();
