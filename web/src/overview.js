// The overview (#/overview?metric=…): live channels ranked by a metric, with a viewers sparkline
// per channel and what is trending across channels. The ranking comes from RankChannels, then
// stays current from /v1/rankings:subscribe (newline-delimited JSON, read with fetch so it
// carries the token); where the gateway does not serve that stream the page polls instead.
import { api, authHeaders, query, HTTPError } from "./api.js";
import { connectNDJSONStream } from "./sse.js";
import { fmt, num } from "./format.js";
import { hashFor } from "./route.js";
import { sparkline } from "./charts.js";

const POLL_MS = 10_000; // the ranking, without the stream
const TRENDING_MS = 30_000;
const SPARK_TTL_MS = 60_000; // a sparkline is fetched again after this
const SPARK_CONCURRENCY = 3; // sparkline requests in flight at once
const TOP = 50;

// what each metric's value is and how it reads
const METRICS = {
  RANKING_METRIC_VIEWERS: { head: "Viewers", text: (r) => fmt.count(r.value) },
  RANKING_METRIC_CHAT_RATE: { head: "Chat / min", text: (r) => fmt.decimal(r.value) },
  RANKING_METRIC_UNIQUE_CHATTERS: { head: "Unique chatters", text: (r) => fmt.count(r.value) },
  RANKING_METRIC_REVENUE: { head: "Revenue (last hour)", text: (r) => fmt.cents(r.value) },
  RANKING_METRIC_SENTIMENT: { head: "Sentiment", text: (r) => fmt.signed(r.value) },
  RANKING_METRIC_MOMENTS: { head: "Moments (last hour)", text: (r) => fmt.count(r.value) },
};

// the figures shown besides the ranked one (not twice when it is one of them)
const EXTRA_COLUMNS = [
  { metric: "RANKING_METRIC_VIEWERS", head: "Viewers", text: (r) => fmt.count(r.viewers) },
  { metric: "RANKING_METRIC_CHAT_RATE", head: "Chat / min", text: (r) => fmt.decimal(r.messagesPerMinute) },
  { metric: "RANKING_METRIC_REVENUE", head: "Revenue (last hour)", text: (r) => fmt.cents(r.revenueCents) },
];

// the sparklines' cache outlives a page visit: coming back to the overview draws at once
const sparks = new Map(); // channel → {at, points}

