// The channel page (#/channel/{c}?range=…): the channel list, one channel's charts over the
// chosen range (presets, custom, or a span brushed on the viewers chart), live updates from its
// event stream, and for an offline channel the summary of its last stream instead of live counts.
import { api, query, EVER } from "./api.js";
import { fmt, num, seconds } from "./format.js";
import { parseHash, rangeFrom, rangeParams, rangeBounds, resolutionFor, hashFor } from "./route.js";
import { rangePicker } from "./rangepicker.js";
import { exportURL, saveCSV } from "./csv.js";
import { lineChart, barChart, emotesChart, momentsChart, brush, legend, kindOf, KIND_COLORS, KIND_LABELS } from "./charts.js";

const RENDER_MS = 250;
const VIEWERS = "#5b2bd6", CHATTERS = "#0a7d32", CHAT = "#00639a", SENTIMENT = "#9a4a00", REVENUE = "#0a7d32";

export function mountChannel(app, { path, params }) {
  const $ = app.$;
  const session = app.session;
  let mounted = true;
  const alive = () => mounted && app.alive(session);
  const id = path[1] || "";
  const range = rangeFrom(params);
  // one-minute windows from the stream only fit a one-minute chart
  const liveWindows = resolutionFor(rangeBounds(range)) === "RESOLUTION_ONE_MINUTE";
  const st = {
    series: new Map(), // window start (ms) → WindowMetrics
    moments: new Map(), // id → Moment
    status: (app.channels.get(id) || {}).status || null,
    lastStream: null, // {session, figures} of an offline channel
    source: null,
    brushing: false, // a drag on the viewers chart is under way
    redraw: false, // an update came during the drag
    renderTimer: null,
  };

  // without a channel in the hash: the first live one, else the first one
  if (!id) {
    const ids = [...app.channels.keys()].sort();
    const first = (app.channels.has(app.lastChannel) && app.lastChannel) || ids.find((c) => (app.channels.get(c).status || {}).live) || ids[0];
    renderChannels(app, null);
    renderHeader();
    clearCharts();
    if (first) app.navigate(["channel", first], rangeParams(range), { replace: true });
    else {
      // a fresh pipeline may have no channel yet: the status stream brings the first
      const onList = (c) => alive() && app.navigate(["channel", c], rangeParams(range), { replace: true });
      app.channelListeners.add(onList);
      return { unmount() { mounted = false; app.channelListeners.delete(onList); } };
    }
    return { unmount() { mounted = false; } };
  }

  app.lastChannel = id;
  const onList = (changed) => {
    if (!alive()) return;
    renderChannels(app, id);
    if (changed === id) {
      const was = st.status && st.status.live;
      st.status = app.channels.get(id).status;
      renderHeader();
      if (was !== !!(st.status && st.status.live)) {
        render();
        loadLastStream();
      }
    }
  };
  app.channelListeners.add(onList);
  renderChannels(app, id);
  renderHeader();
  clearCharts();
  $("channel-compare").href = hashFor(["compare"], { c: id, ...rangeParams(range) });
  rangePicker($("channel-range"), "range", range, (r) => app.navigate(["channel", id], rangeParams(r)));
  $("channel-csv").onclick = () => {
    const [start, end] = rangeBounds(range);
    saveCSV($("channel-csv"), exportURL(id, { start_time: new Date(start), end_time: new Date(end), resolution: resolutionFor([start, end]) }),
      `${id}.csv`, (err) => alive() && !app.failed(err) && showNotice(`Download failed: ${err.message}`));
  };
  load();

  async function load() {
    const [start, end] = rangeBounds(range);
    const span = { start_time: new Date(start), end_time: new Date(end) };
    try {
      const [metrics, moments] = await Promise.all([
        api(`/v1/channels/${encodeURIComponent(id)}/metrics?` + query({ include_provisional: true, page_size: 5000, resolution: resolutionFor([start, end]), ...span })),
        api(`/v1/channels/${encodeURIComponent(id)}/moments?` + query({ page_size: 1000, ...span })),
      ]);
      if (!alive()) return;
      for (const m of metrics.metrics || []) st.series.set(Date.parse(m.windowStart), m);
      for (const m of moments.moments || []) st.moments.set(m.id, m);
    } catch (err) {
      if (!alive() || app.failed(err)) return;
      showNotice(`History unavailable: ${err.message}`);
    }
    render();
    loadLastStream();
    watch();
  }

  function watch() {
    st.source = app.openStream(`channels=${encodeURIComponent(id)}&include_snapshot=true`, {
      window: (ev) => {
        if (!alive() || ev.channel !== id) return;
        app.countEvent();
        if (!liveWindows) return;
        const w = ev.window;
        const key = Date.parse(w.windowStart);
        const prev = st.series.get(key);
        if (!prev || (w.final && !prev.final) || (w.final === prev.final && num(w.version) >= num(prev.version))) {
          st.series.set(key, w);
        }
        scheduleRender();
      },
      moment: (ev) => {
        if (!alive() || ev.channel !== id) return;
        app.countEvent();
        st.moments.set(ev.moment.id, ev.moment);
        scheduleRender();
      },
      status: (ev) => {
        if (!alive() || ev.channel !== id) return;
        app.countEvent();
        app.upsertChannel(ev.channel, ev.status.status); // onList redraws
      },
      heartbeat: () => {},
    });
  }

  // loadLastStream fetches the newest finished session of an offline channel and its figures:
  // the report where the gateway serves one, else a summary of the session's windows.
  async function loadLastStream() {
    if (!st.status || st.status.live) {
      st.lastStream = null;
      renderLastStream();
      return;
    }
    try {
      // sessions default to those live in the last hour: the last stream may be older
      const r = await api(`/v1/channels/${encodeURIComponent(id)}/sessions?` + query({ page_size: 1, start_time: EVER }));
      if (!alive()) return;
      const last = lastSession((r.sessions || [])[0], st.status);
      if (!last) {
        st.lastStream = { none: true };
        return renderLastStream();
      }
      st.lastStream = { session: last, figures: await sessionFigures(last) };
      if (!alive()) return;
    } catch (err) {
      if (!alive() || app.failed(err)) return;
      st.lastStream = { error: err.message };
    }
    renderLastStream();
    render();
  }

  function renderHeader() {
    const s = st.status || {};
    $("channel-name").textContent = id || "Pick a channel";
    const meta = $("channel-meta");
    meta.replaceChildren();
    if (!id) return;
    const badge = document.createElement("span");
    badge.className = "badge " + (s.live ? "live" : "");
    badge.textContent = s.live ? "LIVE" : "OFFLINE";
    meta.append(badge, ` ${s.title || ""} ${s.category ? "· " + s.category : ""}`);
  }

  function showNotice(text) {
    const el = $("channel-state");
    el.hidden = !text;
    el.textContent = text || "";
  }

  // scheduleRender draws live updates at most every RENDER_MS: a busy channel sends several a
  // second, and a day of windows takes a while to draw
  function scheduleRender() {
    if (st.renderTimer === null) st.renderTimer = setTimeout(() => { st.renderTimer = null; render(); }, RENDER_MS);
  }

  function render() {
    if (!alive()) return;
    st.redraw = st.brushing; // live updates wait while a zoom is being dragged
    if (st.brushing) return;
    const domain = chartDomain();
    const data = [...st.series.values()]
      .filter((d) => Date.parse(d.windowStart) >= domain[0] && Date.parse(d.windowStart) < domain[1])
      .sort((a, b) => Date.parse(a.windowStart) - Date.parse(b.windowStart));
    const s = st.status || {};
    if (!data.length) showNotice("No data yet for this range: waiting for the channel's first events.");
    else if (!s.live) showNotice(`This channel is offline${s.endedAt ? " since " + fmt.dateTime(s.endedAt) : ""}; showing its history.`);
    else showNotice("");
    renderStats(data, s);
    const at = (d) => Date.parse(d.windowStart);
    const main = lineChart($("chart-viewers"), {
      domain, yLabel: "people",
      series: [
        { label: "viewers", color: VIEWERS, points: data.map((d) => [at(d), num(d.viewers && d.viewers.avg)]) },
        { label: "chatters", color: CHATTERS, points: data.map((d) => [at(d), num(d.viewers && d.viewers.chattersAvg)]) },
      ],
    });
    legend($("legend-viewers"), [{ label: "viewers (average)", color: VIEWERS }, { label: "chatters (average)", color: CHATTERS }]);
    brush(main, ([a, z]) => app.navigate(["channel", id], rangeParams({ start: a, end: z })), (active) => {
      st.brushing = active;
      if (!active && st.redraw) render();
    });
    const bars = (value) => data.map((d) => ({ start: at(d), end: Date.parse(d.windowEnd), final: d.final, value: value(d) }));
    const perMinute = (d) => Math.max(1, (Date.parse(d.windowEnd) - at(d)) / 60_000);
    barChart($("chart-chat"), { domain, bars: bars((d) => num(d.chat && d.chat.messages) / perMinute(d)), yLabel: "messages / min", color: CHAT, valueText: fmt.count });
    legend($("legend-chat"), [{ label: "final", color: CHAT }, { label: "provisional (minute still open)", color: CHAT, light: true }]);
    lineChart($("chart-sentiment"), {
      domain, yLabel: "score (−1 … 1)", yDomain: [-1, 1],
      series: [{ label: "sentiment", color: SENTIMENT, points: data.map((d) => [at(d), num(d.chat && d.chat.sentiment && d.chat.sentiment.average)]) }],
    });
    legend($("legend-sentiment"), [{ label: "average sentiment", color: SENTIMENT }]);
    barChart($("chart-revenue"), {
      domain, bars: bars((d) => num(d.transactions && d.transactions.revenueCents) / 100 / perMinute(d)),
      yLabel: "USD / min", color: REVENUE, tickFormat: fmt.tickDollars, valueText: fmt.dollars,
    });
    legend($("legend-revenue"), [{ label: "final", color: REVENUE }, { label: "provisional", color: REVENUE, light: true }]);
    renderEmotes(data, s);
    const drawn = momentsChart($("chart-moments"), domain, [...st.moments.values()]);
    legend($("legend-moments"), Object.keys(KIND_COLORS).map((k) => ({ label: KIND_LABELS[k], color: KIND_COLORS[k] })));
    $("moments").replaceChildren(...[...drawn].sort((a, b) => Date.parse(b.at) - Date.parse(a.at)).slice(0, 20).map((m) => {
      const li = document.createElement("li");
      li.textContent = `${fmt.time(m.at)} · ${KIND_LABELS[kindOf(m)] || kindOf(m)} · ${m.description || ""}`;
      return li;
    }));
  }

  function chartDomain() {
    if (!range.minutes) return [range.start, range.end];
    const now = Date.now();
    const newest = Math.max(0, ...[...st.series.values()].map((d) => Date.parse(d.windowEnd)));
    return [now - range.minutes * 60_000, Math.max(now, newest)];
  }

  function renderEmotes(data, s) {
    const live = s.live && liveWindows;
    const last = data[data.length - 1];
    let emotes = live && last ? (last.chat && last.chat.topEmotes) || [] : [];
    let caption = "Top emotes (this minute)";
    if (!live) {
      const f = st.lastStream && st.lastStream.figures;
      emotes = (f && f.topEmotes) || [];
      caption = s.live ? "Top emotes" : "Top emotes (last stream)";
    }
    $("emotes-caption").textContent = caption;
    emotesChart($("chart-emotes"), emotes.slice(0, 8), s.live ? "No emotes in this minute yet" : "No emotes in the last stream");
  }

  function renderStats(data, s) {
    const last = data[data.length - 1];
    const revenue = data.reduce((sum, d) => sum + num(d.transactions && d.transactions.revenueCents), 0);
    const messages = data.reduce((sum, d) => sum + num(d.chat && d.chat.messages), 0);
    // an offline channel has no current audience: its figures are the range's totals, and its
    // last stream has a section of its own
    const items = s.live
      ? [
        ["viewers", fmt.count(s.viewers)],
        ["chatters", fmt.count(s.chatters)],
        ["messages this minute", last ? fmt.count(last.chat && last.chat.messages) : "–"],
        ["revenue in range", fmt.cents(revenue)],
        ["moments in range", fmt.count(st.moments.size)],
      ]
      : [
        ["messages in range", fmt.count(messages)],
        ["revenue in range", fmt.cents(revenue)],
        ["moments in range", fmt.count(st.moments.size)],
      ];
    statTiles($("stats"), items);
  }

  function renderLastStream() {
    const el = $("last-stream");
    const ls = st.lastStream;
    el.hidden = !ls;
    if (!ls) return;
    const report = $("last-stream-report");
    if (ls.none || ls.error) {
      $("last-stream-meta").textContent = ls.none ? "This channel has no finished stream yet." : `Last stream unavailable: ${ls.error}`;
      $("last-stream-stats").replaceChildren();
      report.hidden = true;
      return;
    }
    const { session: s, figures: f } = ls;
    $("last-stream-meta").textContent = `${fmt.dateTime(s.startedAt)} – ${fmt.dateTime(s.endedAt)} · ${s.title || ""}${s.category ? " · " + s.category : ""}`;
    statTiles($("last-stream-stats"), [
      ["duration", fmt.duration(s.duration)],
      ["average viewers", fmt.count(f.avgViewers)],
      ["peak viewers", fmt.count(f.peakViewers)],
      ["hours watched", fmt.count(f.hoursWatched)],
      ["chat messages", fmt.count(f.messages)],
      ["revenue", fmt.cents(f.revenueCents)],
    ]);
    report.hidden = false;
    report.href = hashFor(["channel", id, "report", sessionID(s)], rangeParams(range));
  }

  function clearCharts() {
    for (const svg of document.querySelectorAll("#page-channel svg.chart")) svg.replaceChildren();
    for (const ul of document.querySelectorAll("#page-channel .legend")) ul.replaceChildren();
    $("stats").replaceChildren();
    $("moments").replaceChildren();
    $("last-stream").hidden = true;
    showNotice("");
  }

  // sessionFigures are a finished session's figures: from its report (GetStreamReport), or,
  // where the gateway has none, from a summary of the session's final windows.
  async function sessionFigures(s) {
    try {
      const r = await api(`/v1/${s.name}/report`);
      return {
        avgViewers: r.avgViewers, peakViewers: r.peakViewers, hoursWatched: r.hoursWatched,
        messages: r.chat && r.chat.messages, revenueCents: r.transactions && r.transactions.revenueCents,
        topEmotes: (r.chat && r.chat.topEmotes) || [],
      };
    } catch (err) {
      if (err.status !== 404 && err.status !== 501) throw err;
    }
    const sum = await api(`/v1/channels/${encodeURIComponent(id)}:summarize?` + query({ start_time: s.startedAt, end_time: s.endedAt }));
    return {
      avgViewers: s.avgViewers, peakViewers: s.peakViewers,
      hoursWatched: num(s.avgViewers) * seconds(s.duration) / 3600,
      messages: s.chatMessages, revenueCents: s.revenueCents,
      topEmotes: (sum.chat && sum.chat.topEmotes) || [],
    };
  }

  return {
    unmount() {
      mounted = false;
      app.channelListeners.delete(onList);
      if (st.source) st.source.close();
      clearTimeout(st.renderTimer);
    },
  };

}

