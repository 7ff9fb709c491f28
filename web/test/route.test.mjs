// The dashboard's pure helpers: hash routes and ranges (src/route.js), figures (src/format.js),
// and the NDJSON framing of the rankings stream (src/sse.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseHash, hashFor, rangeFrom, rangeParams, rangeBounds, resolutionFor } from "../src/route.js";
import { fmt } from "../src/format.js";
import { ndjsonParser } from "../src/sse.js";

test("parseHash splits path and query", () => {
  const cases = [
    ["", [], ""],
    ["#/overview", ["overview"], ""],
    ["#/channel/demo_stream?range=60", ["channel", "demo_stream"], "range=60"],
    ["#/channel/a%20b/report/1796171472", ["channel", "a b", "report", "1796171472"], ""],
    ["#/compare?c=a,b,c&metric=viewers", ["compare"], "c=a%2Cb%2Cc&metric=viewers"],
  ];
  for (const [hash, path, q] of cases) {
    const r = parseHash(hash);
    assert.deepEqual(r.path, path, hash);
    assert.equal(r.params.toString(), q, hash);
  }
});

test("hashFor is parseHash's inverse and leaves out empty values", () => {
  assert.equal(hashFor(["compare"], { c: "a,b", range: "", from: undefined }), "#/compare?c=a,b");
  assert.equal(hashFor(["channel", "a b"]), "#/channel/a%20b");
  const h = hashFor(["channel", "x"], rangeParams({ start: Date.UTC(2026, 0, 1), end: Date.UTC(2026, 0, 2) }));
  assert.deepEqual(rangeFrom(parseHash(h).params), { start: Date.UTC(2026, 0, 1), end: Date.UTC(2026, 0, 2) });
});

test("rangeFrom reads presets and fixed ranges, and falls back", () => {
  const cases = [
    ["range=15", { minutes: 15 }],
    ["", { minutes: 60 }],
    ["range=-5", { minutes: 60 }],
    ["from=2026-01-01T00:00:00Z&to=2026-01-01T01:00:00Z", { start: Date.UTC(2026, 0, 1), end: Date.UTC(2026, 0, 1, 1) }],
    ["from=2026-01-01T01:00:00Z&to=2026-01-01T00:00:00Z&range=360", { minutes: 360 }], // an empty range is not one
    ["from=nonsense&to=2026-01-01T00:00:00Z", { minutes: 60 }],
  ];
  for (const [q, want] of cases) assert.deepEqual(rangeFrom(new URLSearchParams(q)), want, q);
});

test("rangeBounds: a relative range ends a minute ahead, a fixed one where it says", () => {
  assert.deepEqual(rangeBounds({ minutes: 60 }, 3_600_000), [0, 3_660_000]);
  assert.deepEqual(rangeBounds({ start: 5, end: 9 }, 100), [5, 9]);
});

test("resolutionFor keeps a range within a page of buckets", () => {
  const day = 1440 * 60_000;
  const cases = [
    [60 * 60_000, "RESOLUTION_ONE_MINUTE"],
    [day + 60_000, "RESOLUTION_ONE_MINUTE"],
    [2 * day, "RESOLUTION_FIVE_MINUTES"],
    [7 * day, "RESOLUTION_FIFTEEN_MINUTES"],
    [30 * day, "RESOLUTION_ONE_HOUR"],
  ];
  for (const [span, want] of cases) assert.equal(resolutionFor([0, span]), want, String(span));
});

test("figures are localised (en-US here)", () => {
  assert.equal(fmt.locale.startsWith("en"), true, "node's default language");
  const cases = [
    [fmt.count("3295"), "3,295"],
    [fmt.count(undefined), "0"],
    [fmt.cents("3703293"), "$37,032.93"],
    [fmt.dollars(0.5), "$0.50"],
    [fmt.tick(12_500), "12.5K"],
    [fmt.tick(2.5), "2.5"],
    [fmt.tickDollars(25), "$25.00"],
    [fmt.duration("5025.5s"), "1 h 23 min"],
    [fmt.duration(90), "1 min"],
    [fmt.duration(12), "12 s"],
    [fmt.change(150, 100), "+50%"],
    [fmt.change(5, 0), "new"],
    [fmt.change(0, 0), "–"],
    [fmt.signed(0.25), "+0.25"],
    [fmt.counted(1, "channel", "channels"), "1 channel"],
    [fmt.counted("1200", "channel", "channels"), "1,200 channels"],
  ];
  for (const [got, want] of cases) assert.equal(got, want);
});

test("ndjsonParser delivers one event per line however the text is split", () => {
  const text = '{"result":{"sequence":"1"}}\n{"result":{"sequence":"2"}}\n\n{"error":{"code":8}}\n';
  for (let cut = 0; cut <= text.length; cut++) {
    const got = [];
    const push = ndjsonParser({ onEvent: (ev) => got.push(JSON.parse(ev.data)) });
    push(text.slice(0, cut));
    push(text.slice(cut));
    assert.deepEqual(got, [{ result: { sequence: "1" } }, { result: { sequence: "2" } }, { error: { code: 8 } }], `cut at ${cut}`);
  }
});
