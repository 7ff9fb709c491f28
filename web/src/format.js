// Localised numbers, money, durations and times: one place for every figure the dashboard shows.
// Intl formatters follow the browser's language (navigator.language); money is USD, the API's
// only currency (amounts arrive as integer cents).

const locale = (typeof navigator !== "undefined" && navigator.language) || "en-US";

const integer = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat(locale, { maximumFractionDigits: 2 });
const usd = new Intl.NumberFormat(locale, { style: "currency", currency: "USD" });
const compactNumber = new Intl.NumberFormat(locale, { notation: "compact", maximumFractionDigits: 1 });
const compactUSD = new Intl.NumberFormat(locale, { style: "currency", currency: "USD", notation: "compact", maximumFractionDigits: 1 });
const signed = new Intl.NumberFormat(locale, { maximumFractionDigits: 2, signDisplay: "exceptZero" });
const percent = new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 0, signDisplay: "exceptZero" });

// num reads a JSON number field: int64s arrive as strings, unset fields are absent.
export const num = (v) => Number(v || 0);

const plurals = new Intl.PluralRules(locale);

export const fmt = {
  locale,
  // a count and its noun: "1 channel", "8 channels"
  counted: (v, one, many) => `${integer.format(num(v))} ${plurals.select(num(v)) === "one" ? one : many}`,
  count: (v) => integer.format(num(v)),
  decimal: (v) => decimal.format(num(v)),
  signed: (v) => signed.format(num(v)),
  cents: (v) => usd.format(num(v) / 100),
  dollars: (v) => usd.format(num(v)),
  // axis ticks: short, so the left margin holds them
  tick: (v) => (Math.abs(v) >= 10_000 ? compactNumber.format(v) : decimal.format(v)),
  tickDollars: (v) => (Math.abs(v) >= 10_000 ? compactUSD.format(v) : usd.format(v)),
  // change of now against before, as a percentage; "new" when there was nothing before
  change: (now, before) => (num(before) > 0 ? percent.format(num(now) / num(before) - 1) : num(now) > 0 ? "new" : "–"),
  time: (t) => new Date(t).toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" }),
  dateTime: (t) => new Date(t).toLocaleString(locale, { dateStyle: "medium", timeStyle: "short" }),
  // a protobuf JSON Duration ("5025.500s") or a number of seconds, as "1 h 23 min"
  duration: (d) => {
    const s = typeof d === "string" ? parseFloat(d) : num(d);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    if (h > 0) return `${integer.format(h)} h ${m} min`;
    if (m > 0) return `${m} min`;
    return `${Math.round(s)} s`;
  },
};

// seconds of a protobuf JSON Duration ("1.500s")
export const seconds = (d) => (typeof d === "string" ? parseFloat(d) : num(d));
