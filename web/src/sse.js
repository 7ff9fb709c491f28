// Server-Sent Events (and newline-delimited JSON) over fetch. EventSource cannot send headers,
// so with it the bearer token would have to go into the URL (and from there into access logs and
// history); fetch sends it as an Authorization header. This module does the two things
// EventSource did for us: parse the stream's framing, and reconnect with backoff.

// sseParser returns a function to feed the stream's text to, in chunks split anywhere. It calls
// onEvent({type, data, id}) for each complete event and onRetry(ms) for a "retry:" field, as the
// HTML standard's "parse an event stream" does: "event:", "data:" (several join with newlines),
// "id:" lines; a line starting with ":" is a comment; a blank line ends the event.
export function sseParser({ onEvent, onRetry = () => {} }) {
  let partial = ""; // text after the last complete line
  let type = "";
  let data = [];
  let lastId = "";

  function line(text) {
    if (text === "") {
      if (data.length) onEvent({ type: type || "message", data: data.join("\n"), id: lastId });
      type = "";
      data = [];
      return;
    }
    if (text.startsWith(":")) return;
    const colon = text.indexOf(":");
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") type = value;
    else if (field === "data") data.push(value);
    else if (field === "id" && !value.includes("\0")) lastId = value;
    else if (field === "retry" && /^\d+$/.test(value)) onRetry(Number(value));
  }

  return (chunk) => {
    let text = partial + chunk;
    // a chunk ending in CR may be the first half of a CRLF: keep it for the next chunk to decide
    const heldCR = text.endsWith("\r");
    if (heldCR) text = text.slice(0, -1);
    const lines = text.split(/\r\n|\r|\n/);
    partial = lines.pop() + (heldCR ? "\r" : "");
    for (const l of lines) line(l);
  };
}

// ndjsonParser is the framing of the gateway's gRPC streams over REST: one JSON object per line.
// Each line is delivered as an event of type "message" with the line as its data.
export function ndjsonParser({ onEvent }) {
  let partial = "";
  return (chunk) => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop();
    for (const l of lines) if (l.trim()) onEvent({ type: "message", data: l, id: "" });
  };
}

// connectEventStream reads url as a Server-Sent Events stream (see connectStream).
export function connectEventStream(url, options) {
  return connectStream(url, { ...options, mediaType: "text/event-stream", framing: sseParser });
}

// connectNDJSONStream reads url as newline-delimited JSON (see connectStream).
export function connectNDJSONStream(url, options) {
  return connectStream(url, { ...options, mediaType: "application/x-ndjson", framing: ndjsonParser });
}

// connectStream reads url as a stream of mediaType, split into events by framing, until close(),
// reconnecting after a network error, a refused request or the server ending the stream. Each
// attempt has its own AbortController, aborted on close and before the next attempt. Callbacks:
//   headers()            request headers, asked for on every attempt
//   onOpen()             the server accepted the stream
//   onEvent({type, data, id})
//   onRetry(reason, ms, status)  reconnecting in ms; reason is "network", "refused" (an HTTP
//                        error or not of mediaType; status is the response's) or "ended" (the
//                        server closed the stream)
//   onUnauthorized({authorizationSent})  HTTP 401: the stream stops, a new token is needed
// The delay starts at minDelay and doubles up to maxDelay; an event arriving resets it.
function connectStream(url, {
  mediaType, framing, headers = () => ({}), onOpen = () => {}, onEvent, onRetry = () => {}, onUnauthorized,
  minDelay = 1000, maxDelay = 30_000,
}) {
  let closed = false;
  let attempt = null; // the AbortController of the current connection
  let timer = null;
  let baseDelay = minDelay; // a "retry:" field from the server replaces minDelay
  let delay = baseDelay;

  function retry(reason, status) {
    if (closed) return;
    // ±20%: many tabs reconnecting after a gateway restart spread out
    const wait = Math.round(delay * (0.8 + Math.random() * 0.4));
    delay = Math.min(delay * 2, maxDelay);
    onRetry(reason, wait, status);
    timer = setTimeout(connect, wait);
  }

  function deliver(ev) {
    delay = baseDelay;
    try {
      onEvent(ev);
    } catch (err) {
      reportError(err); // a handler's bug: surface it, keep the stream
    }
  }

  async function connect() {
    timer = null;
    if (attempt) attempt.abort();
    const mine = new AbortController();
    attempt = mine;
    const sent = headers();
    let response;
    try {
      response = await fetch(url, { headers: { Accept: mediaType, ...sent }, cache: "no-store", signal: mine.signal });
    } catch (err) {
      if (!mine.signal.aborted) retry("network");
      return;
    }
    if (response.status === 401) {
      closed = true;
      mine.abort();
      onUnauthorized({ authorizationSent: "Authorization" in sent });
      return;
    }
    if (!response.ok || !(response.headers.get("Content-Type") || "").startsWith(mediaType)) {
      mine.abort();
      retry("refused", response.status);
      return;
    }
    onOpen();
    const push = framing({ onEvent: deliver, onRetry: (ms) => { baseDelay = ms; } });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        push(value);
      }
    } catch (err) {
      if (!mine.signal.aborted) retry("network");
      return;
    }
    if (!mine.signal.aborted) retry("ended");
  }

  connect();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      if (attempt) attempt.abort();
    },
  };
}
