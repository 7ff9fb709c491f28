// CSV downloads of a channel's windows (ExportWindows: GET /v1/channels/{c}/metrics:export):
// one session's (session=…) or a range's. The file is fetched with the token (api.js download).
import { download, query } from "./api.js";

export function exportURL(channel, params) {
  return `/v1/channels/${encodeURIComponent(channel)}/metrics:export?` + query({ include_provisional: true, ...params });
}

// saveCSV downloads url when button is pressed; the button is disabled meanwhile and remembers
// the saved file's name (data-saved). failed(err) handles an error.
export async function saveCSV(button, url, fallbackName, failed) {
  button.disabled = true;
  try {
    const { filename } = await download(url, fallbackName);
    button.dataset.saved = filename;
  } catch (err) {
    failed(err);
  } finally {
    button.disabled = false;
  }
}
