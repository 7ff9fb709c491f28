// Telemetra's dashboard: a small single-page app with hash routes (route.js): the overview of
// live rankings, a channel's charts, a stream's report and a compare view, with the pipeline's
// health on every page. This module is the shell: the token, the connection state, the channel
// list (kept fresh from the status stream) and the router. Live updates come from streams read
// with fetch so that they carry the bearer token (./sse.js). A gateway started with
// --auth-token answers 401 until the page has its token: the page then asks for it.
import { api, tokenStore, authHeaders, Unauthorized } from "./api.js";
import { connectEventStream } from "./sse.js";
import { parseHash, hashFor } from "./route.js";
import { startHealth } from "./health.js";
import { mountOverview } from "./overview.js";
import { mountChannel } from "./channel.js";
import { mountReport } from "./report.js";
import { mountCompare } from "./compare.js";

const $ = (id) => document.getElementById(id);

// app is what pages share: the session, the channel list, the connection line, the token form.
const app = {
  session: 0, // bumped whenever the page starts over (new token, sign out): stale callbacks check it
  channels: new Map(), // id → {status}
  channelListeners: new Set(), // called after the channel list changed
  lastChannel: "", // the channel page's last channel: "Channels" goes back to it
  events: 0,
  listSource: null,
  page: null, // the mounted page: {name, unmount()}
  health: null,
  $,
  // alive tells a callback started in session whether its page still counts
  alive: (session) => session === app.session,
  setConnection,
  countEvent,
  openStream,
  askForToken,
  navigate: (path, params, { replace = false } = {}) => {
    const hash = hashFor(path, params);
    if (hash === location.hash) return;
    if (replace) history.replaceState(null, "", hash);
    else history.pushState(null, "", hash);
    route();
  },
  // failed handles an error of a call: a 401 brings the form back (true: the caller stops)
  failed(err) {
    if (err instanceof Unauthorized) {
      askForToken(err.tokenSent);
      return true;
    }
    return false;
  },
  upsertChannel(id, status) {
    app.channels.set(id, { status: status || (app.channels.get(id) || {}).status || {} });
    for (const f of app.channelListeners) f(id);
  },
};

// ---- the bearer token ------------------------------------------------------------------------

// askForToken stops everything and shows the token form instead of the dashboard: without a
// token there is nothing to show, and "No channels yet" or "disconnected" would be untrue.
function askForToken(tokenSent) {
  resetSession();
  if (tokenSent) tokenStore.forget(); // a refused token is no use on reload either
  const reason = tokenSent ? "token rejected" : "token required";
  setConnection(false, reason);
  $("login-reason").textContent = tokenSent
    ? "Token rejected: the gateway refused this token. Enter the token it was started with (--auth-token)."
    : "Token required: this gateway was started with --auth-token. Enter its token to see the dashboard.";
  $("dashboard").hidden = true;
  $("pages").hidden = true;
  $("sign-out").hidden = true;
  $("login").hidden = false;
  $("login-submit").disabled = false;
  $("token").value = "";
  $("token").focus();
}

function showDashboard() {
  $("login").hidden = true;
  $("dashboard").hidden = false;
  $("pages").hidden = false;
  $("sign-out").hidden = !tokenStore.get();
}

$("login").addEventListener("submit", (e) => {
  e.preventDefault();
  const token = $("token").value.trim();
  if (!token) return;
  tokenStore.set(token);
  $("token").value = "";
  $("login-submit").disabled = true;
  setConnection(false, "checking token…");
  start();
});

$("sign-out").addEventListener("click", () => {
  tokenStore.forget();
  setConnection(false, "connecting…");
  start(); // a gateway that wants a token answers 401 and the form comes back
});

// ---- connection state ----------------------------------------------------------------------

function setConnection(ok, text) {
  const el = $("connection");
  el.textContent = text;
  el.className = "connection " + (ok ? "ok" : "bad");
}

