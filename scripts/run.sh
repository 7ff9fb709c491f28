#!/usr/bin/env bash
# make run: the whole pipeline on embedded defaults (`telemetra dev`). Extra flags come from
# ARGS: make run ARGS="--fresh --history 24h".
#
# Ctrl-C exits 0 through make. A terminal sends SIGINT to its whole foreground process group,
# and make dies of it whatever its recipe does. On a terminal the pipeline therefore runs here
# as a job of its own (set -m), the terminal's foreground group while it runs: the SIGINT
# reaches it alone, it stops cleanly and exits 0, and so do this script and make.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
GO=${GO:-go}
"$GO" build -o bin/telemetra ./cmd/telemetra
if [[ -t 0 ]]; then
    set -m
fi
bin/telemetra dev "$@"