export function mountOverview(app, { params }) {
  const $ = app.$;
  const session = app.session;
  let mounted = true;
  const alive = () => mounted && app.alive(session);
  const metric = METRICS[params.get("metric")] ? params.get("metric") : "RANKING_METRIC_VIEWERS";
  const selected = new Set((params.get("c") || "").split(",").filter(Boolean));
  let stream = null, pollTimer = null, trendTimer = null;
  let rows = [];

  $("rank-metric").value = metric;
  $("rank-metric").onchange = () => app.navigate(["overview"], { metric: $("rank-metric").value });
  $("rank-head").replaceChildren(...[
    "", "#", "Channel", "Category", METRICS[metric].head,
    ...EXTRA_COLUMNS.filter((c) => c.metric !== metric).map((c) => c.head), "Viewers, last hour",
  ].map((text, k) => {
    const th = document.createElement("th");
    th.scope = "col";
    if (k === 0) th.innerHTML = `<span class="visually-hidden">Select to compare</span>`;
    else th.textContent = text;
    if (k === 1 || (k >= 4 && text !== "Viewers, last hour")) th.className = "num";
    return th;
  }));
  $("rankings-body").replaceChildren();
  $("compare-selected").onclick = () => app.navigate(["compare"], { c: [...selected].join(",") });
  updateCompareButton();
  showState("");

  const queue = sparkQueue(app, alive);
  const observer = new IntersectionObserver((entries) => {
    for (const e of entries) if (e.isIntersecting) queue.want(e.target.dataset.channel, e.target);
  });

  load();
  loadTrending();

  async function load() {
    try {
      const r = await api("/v1/channels:rank?" + query({ metric, page_size: TOP }));
      if (!alive()) return;
      show(r.rankings || [], r.asOf);
      subscribe();
    } catch (err) {
      if (!alive() || app.failed(err)) return;
      showState(`Rankings unavailable: ${err.message}`);
      pollTimer = setTimeout(load, POLL_MS);
    }
  }

  function subscribe() {
    stream = connectNDJSONStream("/v1/rankings:subscribe?" + query({ metric, top: TOP }), {
      headers: authHeaders,
      onOpen: () => alive() && ($("rank-source").textContent = "live updates"),
      onEvent: (ev) => {
        if (!alive()) return;
        const msg = JSON.parse(ev.data);
        if (msg.error) return console.warn("ranking stream ended by the gateway:", msg.error.message);
        app.countEvent();
        show(msg.result.rankings || [], msg.result.asOf, msg.result.changes || []);
      },
      onRetry: (reason, ms, status) => {
        if (!alive()) return;
        if (reason === "refused" && [404, 405, 501].includes(status)) { // not served: poll
          stream.close();
          stream = null;
          poll();
          return;
        }
        $("rank-source").textContent = "live updates: reconnecting…";
      },
      onUnauthorized: ({ authorizationSent }) => alive() && app.askForToken(authorizationSent),
    });
  }

  async function poll() {
    $("rank-source").textContent = `updated every ${POLL_MS / 1000} s`;
    try {
      const r = await api("/v1/channels:rank?" + query({ metric, page_size: TOP }));
      if (!alive()) return;
      show(r.rankings || [], r.asOf);
    } catch (err) {
      if (!alive() || app.failed(err)) return;
      showState(`Rankings unavailable: ${err.message}`);
    }
    pollTimer = setTimeout(poll, POLL_MS);
  }

  function show(rankings, asOf, changes = []) {
    rows = rankings;
    showState(rankings.length ? "" : "No live channels right now: the ranking covers live channels only.");
    const moved = new Map(changes.map((c) => [c.channel, c]));
    const body = $("rankings-body");
    body.replaceChildren(...rankings.map((r) => row(r, moved.get(r.channel))));
    for (const svg of body.querySelectorAll("svg.spark")) {
      const cached = sparks.get(svg.dataset.channel);
      if (cached) sparkline(svg, cached.points);
      observer.observe(svg);
    }
    if (asOf) $("rankings").dataset.asOf = asOf;
  }

  function row(r, change) {
    const tr = document.createElement("tr");
    tr.dataset.channel = r.channel;
    const td = (text, cls) => {
      const c = document.createElement("td");
      if (cls) c.className = cls;
      if (text !== undefined) c.textContent = text;
      tr.append(c);
      return c;
    };
    const pick = document.createElement("input");
    pick.type = "checkbox";
    pick.checked = selected.has(r.channel);
    pick.setAttribute("aria-label", `compare ${r.channel}`);
    pick.onchange = () => {
      if (pick.checked) selected.add(r.channel);
      else selected.delete(r.channel);
      updateCompareButton();
    };
    td().append(pick);
    const rank = td(fmt.count(r.rank), "num rank");
    if (change && change.previousRank !== undefined && num(change.previousRank) !== num(change.rank)) {
      const up = num(change.previousRank) === 0 || num(change.rank) < num(change.previousRank);
      const mark = document.createElement("span");
      mark.className = up ? "moved up" : "moved down";
      mark.textContent = up ? " ▲" : " ▼";
      mark.title = num(change.previousRank) ? `was #${change.previousRank}` : "new in the top";
      rank.append(mark);
    }
    const a = document.createElement("a");
    a.href = hashFor(["channel", r.channel]);
    a.textContent = r.channel;
    td().append(a);
    td(r.category || "");
    td(METRICS[metric].text(r), "num value");
    for (const col of EXTRA_COLUMNS) if (col.metric !== metric) td(col.text(r), "num");
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("class", "spark");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", `${r.channel}: viewers over the last hour`);
    svg.dataset.channel = r.channel;
    td().append(svg);
    return tr;
  }

  async function loadTrending() {
    try {
      const t = await api("/v1/trending?" + query({ limit: 8 }));
      if (!alive()) return;
      $("trending-emotes").replaceChildren(...(t.emotes || []).map((e) =>
        trendItem(e.emote, `${fmt.counted(e.uses, "use", "uses")} · ${fmt.counted(e.channels, "channel", "channels")}`, fmt.change(e.uses, e.previousUses))));
      $("trending-categories").replaceChildren(...(t.categories || []).map((c) =>
        trendItem(c.category, `${fmt.counted(c.viewers, "viewer", "viewers")} · ${fmt.counted(c.channels, "channel", "channels")}`, fmt.change(c.viewers, c.previousViewers))));
      if (!(t.emotes || []).length) $("trending-emotes").replaceChildren(trendItem("No emotes in the period", "", ""));
      if (!(t.categories || []).length) $("trending-categories").replaceChildren(trendItem("No categories in the period", "", ""));
      $("trending-period").textContent = t.startTime ? `Trending over ${fmt.time(t.startTime)} – ${fmt.time(t.endTime)}, against the period just before.` : "";
    } catch (err) {
      if (!alive() || app.failed(err)) return;
      $("trending-period").textContent = `Trending unavailable: ${err.message}`;
    }
    trendTimer = setTimeout(loadTrending, TRENDING_MS);
  }

  function updateCompareButton() {
    const n = selected.size;
    const b = $("compare-selected");
    b.disabled = n < 2 || n > 4;
    b.textContent = n ? `Compare selected (${n})` : "Compare selected";
    b.title = n < 2 || n > 4 ? "Select 2 to 4 channels" : "";
  }

  function showState(text) {
    $("overview-state").hidden = !text;
    $("overview-state").textContent = text;
  }

  return {
    unmount() {
      mounted = false;
      if (stream) stream.close();
      clearTimeout(pollTimer);
      clearTimeout(trendTimer);
      observer.disconnect();
      queue.stop();
    },
  };
}

