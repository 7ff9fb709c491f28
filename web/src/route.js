// The URL hash is the page's address: "#/overview", "#/channel/{c}", "#/channel/{c}/report/{s}",
// "#/compare?c=a,b". Query parameters after the path keep a page's choices (range, metric), so a
// reload or a shared link shows the same view.

// parseHash splits a hash into its path segments and its query.
export function parseHash(hash) {
  const text = (hash || "").replace(/^#\/?/, "");
  const q = text.indexOf("?");
  const path = (q < 0 ? text : text.slice(0, q)).split("/").filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(q < 0 ? "" : text.slice(q + 1));
  return { path, params };
}

// hashFor builds the hash of path segments and query parameters (empty values left out).
export function hashFor(path, params = {}) {
  const q = new URLSearchParams();
  const entries = params instanceof URLSearchParams ? [...params.entries()] : Object.entries(params);
  for (const [k, v] of entries) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const qs = q.toString().replace(/%2C/g, ",");
  return "#/" + path.map(encodeURIComponent).join("/") + (qs ? "?" + qs : "");
}

// ---- time ranges ---------------------------------------------------------------------------------

// A range is relative ({minutes}: the last so many minutes, moving with the clock) or fixed
// ({start, end} in ms, from the custom inputs or a brush zoom).
export const PRESETS = [
  [15, "last 15 minutes"],
  [60, "last hour"],
  [360, "last 6 hours"],
  [1440, "last 24 hours"],
  [10080, "last 7 days"],
];

// rangeFrom reads a range from the query: range=<minutes>, or from=<ISO>&to=<ISO>.
export function rangeFrom(params, fallbackMinutes = 60) {
  const from = Date.parse(params.get("from") || ""), to = Date.parse(params.get("to") || "");
  if (Number.isFinite(from) && Number.isFinite(to) && from < to) return { start: from, end: to };
  const minutes = Number(params.get("range"));
  return { minutes: minutes > 0 ? minutes : fallbackMinutes };
}

// rangeParams is the query of a range (the inverse of rangeFrom).
export function rangeParams(range) {
  if (range.minutes) return { range: range.minutes, from: "", to: "" };
  return { range: "", from: new Date(range.start).toISOString(), to: new Date(range.end).toISOString() };
}

// rangeBounds is the range's [start, end) in ms now; a relative range ends a minute ahead so the
// window in progress is included.
export function rangeBounds(range, now = Date.now()) {
  if (range.minutes) return [now - range.minutes * 60_000, now + 60_000];
  return [range.start, range.end];
}

// resolutionFor picks the bucket size of ListWindowMetrics so a range stays within a page of
// buckets (5000) and a chart of a few hundred points.
export function resolutionFor([start, end]) {
  const minutes = (end - start) / 60_000;
  if (minutes <= 1500) return "RESOLUTION_ONE_MINUTE";
  if (minutes <= 3 * 1440) return "RESOLUTION_FIVE_MINUTES";
  if (minutes <= 14 * 1440) return "RESOLUTION_FIFTEEN_MINUTES";
  return "RESOLUTION_ONE_HOUR";
}

// rangeText describes a range for people.
export function rangeText(range, fmtDateTime) {
  if (range.minutes) return (PRESETS.find(([m]) => m === range.minutes) || [0, `last ${range.minutes} minutes`])[1];
  return `${fmtDateTime(range.start)} – ${fmtDateTime(range.end)}`;
}