// lastSession is the newest session of a channel that is offline now: it has ended, whatever
// its live flag says. Where the session list has no end for it (a projection that has not caught
// up with the stream_end), the channel's status has: the same session's ended_at.
function lastSession(newest, status) {
  if (!newest) return null;
  if (!newest.live && newest.endedAt) return newest;
  const ended = status && status.endedAt && status.sessionId === sessionID(newest) ? status.endedAt : "";
  if (!ended) return null;
  return { ...newest, live: false, endedAt: ended, duration: (Date.parse(ended) - Date.parse(newest.startedAt)) / 1000 };
}

// sessionID is the {session} of "channels/{c}/sessions/{session}".
export const sessionID = (s) => String(s.name || "").split("/").pop();

export function statTiles(container, items) {
  container.replaceChildren(...items.map(([label, value]) => {
    const div = document.createElement("div");
    div.className = "stat";
    const b = document.createElement("b");
    b.textContent = value;
    const span = document.createElement("span");
    span.textContent = label;
    div.append(b, span);
    return div;
  }));
}

// ---- the channel list ------------------------------------------------------------------------

function renderChannels(app, selected) {
  const $ = app.$;
  const ids = [...app.channels.keys()].sort();
  $("channels-empty").hidden = ids.length > 0;
  const ul = $("channels");
  const focused = document.activeElement && document.activeElement.dataset.channel;
  ul.replaceChildren(...ids.map((id) => {
    const st = app.channels.get(id).status || {};
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.channel = id;
    b.setAttribute("role", "option");
    b.setAttribute("aria-selected", String(id === selected));
    b.tabIndex = id === (selected || ids[0]) ? 0 : -1;
    b.innerHTML = `<span class="dot ${st.live ? "live" : ""}" aria-hidden="true"></span>`;
    b.append(id);
    const sub = document.createElement("span");
    sub.className = "sub";
    sub.textContent = st.live ? `live · ${st.category || ""}` : "offline";
    b.append(sub);
    b.onclick = () => {
      app.navigate(["channel", id], rangeParams(rangeFrom(parseHash(location.hash).params))); // the range stays
    };
    li.append(b);
    return li;
  }));
  if (focused) {
    const again = ul.querySelector(`[data-channel="${CSS.escape(focused)}"]`);
    if (again) again.focus();
  }
}

// arrow keys move through the list, Enter/Space selects (buttons do that already)
document.getElementById("channels").addEventListener("keydown", (e) => {
  const buttons = [...document.getElementById("channels").querySelectorAll("button")];
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
