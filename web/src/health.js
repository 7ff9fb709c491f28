// The pipeline-health strip on every page: consumer lag, freshness and the dead-letter rate from
// /v1/pipeline:health, polled every POLL_MS while the tab is visible (a hidden tab asks nothing;
// it asks at once when shown again). The state colours the strip; its problems are listed when
// it is expanded and in its tooltip.
import { api, HTTPError } from "./api.js";
import { fmt, seconds } from "./format.js";

const POLL_MS = 7000;

// startHealth polls until stop().
export function startHealth(app) {
  const $ = app.$;
  const session = app.session;
  let timer = null;
  let stopped = false;
  let asking = false; // a request is under way: a tab shown again does not ask twice

  function show(state, text, figures, problems) {
    const el = $("health");
    el.className = "health " + state;
    el.dataset.state = state;
    $("health-state").textContent = text;
    $("health-figures").textContent = figures;
    $("health-problems").replaceChildren(...problems.map((p) => {
      const li = document.createElement("li");
      li.textContent = p;
      return li;
    }));
    el.title = problems.length ? problems.join("\n") : text;
  }

  async function poll() {
    timer = null;
    if (stopped || document.hidden) return;
    asking = true;
    try {
      const h = await api("/v1/pipeline:health");
      if (stopped || !app.alive(session)) return;
      const lag = (h.consumers || []).map((c) => `${c.consumer} lag ${fmt.count(c.lagRecords)}`);
      const figures = [
        ...lag,
        `live freshness ${freshness(h.liveFreshness)}`,
        h.projectionFreshness !== undefined ? `history freshness ${freshness(h.projectionFreshness)}` : "no history",
        `DLQ ${fmt.decimal(h.deadLettersPerMinute)}/min (${fmt.count(h.deadLettersTotal)} ever)`,
        `late ${fmt.decimal(h.lateEventsPerMinute)}/min`,
      ].join(" · ");
      const state = h.state || "unknown";
      show(state, `pipeline: ${state}`, figures, h.problems || []);
    } catch (err) {
      if (stopped || !app.alive(session)) return;
      if (app.failed(err)) return;
      const missing = err instanceof HTTPError && (err.status === 404 || err.status === 501);
      show("unknown", missing ? "pipeline: health not served by this gateway" : "pipeline: health unavailable", "", [err.message]);
    } finally {
      asking = false;
    }
    schedule();
  }

  function schedule() {
    if (!stopped && !document.hidden && timer === null) timer = setTimeout(poll, POLL_MS);
  }

  function onVisibility() {
    if (document.hidden) {
      clearTimeout(timer);
      timer = null;
    } else if (timer === null && !asking) {
      poll();
    }
  }

  document.addEventListener("visibilitychange", onVisibility);
  poll();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisibility);
    },
  };
}

function freshness(d) {
  if (d === undefined) return "–"; // nothing to be fresh yet
  const s = seconds(d);
  return s < 60 ? `${fmt.decimal(Math.round(s * 10) / 10)} s` : fmt.duration(s);
}

