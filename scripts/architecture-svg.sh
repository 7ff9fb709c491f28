#!/usr/bin/env bash
# Renders docs/img/architecture.svg from the Mermaid block of docs/architecture.md, with the
# Mermaid CLI (npm, pinned below) driving a headless Chromium: Debian's /usr/bin/chromium unless
# PUPPETEER_EXECUTABLE_PATH names another. Labels are SVG text (no HTML in foreignObject), so
# the picture renders outside browsers too. The SVG starts with a comment holding the block's
# SHA-256: cmd/telemetra's TestArchitecturePictureIsRenderedFromTheDoc fails when the block
# changed and the picture was not rendered again.
#
# Usage: scripts/architecture-svg.sh
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${REPO}"
MERMAID_CLI_VERSION=11.17.0

command -v npx >/dev/null || {
	echo "architecture-svg: npx is not installed (apt-get install npm)" >&2
	exit 1
}
export PUPPETEER_EXECUTABLE_PATH="${PUPPETEER_EXECUTABLE_PATH:-/usr/bin/chromium}"
export PUPPETEER_SKIP_DOWNLOAD=1
[[ -x ${PUPPETEER_EXECUTABLE_PATH} ]] || {
	echo "architecture-svg: no Chromium at ${PUPPETEER_EXECUTABLE_PATH} (apt-get install chromium)" >&2
	exit 1
}

tmp="$(mktemp -d "${TMPDIR:-/tmp}/architecture-svg.XXXXXX")"
trap 'rm -rf "${tmp}"' EXIT
# the lines between "```mermaid" and the next "```", each with its newline (what the test hashes)
awk '/^```mermaid$/ { inside = 1; next } inside && /^```$/ { exit } inside' docs/architecture.md >"${tmp}/architecture.mmd"
[[ -s ${tmp}/architecture.mmd ]] || {
	echo "architecture-svg: no \`\`\`mermaid block in docs/architecture.md" >&2
	exit 1
}
cat >"${tmp}/config.json" <<'JSON'
{"theme": "neutral", "htmlLabels": false, "flowchart": {"htmlLabels": false, "curve": "basis", "wrappingWidth": 400}}
JSON
# Chromium as root (containers, CI) needs --no-sandbox
printf '{"args": ["--no-sandbox", "--disable-gpu"]}\n' >"${tmp}/puppeteer.json"
npx --yes "@mermaid-js/mermaid-cli@${MERMAID_CLI_VERSION}" --quiet \
	--puppeteerConfigFile "${tmp}/puppeteer.json" --configFile "${tmp}/config.json" \
	--input "${tmp}/architecture.mmd" --output "${tmp}/architecture.svg"
sum="$(sha256sum "${tmp}/architecture.mmd" | cut -d' ' -f1)"
{
	printf '<!-- Rendered by scripts/architecture-svg.sh (mermaid-cli %s) from the Mermaid block of docs/architecture.md, sha256 %s. Do not edit: change the block and run the script. -->\n' \
		"${MERMAID_CLI_VERSION}" "${sum}"
	cat "${tmp}/architecture.svg"
	echo
} >docs/img/architecture.svg
echo "docs/img/architecture.svg: rendered (source sha256 ${sum})"
