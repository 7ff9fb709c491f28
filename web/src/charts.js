// The dashboard's D3 charts. A chart draws into a 520×190 viewBox (the compare view's into a wider
// one, {width, height}), so its text keeps the same size; margins are measured from the labels
// they must hold (the longest tick or category label), so no label is clipped. Colour
// keys are HTML legends next to the chart (legend()), readable by screen readers too.
import * as d3 from "d3";
import { fmt, num } from "./format.js";

export const W = 520, H = 190;
const TOP = 10, RIGHT = 22, BOTTOM = 34;
const FONT = "11px system-ui, sans-serif"; // .chart .axis text in style.css
export const KIND_COLORS = { chat_spike: "#5b2bd6", viewer_spike: "#0a7d32", viewer_drop: "#b3261e", hype: "#9a4a00", raid: "#00639a" };
export const KIND_LABELS = { chat_spike: "chat spike", viewer_spike: "viewer spike", viewer_drop: "viewer drop", hype: "hype", raid: "raid" };
// one colour per series of a compare chart or legend (distinguishable, dark enough on white)
export const SERIES_COLORS = ["#5b2bd6", "#0a7d32", "#b3261e", "#00639a"];

export const kindOf = (m) => String(m.kind || "").replace("MOMENT_KIND_", "").toLowerCase();

let measureContext = null;
// textWidth is the width of text in the charts' font, in viewBox units (the same as CSS px at
// that font size). Measured on a canvas, so it works for charts not yet shown.
export function textWidth(text) {
  if (!measureContext) {
    measureContext = document.createElement("canvas").getContext("2d");
    measureContext.font = FONT;
  }
  return measureContext.measureText(String(text)).width;
}

const SMALL = { width: W, height: H };

function base(svg, size = SMALL) {
  const s = d3.select(svg).attr("viewBox", `0 0 ${size.width} ${size.height}`);
  s.selectAll("*").remove();
  s.node().__size = size;
  return s;
}

const sizeOf = (s) => s.node().__size || SMALL;

export function emptyText(s, text) {
  const { width, height } = sizeOf(s);
  s.append("text").attr("class", "empty-text").attr("x", width / 2).attr("y", height / 2).attr("text-anchor", "middle").text(text);
}

function timeAxis(s, x) {
  const { width, height } = sizeOf(s);
  s.append("g").attr("class", "axis").attr("transform", `translate(0,${height - BOTTOM})`)
    .call(d3.axisBottom(x).ticks(Math.round(width / 100)).tickFormat(timeTick(x.domain())));
  s.append("text").attr("class", "axis-label").attr("x", width - 4).attr("y", height - 5).attr("text-anchor", "end").text("time (local)");
}

// timeTick shows dates on ranges of more than a day
function timeTick([start, end]) {
  return end - start > 36 * 3600_000 ? d3.timeFormat("%b %d %H:%M") : d3.timeFormat("%H:%M");
}

// frame draws the axes of a time chart and returns its scales. The left margin fits the widest
// y tick label plus the rotated axis title.
function frame(svg, domain, yDomain, yLabel, tickFormat, size = SMALL) {
  const s = base(svg, size);
  const bottom = size.height - BOTTOM;
  const y = d3.scaleLinear().domain(yDomain).nice().range([bottom, TOP]);
  const ticks = y.ticks(5);
  const widest = d3.max(ticks, (t) => textWidth(tickFormat(t))) || 0;
  const left = Math.ceil(widest) + 9 + 18; // tick text, tick line and padding, axis title
  const x = d3.scaleTime().domain(domain).range([left, size.width - RIGHT]);
  // the unit first: a chart's first .axis-label names what it counts
  s.append("text").attr("class", "axis-label").attr("transform", "rotate(-90)")
    .attr("x", -(bottom + TOP) / 2).attr("y", 12).attr("text-anchor", "middle").text(yLabel);
  timeAxis(s, x);
  s.append("g").attr("class", "axis").attr("transform", `translate(${left},0)`).call(d3.axisLeft(y).ticks(5).tickFormat(tickFormat));
  return { s, x, y, left, top: TOP, bottom };
}

