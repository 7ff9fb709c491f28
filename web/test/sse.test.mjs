// The dashboard's fetch-based event stream (src/sse.js) against a local HTTP server: the SSE
// framing however the bytes are split, reconnecting with backoff, 401, and abort on close.
//   node --test test/sse.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { once } from "node:events";
import { sseParser, connectEventStream } from "../src/sse.js";

function parseAll(chunks) {
  const events = [];
  const retries = [];
  const push = sseParser({ onEvent: (e) => events.push(e), onRetry: (ms) => retries.push(ms) });
  for (const c of chunks) push(c);
  return { events, retries };
}

test("framing: event, data, id; blank line ends an event", () => {
  const { events } = parseAll(["id: 7\nevent: window\ndata: {\"a\":1}\n\n: a comment\n\ndata: plain\n\n"]);
  assert.deepEqual(events, [
    { type: "window", data: "{\"a\":1}", id: "7" },
    { type: "message", data: "plain", id: "7" }, // the last id carries over, the type does not
  ]);
});

test("framing: any split, CRLF and CR line ends, multi-line data, retry", () => {
  const text = "event: moment\r\ndata: one\r\ndata:two\r\rretry: 1500\nevent: status\ndata: x\n\npartial";
  const whole = parseAll([text]);
  assert.deepEqual(whole.events, [
    { type: "moment", data: "one\ntwo", id: "" },
    { type: "status", data: "x", id: "" },
  ]);
  assert.deepEqual(whole.retries, [1500]);
  for (let cut = 1; cut < text.length; cut++) { // every split in two, including inside a CRLF
    const split = parseAll([text.slice(0, cut), text.slice(cut)]);
    assert.deepEqual(split.events, whole.events, `split at ${cut}`);
  }
  assert.deepEqual(parseAll([...text]).events, whole.events, "one character at a time");
});

test("framing: an event without data is not dispatched", () => {
  assert.deepEqual(parseAll(["event: heartbeat\n\n"]).events, []);
  assert.deepEqual(parseAll(["data:\n\n"]).events, [{ type: "message", data: "", id: "" }]);
});

// serve answers each request with the next of handlers (the last one repeats) and records each
// request's Authorization header and a promise of its connection closing.
async function serve(handlers) {
  const requests = [];
  const server = createServer((req, res) => {
    requests.push({ authorization: req.headers.authorization, closed: once(req.socket, "close") });
    handlers[Math.min(requests.length, handlers.length) - 1](req, res);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const stop = () => { server.closeAllConnections(); server.close(); }; // no waiting out idle keep-alive connections
  return { url: `http://127.0.0.1:${server.address().port}/v1/events:sse?x=1`, requests, stop };
}

const stream = (body) => (req, res) => {
  res.writeHead(200, { "Content-Type": "text/event-stream" });
  res.end(body);
};

function waitFor(what, ok, ms = 5000) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      if (ok()) { clearInterval(poll); resolve(); }
      else if (Date.now() - started > ms) { clearInterval(poll); reject(new Error("timed out waiting for " + what)); }
    }, 10);
  });
}

test("reconnects when the server ends the stream, sending the headers again", async (t) => {
  const { url, requests, stop } = await serve([stream("event: status\ndata: {\"n\":1}\n\n"), stream("event: status\ndata: {\"n\":2}\n\n")]);
  t.after(stop);
  const events = [];
  const retries = [];
  const s = connectEventStream(url, {
    headers: () => ({ Authorization: "Bearer t0k" }),
    onEvent: (e) => events.push(JSON.parse(e.data).n),
    onRetry: (reason, ms) => retries.push({ reason, ms }),
    minDelay: 50,
  });
  await waitFor("two events", () => events.length >= 2);
  s.close();
  assert.deepEqual(events.slice(0, 2), [1, 2]);
  assert.equal(retries[0].reason, "ended");
  assert.ok(requests.length >= 2 && requests.every((r) => r.authorization === "Bearer t0k"), "every attempt carries the token header");
});

test("backs off on refused requests: the delay doubles up to maxDelay, an event resets it", async (t) => {
  const refuse = (req, res) => { res.writeHead(503, { "Content-Type": "application/json" }); res.end("{\"code\":14}"); };
  const { url, stop } = await serve([refuse, refuse, refuse, refuse, stream("data: ok\n\n"), refuse]);
  t.after(stop);
  const retries = [];
  const s = connectEventStream(url, { onEvent: () => {}, onRetry: (reason, ms) => retries.push({ reason, ms }), minDelay: 20, maxDelay: 80 });
  await waitFor("six retries", () => retries.length >= 6);
  s.close();
  assert.deepEqual(retries.slice(0, 6).map((r) => r.reason), ["refused", "refused", "refused", "refused", "ended", "refused"]);
  const nominal = [20, 40, 80, 80, 20, 40]; // after the event of attempt 5 the delay starts over
  retries.slice(0, 6).forEach((r, i) => assert.ok(r.ms >= nominal[i] * 0.8 && r.ms <= nominal[i] * 1.2, `retry ${i + 1}: ${r.ms}ms, want about ${nominal[i]}`));
});

test("401 stops the stream and says whether a token was sent", async (t) => {
  const unauthorized = (req, res) => { res.writeHead(401, { "Content-Type": "application/json" }); res.end("{\"code\":16,\"message\":\"missing or wrong bearer token\"}"); };
  const { url, requests, stop } = await serve([unauthorized]);
  t.after(stop);
  for (const [headers, sent] of [[{}, false], [{ Authorization: "Bearer wrong" }, true]]) {
    const before = requests.length;
    let got;
    const retries = [];
    connectEventStream(url, { headers: () => headers, onEvent: () => {}, onRetry: (r) => retries.push(r), onUnauthorized: (u) => { got = u; }, minDelay: 10 });
    await waitFor("the 401", () => got);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(got, { authorizationSent: sent });
    assert.equal(requests.length, before + 1, "no retry after a 401");
    assert.deepEqual(retries, []);
  }
});

test("close aborts the open connection and stops reconnecting", async (t) => {
  const hold = (req, res) => { res.writeHead(200, { "Content-Type": "text/event-stream" }); res.write("event: heartbeat\ndata: {}\n\n"); };
  const { url, requests, stop } = await serve([hold]);
  t.after(stop);
  let opened = 0;
  const s = connectEventStream(url, { onOpen: () => opened++, onEvent: () => {}, minDelay: 10 });
  await waitFor("the stream to open", () => opened === 1);
  s.close();
  await requests[0].closed; // the server sees the connection go
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(requests.length, 1, "no reconnect after close");
});
