// The compare view (#/compare?c=a,b&metric=…&range=…): 2–4 channels' metric on one chart, one
// colour per channel with its legend, over the same range picker as the channel page.
import { api, query } from "./api.js";
import { fmt, num } from "./format.js";
import { rangeFrom, rangeParams, rangeBounds, resolutionFor } from "./route.js";
import { rangePicker } from "./rangepicker.js";
import { lineChart, brush, legend, SERIES_COLORS } from "./charts.js";

const MAX = 4;
const minutesOf = (d) => Math.max(1, (Date.parse(d.windowEnd) - Date.parse(d.windowStart)) / 60_000);
// what each metric reads from a bucket, per minute where it is a count
const METRICS = {
  viewers: { label: "Viewers (average)", unit: "viewers", value: (d) => num(d.viewers && d.viewers.avg) },
  chatters: { label: "Chatters (average)", unit: "chatters", value: (d) => num(d.viewers && d.viewers.chattersAvg) },
  messages: { label: "Chat messages per minute", unit: "messages / min", value: (d) => num(d.chat && d.chat.messages) / minutesOf(d) },
  unique: { label: "Unique chatters per minute", unit: "chatters / min", value: (d) => num(d.chat && d.chat.uniqueChatters) / minutesOf(d) },
  revenue: { label: "Revenue per minute", unit: "USD / min", value: (d) => num(d.transactions && d.transactions.revenueCents) / 100 / minutesOf(d), tick: fmt.tickDollars },
  sentiment: { label: "Sentiment (average score)", unit: "score (−1 … 1)", value: (d) => num(d.chat && d.chat.sentiment && d.chat.sentiment.average), domain: [-1, 1] },
};

export function mountCompare(app, { params }) {
  const $ = app.$;
  const session = app.session;
  let mounted = true;
  const alive = () => mounted && app.alive(session);
  const channels = [...new Set((params.get("c") || "").split(",").filter(Boolean))].slice(0, MAX);
  const metricName = METRICS[params.get("metric")] ? params.get("metric") : "viewers";
  const metric = METRICS[metricName];
  const range = rangeFrom(params);
  const go = (over) => app.navigate(["compare"], { c: channels.join(","), metric: metricName, ...rangeParams(range), ...over });

  $("compare-metric").value = metricName;
  $("compare-metric").onchange = () => go({ metric: $("compare-metric").value });
  rangePicker($("compare-range"), "compare-range-select", range, (r) => go(rangeParams(r)));
  $("compare-caption").textContent = metric.label;
  renderPicker();
  const onList = () => alive() && renderPicker();
  app.channelListeners.add(onList);
  $("chart-compare").replaceChildren();
  $("legend-compare").replaceChildren();

  if (channels.length < 2) showState("Pick 2 to 4 channels to compare.");
  else load();

  async function load() {
    showState("");
    const [start, end] = rangeBounds(range);
    const q = query({ include_provisional: true, page_size: 5000, resolution: resolutionFor([start, end]), start_time: new Date(start), end_time: new Date(end) });
    let answers;
    try {
      answers = await Promise.all(channels.map((c) => api(`/v1/channels/${encodeURIComponent(c)}/metrics?` + q)));
    } catch (err) {
      if (!alive() || app.failed(err)) return;
      return showState(`History unavailable: ${err.message}`);
    }
    if (!alive()) return;
    const series = channels.map((c, k) => ({
      label: c, color: SERIES_COLORS[k],
      points: (answers[k].metrics || []).map((d) => [Date.parse(d.windowStart), metric.value(d)]),
    }));
    const domain = range.minutes ? [start, Math.min(end, Date.now())] : [start, end];
    const chart = lineChart($("chart-compare"), { domain, series, yLabel: metric.unit, yDomain: metric.domain, tickFormat: metric.tick || fmt.tick, size: { width: 1000, height: 300 } });
    brush(chart, ([a, z]) => go(rangeParams({ start: a, end: z })));
    legend($("legend-compare"), series.map((s) => ({ label: s.label, color: s.color })));
    if (series.every((s) => !s.points.length)) showState("No data for these channels in this range.");
  }

  function renderPicker() {
    const box = $("compare-channels");
    const ids = [...new Set([...app.channels.keys(), ...channels])].sort();
    box.replaceChildren(...ids.map((id) => {
      const label = document.createElement("label");
      label.className = "pick";
      const input = document.createElement("input");
      input.type = "checkbox";
      input.value = id;
      input.checked = channels.includes(id);
      input.disabled = !input.checked && channels.length >= MAX;
      input.onchange = () => {
        const next = input.checked ? [...channels, id] : channels.filter((c) => c !== id);
        go({ c: next.join(",") });
      };
      const k = channels.indexOf(id);
      const sw = document.createElement("span");
      sw.className = "swatch";
      sw.setAttribute("aria-hidden", "true");
      sw.style.background = k >= 0 ? SERIES_COLORS[k] : "transparent";
      label.append(input, sw, id);
      return label;
    }));
  }

  function showState(text) {
    $("compare-state").hidden = !text;
    $("compare-state").textContent = text;
  }

  return {
    unmount() {
      mounted = false;
      app.channelListeners.delete(onList);
    },
  };
}