// segments splits points where a gap is much longer than their usual step (the channel was
// offline): a line across the gap would invent values.
function segments(points) {
  if (points.length < 3) return [points];
  const steps = points.slice(1).map((p, k) => p[0] - points[k][0]).sort((a, b) => a - b);
  const gap = 2.5 * steps[Math.floor(steps.length / 2)];
  const out = [[points[0]]];
  for (let k = 1; k < points.length; k++) {
    if (points[k][0] - points[k - 1][0] > gap) out.push([]);
    out[out.length - 1].push(points[k]);
  }
  return out;
}

// lineChart draws series [{label, color, points: [[ms, value]]}] over the time domain. It
// returns the scale and plot area, for a brush.
export function lineChart(svg, { domain, series, yLabel, yDomain, tickFormat = fmt.tick, size }) {
  const max = d3.max(series, (ser) => d3.max(ser.points, (p) => p[1])) || 1;
  const f = frame(svg, domain, yDomain || [0, max * 1.1], yLabel, tickFormat, size);
  if (!series.some((ser) => ser.points.length)) emptyText(f.s, "No data yet");
  const plot = f.s.append("g").attr("class", "plot");
  const line = d3.line().x((p) => f.x(p[0])).y((p) => f.y(p[1]));
  for (const ser of series) {
    plot.append("path").datum(segments(ser.points)).attr("class", "line").attr("stroke", ser.color)
      .attr("data-series", ser.label)
      .attr("d", (parts) => parts.map(line).join(""));
    // points too, where they are few enough to tell apart: a line needs two windows, a new
    // channel has one
    if (ser.points.length > 180) continue;
    plot.append("g").selectAll("circle").data(ser.points).join("circle").attr("r", 2.5).attr("fill", ser.color)
      .attr("cx", (p) => f.x(p[0])).attr("cy", (p) => f.y(p[1]))
      .append("title").text((p) => `${ser.label} · ${fmt.time(p[0])}: ${tickFormat(p[1])}`);
  }
  return f;
}

// barChart draws one bar per window (start, end, value, final); provisional windows are lighter.
export function barChart(svg, { domain, bars, yLabel, color, tickFormat = fmt.tick, valueText = fmt.decimal }) {
  const f = frame(svg, domain, [0, (d3.max(bars, (b) => b.value) || 1) * 1.1], yLabel, tickFormat);
  if (!bars.length) return emptyText(f.s, "No data yet"), f;
  f.s.append("g").selectAll("rect").data(bars).join("rect").attr("class", "bar").attr("fill", color)
    .attr("opacity", (b) => (b.final ? 1 : 0.45))
    .attr("x", (b) => f.x(b.start))
    .attr("width", (b) => Math.max(1, f.x(b.end) - f.x(b.start) - 1))
    .attr("y", (b) => f.y(b.value)).attr("height", (b) => f.bottom - f.y(b.value))
    .append("title").text((b) => `${fmt.time(b.start)}: ${valueText(b.value)}${b.final ? "" : " (provisional)"}`);
  return f;
}

// emotesChart draws emotes [{emote, count}] as horizontal bars; the left margin fits the longest
// emote name.
export function emotesChart(svg, emotes, emptyMessage) {
  const s = base(svg);
  if (!emotes.length) return emptyText(s, emptyMessage);
  const left = Math.ceil(d3.max(emotes, (e) => textWidth(e.emote))) + 12;
  // bars of at most 22 units: one emote is not a wall of colour
  const y = d3.scaleBand().domain(emotes.map((e) => e.emote)).range([TOP, TOP + Math.min(H - BOTTOM - TOP, emotes.length * 22)]).padding(0.15);
  const most = d3.max(emotes, (e) => num(e.count));
  const x = d3.scaleLinear().domain([0, most]).nice().range([left, W - RIGHT]);
  s.append("g").attr("class", "axis").attr("transform", `translate(${left},0)`).call(d3.axisLeft(y));
  s.append("g").attr("class", "axis").attr("transform", `translate(0,${H - BOTTOM})`)
    .call(d3.axisBottom(x).ticks(Math.min(5, most)).tickFormat(fmt.tick)); // uses are whole
  s.append("text").attr("class", "axis-label").attr("x", W - 4).attr("y", H - 5).attr("text-anchor", "end").text("uses");
  s.append("g").selectAll("rect").data(emotes).join("rect").attr("class", "bar").attr("fill", "#5b2bd6")
    .attr("x", left).attr("y", (e) => y(e.emote)).attr("height", y.bandwidth()).attr("width", (e) => x(num(e.count)) - left)
    .append("title").text((e) => `${e.emote}: ${fmt.count(e.count)}`);
}