const RETRY_TEXT = {
  network: "reconnecting…",
  refused: "disconnected — retrying…",
  ended: "stream ended — reconnecting…", // e.g. a subscriber too slow: the retry starts over with a snapshot
};

// openStream subscribes to /v1/events:sse with params; handlers maps event names (window,
// moment, status, heartbeat) to functions of the decoded ChannelEvent. Reconnects resubscribe
// with the same params, so a snapshot comes again.
function openStream(params, handlers) {
  const session = app.session;
  return connectEventStream("/v1/events:sse?" + params, {
    headers: authHeaders,
    onOpen: () => setConnection(true, "live"),
    onEvent: (ev) => {
      if (ev.type === "error") { // the server ends the stream with its status; the retry follows
        console.warn("event stream ended by the gateway:", ev.data);
        return;
      }
      const handle = handlers[ev.type];
      if (handle) handle(JSON.parse(ev.data));
    },
    onRetry: (reason) => setConnection(false, RETRY_TEXT[reason]),
    onUnauthorized: ({ authorizationSent }) => app.alive(session) && askForToken(authorizationSent),
  });
}

function countEvent() {
  app.events++;
  document.body.dataset.events = String(app.events);
  $("connection").textContent = "live · " + new Date().toLocaleTimeString();
}

function watchList() {
  if (app.listSource) app.listSource.close();
  app.listSource = openStream("types=CHANNEL_EVENT_TYPE_STATUS&include_snapshot=true", {
    status: (ev) => {
      countEvent();
      app.upsertChannel(ev.channel, ev.status.status);
    },
    heartbeat: () => {},
  });
}

// ---- pages -------------------------------------------------------------------------------------

const PAGES = {
  overview: mountOverview,
  channel: mountChannel,
  compare: mountCompare,
};

let routes = 0; // counts route() calls: a page that redirects while mounting starts another

// route mounts the page the hash names (the overview when it names none).
function route() {
  if ($("dashboard").hidden) return; // behind the token form: start() routes after signing in
  const mine = ++routes;
  const { path, params } = parseHash(location.hash);
  let name = path[0] in PAGES ? path[0] : "overview";
  let mount = PAGES[name];
  if (name === "channel" && path[2] === "report" && path[3]) {
    name = "report";
    mount = mountReport;
  }
  if (app.page) app.page.unmount();
  app.page = null;
  for (const el of document.querySelectorAll(".page")) el.hidden = el.id !== "page-" + name;
  for (const a of $("pages").querySelectorAll("a")) {
    if (a.dataset.page === (name === "report" ? "channel" : name)) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const page = mount(app, { path, params });
  if (mine !== routes) return page.unmount(); // it redirected: the page routed to is mounted
  app.page = { name, ...page };
}

window.addEventListener("hashchange", route);

// ---- start ---------------------------------------------------------------------------------

// resetSession closes the streams and forgets what the page showed; callbacks of the old
// session see app.session moved on and do nothing.
function resetSession() {
  app.session++;
  if (app.page) app.page.unmount();
  app.page = null;
  if (app.listSource) app.listSource.close();
  app.listSource = null;
  if (app.health) app.health.stop();
  app.health = null;
  app.channels.clear();
  for (const el of document.querySelectorAll(".page")) el.hidden = true;
  return app.session;
}

// start loads the channel list and subscribes; on page load, after a token was entered and after
// signing out. Its first call tells whether the gateway wants a token: with none configured
// it succeeds and no form is ever shown.
async function start() {
  const session = resetSession();
  try {
    const r = await api("/v1/channels?page_size=1000");
    if (!app.alive(session)) return;
    for (const c of r.channels || []) app.channels.set(c.channelId, { status: c.status });
  } catch (err) {
    if (!app.alive(session)) return;
    if (app.failed(err)) return;
    setConnection(false, "API unavailable — retrying…");
  }
  showDashboard();
  watchList();
  app.health = startHealth(app);
  route();
}

start();
