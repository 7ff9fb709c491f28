// The report page (#/channel/{c}/report/{session}): one stream session's figures from
// GetStreamReport, a chart of its windows, its moments timeline, its title and category changes,
// and CSV downloads of its windows and of the channel's range (fetched with the token: a plain
// link cannot send the Authorization header).
import { api, query, EVER } from "./api.js";
import { exportURL, saveCSV } from "./csv.js";
import { fmt, num } from "./format.js";
import { hashFor, rangeFrom, rangeParams, rangeBounds, rangeText } from "./route.js";
import { lineChart, barChart, emotesChart, momentsChart, legend, kindOf, KIND_COLORS, KIND_LABELS } from "./charts.js";
import { statTiles, sessionID } from "./channel.js";

const VIEWERS = "#5b2bd6", CHATTERS = "#0a7d32", CHAT = "#00639a";

export function mountReport(app, { path, params }) {
  const $ = app.$;
  const session = app.session;
  let mounted = true;
  const alive = () => mounted && app.alive(session);
  const channel = path[1], id = path[3];
  const name = `channels/${channel}/sessions/${id}`;
  const range = rangeFrom(params, 1440); // the channel page's range, for its CSV

  $("report-back").href = hashFor(["channel", channel], rangeParams(range));
  $("report-back").textContent = `← ${channel}`;
  $("report-title").textContent = `Stream report · ${channel}`;
  $("report-meta").textContent = "";
  $("csv-range").textContent = `Channel, ${rangeText(range, fmt.dateTime)} (CSV)`;
  for (const el of ["report-stats", "report-moments", "report-changes", "report-revenue", "report-sessions"]) $(el).replaceChildren();
  for (const svg of document.querySelectorAll("#page-report svg.chart")) svg.replaceChildren();
  showState("Loading the report…");

  const failed = (err) => alive() && !app.failed(err) && showState(`Download failed: ${err.message}`);
  $("csv-session").onclick = () => saveCSV($("csv-session"), exportURL(channel, { session: id }), `${channel}-${id}.csv`, failed);
  $("csv-range").onclick = () => {
    const [start, end] = rangeBounds(range);
    saveCSV($("csv-range"), exportURL(channel, { start_time: new Date(start), end_time: new Date(end) }), `${channel}-range.csv`, failed);
  };

  load();
  loadSessions();

  async function load() {
    let r;
    try {
      r = await api(`/v1/${name}/report`);
    } catch (err) {
      if (!alive() || app.failed(err)) return;
      return showState(`Report unavailable: ${err.message}`);
    }
    if (!alive()) return;
    showState(r.live ? "This stream is still live: the report is provisional." : "");
    renderFigures(r);
    const s = r.session || {};
    const start = Date.parse(s.startedAt);
    const end = s.endedAt ? Date.parse(s.endedAt) : Date.now();
    const domain = [start, Math.max(end, start + 60_000)];
    const drawn = momentsChart($("chart-report-moments"), domain, r.moments || []);
    legend($("legend-report-moments"), Object.keys(KIND_COLORS).map((k) => ({ label: KIND_LABELS[k], color: KIND_COLORS[k] })));
    $("report-moments").replaceChildren(...drawn.map((m) => {
      const li = document.createElement("li");
      li.textContent = `${fmt.time(m.at)} · ${KIND_LABELS[kindOf(m)] || kindOf(m)} · ${m.description || ""}`;
      return li;
    }));
    emotesChart($("chart-report-emotes"), ((r.chat && r.chat.topEmotes) || []).slice(0, 8), "No emotes in this stream");
    $("report-changes").replaceChildren(...(r.changes || []).map((c, k) => {
      const li = document.createElement("li");
      const t = document.createElement("time");
      t.dateTime = c.at;
      t.textContent = fmt.time(c.at);
      li.append(t, ` ${k === 0 ? "started as" : "changed to"} “${c.title || ""}” · ${c.category || "no category"}`);
      return li;
    }));
    if (!(r.changes || []).length) $("report-changes").append(Object.assign(document.createElement("li"), { textContent: "No title or category known." }));
    await loadWindows(domain);
  }

  async function loadWindows(domain) {
    let m;
    try {
      m = await api(`/v1/channels/${encodeURIComponent(channel)}/metrics?` + query({
        include_provisional: true, page_size: 5000, start_time: new Date(domain[0]), end_time: new Date(domain[1]),
        resolution: domain[1] - domain[0] > 1500 * 60_000 ? "RESOLUTION_FIVE_MINUTES" : "",
      }));
    } catch (err) {
      if (!alive() || app.failed(err)) return;
      return showState(`The session's windows are unavailable: ${err.message}`);
    }
    if (!alive()) return;
    const data = m.metrics || [];
    const at = (d) => Date.parse(d.windowStart);
    lineChart($("chart-report-viewers"), {
      domain, yLabel: "people",
      series: [
        { label: "viewers", color: VIEWERS, points: data.map((d) => [at(d), num(d.viewers && d.viewers.avg)]) },
        { label: "chatters", color: CHATTERS, points: data.map((d) => [at(d), num(d.viewers && d.viewers.chattersAvg)]) },
      ],
    });
    legend($("legend-report-viewers"), [{ label: "viewers (average)", color: VIEWERS }, { label: "chatters (average)", color: CHATTERS }]);
    barChart($("chart-report-chat"), {
      domain, yLabel: "messages / min", color: CHAT, valueText: fmt.count,
      bars: data.map((d) => ({ start: at(d), end: Date.parse(d.windowEnd), final: d.final, value: num(d.chat && d.chat.messages) / Math.max(1, (Date.parse(d.windowEnd) - at(d)) / 60_000) })),
    });
    legend($("legend-report-chat"), [{ label: "final", color: CHAT }, { label: "provisional", color: CHAT, light: true }]);
  }

  function renderFigures(r) {
    const s = r.session || {};
    const c = r.chat || {};
    $("report-meta").textContent = `${fmt.dateTime(s.startedAt)} – ${s.endedAt ? fmt.dateTime(s.endedAt) : "live"} · ${s.title || ""}${s.category ? " · " + s.category : ""}`;
    statTiles($("report-stats"), [
      ["duration", fmt.duration(s.duration)],
      ["average viewers", fmt.count(r.avgViewers)],
      ["peak viewers", fmt.count(r.peakViewers)],
      ["hours watched", fmt.decimal(r.hoursWatched)],
      ["chat messages", fmt.count(c.messages)],
      ["unique chatters", fmt.count(c.uniqueChatters)],
      ["messages per chatter", fmt.decimal(c.messagesPerChatter)],
      ["first-time chatters", fmt.count(c.firstTimeChatters)],
      ["average sentiment", fmt.signed(c.sentiment && c.sentiment.average)],
      ["revenue", fmt.cents(r.transactions && r.transactions.revenueCents)],
      ["moments", fmt.count((r.moments || []).length)],
    ]);
    const t = r.transactions || {};
    const d = t.donations || {}, sub = t.subscriptions || {}, b = t.bits || {}, g = t.giftSubs || {};
    const rows = [
      ["donations", fmt.counted(d.count, "donation", "donations"), d.amountCents],
      ["subscriptions", `${fmt.count(sub.count)} (tier 1: ${fmt.count(sub.tier1)}, tier 2: ${fmt.count(sub.tier2)}, tier 3: ${fmt.count(sub.tier3)})`, sub.amountCents],
      ["bits", `${fmt.counted(b.bits, "bit", "bits")} in ${fmt.counted(b.count, "cheer", "cheers")}`, b.amountCents],
      ["gift subs", `${fmt.count(g.gifted)} gifted in ${fmt.counted(g.count, "gift", "gifts")}`, g.amountCents],
    ];
    const table = $("report-revenue");
    table.innerHTML = `<thead><tr><th scope="col">type</th><th scope="col">count</th><th scope="col" class="num">amount</th></tr></thead>`;
    const body = document.createElement("tbody");
    for (const [type, count, cents] of [...rows, ["total", fmt.counted(t.transactions, "transaction", "transactions"), t.revenueCents]]) {
      const tr = body.insertRow();
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = type;
      tr.append(th);
      tr.insertCell().textContent = count;
      const amount = tr.insertCell();
      amount.className = "num";
      amount.textContent = fmt.cents(cents);
    }
    table.append(body);
  }

  async function loadSessions() {
    try {
      const r = await api(`/v1/channels/${encodeURIComponent(channel)}/sessions?` + query({ page_size: 10, start_time: EVER }));
      if (!alive()) return;
      $("report-sessions").replaceChildren(...(r.sessions || []).map((s) => {
        const li = document.createElement("li");
        const a = document.createElement("a");
        a.href = hashFor(["channel", channel, "report", sessionID(s)], rangeParams(range));
        a.textContent = `${fmt.dateTime(s.startedAt)} · ${s.live ? "live" : fmt.duration(s.duration)} · ${s.title || ""}`;
        if (sessionID(s) === id) a.setAttribute("aria-current", "page");
        li.append(a);
        return li;
      }));
    } catch (err) {
      if (!alive() || app.failed(err)) return;
      $("report-sessions").replaceChildren(Object.assign(document.createElement("li"), { textContent: `Sessions unavailable: ${err.message}` }));
    }
  }

  function showState(text) {
    $("report-state").hidden = !text;
    $("report-state").textContent = text;
  }

  return { unmount() { mounted = false; } };
}
