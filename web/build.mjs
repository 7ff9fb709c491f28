// Builds the dashboard into gateway/dashboard/dist (committed: the Go binary embeds it).
import { build } from "esbuild";
import { copyFile, mkdir } from "node:fs/promises";

const out = new URL("../gateway/dashboard/dist/", import.meta.url);
await mkdir(out, { recursive: true });
await build({
  entryPoints: [new URL("src/main.js", import.meta.url).pathname],
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2020",
  legalComments: "none",
  outfile: new URL("app.js", out).pathname,
});
for (const f of ["index.html", "style.css"]) {
  await copyFile(new URL("src/" + f, import.meta.url), new URL(f, out));
}
