// The range picker: presets, a custom start and end, and a reset after a zoom. It only reports
// choices (onChange(range)); the page puts the range into the URL hash and redraws.
import { PRESETS } from "./route.js";

// datetime-local inputs speak local time without a zone
const localInput = (ms) => {
  const d = new Date(ms);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};

let lastPreset = 60; // where "reset zoom" goes back to

// rangePicker fills container for range; id is the select's id.
export function rangePicker(container, id, range, onChange) {
  if (range.minutes) lastPreset = range.minutes;
  container.innerHTML = `
    <label>Range <select id="${id}"></select></label>
    <span class="custom" hidden>
      <label>from <input id="${id}-start" type="datetime-local"></label>
      <label>to <input id="${id}-end" type="datetime-local"></label>
      <button id="${id}-apply" type="button" class="button">Apply</button>
    </span>
    <button id="${id}-reset" type="button" class="button" hidden>Reset zoom</button>`;
  const select = container.querySelector("select");
  const custom = container.querySelector(".custom");
  const start = container.querySelector(`#${id}-start`), end = container.querySelector(`#${id}-end`);
  for (const [minutes, label] of PRESETS) select.add(new Option(label, String(minutes)));
  select.add(new Option("custom…", "custom"));
  const reset = container.querySelector(`#${id}-reset`);
  if (range.minutes) {
    if (!PRESETS.some(([m]) => m === range.minutes)) select.add(new Option(`last ${range.minutes} minutes`, String(range.minutes)), 0);
    select.value = String(range.minutes);
  } else {
    select.value = "custom";
    custom.hidden = false;
    reset.hidden = false;
    start.value = localInput(range.start);
    end.value = localInput(range.end);
  }
  select.addEventListener("change", () => {
    if (select.value !== "custom") return onChange({ minutes: Number(select.value) });
    custom.hidden = false;
    const now = Date.now();
    start.value ||= localInput(now - lastPreset * 60_000);
    end.value ||= localInput(now);
    start.focus();
  });
  container.querySelector(`#${id}-apply`).addEventListener("click", () => {
    const a = new Date(start.value).getTime(), z = new Date(end.value).getTime();
    if (!(a < z)) {
      end.setCustomValidity("The end must be after the start");
      end.reportValidity();
      return;
    }
    end.setCustomValidity("");
    onChange({ start: a, end: z });
  });
  reset.addEventListener("click", () => onChange({ minutes: lastPreset }));
}