function trendItem(name, figures, change) {
  const li = document.createElement("li");
  const b = document.createElement("b");
  b.textContent = name;
  li.append(b);
  if (figures) li.append(" ", figures);
  if (change) {
    const c = document.createElement("span");
    c.className = "change " + (change.startsWith("-") || change.startsWith("−") ? "down" : "up");
    c.textContent = change;
    li.append(" ", c);
  }
  return li;
}

// sparkQueue fetches the viewers of the last hour at a coarse resolution for the rows the
// reader can see, at most SPARK_CONCURRENCY at a time, and draws them into the row's svg.
function sparkQueue(app, alive) {
  const waiting = new Map(); // channel → svg, in request order
  const asking = new Set(); // channels whose request is under way
  let running = 0;
  let stopped = false;

  function pump() {
    while (!stopped && running < SPARK_CONCURRENCY && waiting.size) {
      const [channel, svg] = waiting.entries().next().value;
      waiting.delete(channel);
      asking.add(channel);
      running++;
      fetchSpark(channel).then((points) => {
        if (points && alive()) {
          // the row may have been redrawn meanwhile: draw into its current svg
          const current = document.querySelector(`svg.spark[data-channel="${CSS.escape(channel)}"]`) || svg;
          sparkline(current, points);
        }
      }).finally(() => {
        asking.delete(channel);
        running--;
        pump();
      });
    }
  }

  async function fetchSpark(channel) {
    const end = Date.now();
    try {
      const r = await api(`/v1/channels/${encodeURIComponent(channel)}/metrics?` + query({
        resolution: "RESOLUTION_FIVE_MINUTES", include_provisional: true, page_size: 20,
        start_time: new Date(end - 3600_000), end_time: new Date(end + 60_000),
      }));
      const points = (r.metrics || []).map((m) => [Date.parse(m.windowStart), num(m.viewers && m.viewers.avg)]);
      sparks.set(channel, { at: Date.now(), points });
      return points;
    } catch (err) {
      if (app.failed(err) || !(err instanceof HTTPError)) return null;
      sparks.set(channel, { at: Date.now(), points: [] }); // not asked again before the TTL
      return null;
    }
  }

  return {
    want(channel, svg) {
      const cached = sparks.get(channel);
      if ((cached && Date.now() - cached.at < SPARK_TTL_MS) || asking.has(channel)) return;
      waiting.set(channel, svg);
      pump();
    },
    stop() {
      stopped = true;
      waiting.clear();
    },
  };
}