// momentsChart marks moments on one row per kind over the time domain; the left margin fits the
// longest kind label. It returns the moments drawn.
export function momentsChart(svg, domain, moments) {
  const s = base(svg);
  const kinds = Object.keys(KIND_COLORS);
  const left = Math.ceil(d3.max(kinds, (k) => textWidth(KIND_LABELS[k]))) + 12;
  const x = d3.scaleTime().domain(domain).range([left, W - RIGHT]);
  timeAxis(s, x);
  const y = d3.scaleBand().domain(kinds).range([TOP, H - BOTTOM]).padding(0.2);
  s.append("g").attr("class", "axis kinds").attr("transform", `translate(${left},0)`).call(d3.axisLeft(y).tickFormat((k) => KIND_LABELS[k]));
  const inRange = moments.filter((m) => Date.parse(m.at) >= domain[0] && Date.parse(m.at) < domain[1]);
  s.append("g").selectAll("circle").data(inRange).join("circle").attr("class", "moment")
    .attr("cx", (m) => x(Date.parse(m.at))).attr("cy", (m) => (y(kindOf(m)) ?? TOP) + y.bandwidth() / 2).attr("r", 5)
    .attr("fill", (m) => KIND_COLORS[kindOf(m)] || "#333")
    .append("title").text((m) => `${fmt.time(m.at)} ${m.description || KIND_LABELS[kindOf(m)] || kindOf(m)}`);
  if (!inRange.length) emptyText(s, "No moments in this range");
  return inRange;
}

// sparkline draws values [[ms, v]] as a small line without axes.
export function sparkline(svg, points, color = "#5b2bd6") {
  const w = 120, h = 28;
  const s = d3.select(svg).attr("viewBox", `0 0 ${w} ${h}`);
  s.selectAll("*").remove();
  if (points.length < 1) return;
  const x = d3.scaleTime().domain(d3.extent(points, (p) => p[0])).range([2, w - 2]);
  const y = d3.scaleLinear().domain([0, d3.max(points, (p) => p[1]) || 1]).range([h - 2, 2]);
  s.append("path").datum(points).attr("class", "line").attr("stroke", color)
    .attr("d", d3.line().x((p) => x(p[0])).y((p) => y(p[1])));
  const last = points[points.length - 1];
  s.append("circle").attr("r", 2).attr("fill", color).attr("cx", x(last[0])).attr("cy", y(last[1]));
}

// brush lets the pointer select a time span of a chart drawn by lineChart or barChart; onSelect
// gets [startMs, endMs]. onActive(true) when a drag starts, onActive(false) when it ends without
// a span: a page must not redraw the chart (and its brush) in the middle of a drag.
export function brush({ s, x, top, bottom }, onSelect, onActive = () => {}) {
  const b = d3.brushX().extent([[x.range()[0], top], [x.range()[1], bottom]])
    .on("start", ({ sourceEvent }) => sourceEvent && onActive(true))
    .on("end", ({ selection, sourceEvent }) => {
      if (!sourceEvent) return;
      const [a, z] = selection ? selection.map((px) => x.invert(px).getTime()) : [0, 0];
      if (z - a >= 60_000) return onSelect([a, z]);
      onActive(false);
      if (selection) s.select("g.brush").call(b.move, null); // a click, not a span
    });
  s.append("g").attr("class", "brush").call(b);
}

// legend fills a <ul class="legend"> with one swatch and label per item {label, color, light}.
export function legend(ul, items) {
  ul.replaceChildren(...items.map(({ label, color, light }) => {
    const li = document.createElement("li");
    const sw = document.createElement("span");
    sw.className = "swatch";
    sw.style.background = color;
    if (light) sw.style.opacity = "0.45";
    sw.setAttribute("aria-hidden", "true");
    li.append(sw, label);
    return li;
  }));
}
