#!/usr/bin/env bash
# Checks the protobuf contract and its generated code. Works in a fresh clone
# (it installs the pinned tools first) and needs no commit: it compares the
# working tree with code generated from the working tree.
#
#   1. buf lint                          (STANDARD rules, see buf.yaml)
#   2. buf format -d --exit-code         (canonical .proto formatting)
#   3. generated code is up to date:     copies the buf inputs and the output
#      directories (proto/, gateway/openapi/) into a temporary directory,
#      deletes the generated files there, runs `buf generate` in the copy and
#      diffs the copy against the working tree. Missing, stale (generated
#      file without a source) and differing files all fail.
#   4. the generated Go packages build   (go build ./proto/... ./gateway/openapi/...)
#   5. buf breaking against git main     (FILE rules), see below.
#
# Usage:
#   scripts/check-generated.sh [--no-breaking]
#
# Breaking-change check: by default `buf breaking --against '<git dir>#branch=main'`
# runs when a local branch "main" exists whose tree already has buf.yaml;
# otherwise (no commits yet, first commit, shallow CI clone without main) it
# is skipped with a message and does not fail. Override the comparison target
# with BUF_BREAKING_AGAINST (any buf input, e.g. '.git#ref=origin/main' or
# '.git#tag=v1.2.0'); skip it with --no-breaking or BUF_BREAKING=0.
#
# To fix a failure of step 3: `bin/buf generate` from the repository root,
# delete generated files whose .proto is gone, and commit the result.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${REPO}"

breaking="${BUF_BREAKING:-1}"
case "${1:-}" in
--no-breaking) breaking=0 ;;
"") ;;
*)
	echo "usage: $0 [--no-breaking]" >&2
	exit 2
	;;
esac

# Directories that hold generated files (relative to REPO), and the names
# of generated files in them.
OUT_DIRS=(proto gateway/openapi)
GENERATED=(-name '*.pb.go' -o -name '*.pb.gw.go' -o -name '*.swagger.json')

scripts/tools.sh
BUF="${REPO}/bin/buf"

failed=()

echo "== buf lint"
if "${BUF}" lint; then echo "ok"; else failed+=("buf lint"); fi

echo "== buf format -d --exit-code"
if "${BUF}" format -d --exit-code; then echo "ok"; else
	failed+=("buf format (fix: bin/buf format -w)")
fi

echo "== generated code is up to date"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/check-generated.XXXXXX")"
trap 'rm -rf "${tmp}"' EXIT
cp buf.yaml buf.gen.yaml "${tmp}/"
if [[ -f buf.lock ]]; then cp buf.lock "${tmp}/"; fi
ln -s "${REPO}/bin" "${tmp}/bin"
for d in "${OUT_DIRS[@]}"; do
	mkdir -p "${tmp}/${d}"
	if [[ -d ${d} ]]; then cp -R "${d}/." "${tmp}/${d}/"; fi
	find "${tmp}/${d}" -type f \( "${GENERATED[@]}" \) -delete
done
if ! (cd "${tmp}" && "${BUF}" generate); then
	failed+=("buf generate")
else
	stale=0
	for d in "${OUT_DIRS[@]}"; do
		if ! diff -r -q "${d}" "${tmp}/${d}" >/dev/null 2>&1; then stale=1; fi
	done
	if [[ ${stale} -eq 1 ]]; then
		echo "Generated files differ from what 'buf generate' produces now"
		echo "(left: working tree, right: freshly generated):"
		for d in "${OUT_DIRS[@]}"; do
			if command -v git >/dev/null; then
				# --no-index compares two directories; it does not touch the repository.
				git --no-pager diff --no-index --stat=120 -- "${d}" "${tmp}/${d}" || true
			fi
			diff -r -u "${d}" "${tmp}/${d}" | head -n 200 || true
		done
		failed+=("generated code is stale (fix: bin/buf generate, remove generated files without a .proto, commit)")
	else
		echo "ok"
	fi
fi

echo "== go build ./proto/... ./gateway/openapi/..."
if go build ./proto/... ./gateway/openapi/...; then echo "ok"; else failed+=("go build of generated code"); fi

echo "== buf breaking"
if [[ ${breaking} == 0 ]]; then
	echo "skipped (--no-breaking / BUF_BREAKING=0)"
elif [[ -n ${BUF_BREAKING_AGAINST:-} ]]; then
	echo "against ${BUF_BREAKING_AGAINST}"
	if "${BUF}" breaking --against "${BUF_BREAKING_AGAINST}"; then echo "ok"; else failed+=("buf breaking"); fi
elif ! command -v git >/dev/null || ! git rev-parse --git-dir >/dev/null 2>&1; then
	echo "skipped: not a git checkout"
elif ! git rev-parse --verify --quiet 'refs/heads/main^{commit}' >/dev/null; then
	echo "skipped: no local branch 'main' yet (no commit, or a clone without it: set BUF_BREAKING_AGAINST='.git#ref=origin/main')"
elif ! git cat-file -e 'main:buf.yaml' 2>/dev/null; then
	echo "skipped: branch 'main' has no buf.yaml yet (first commit of the protos)"
else
	# The common git dir also works from a linked worktree, where .git is a file.
	gitdir="$(git rev-parse --path-format=absolute --git-common-dir)"
	echo "against ${gitdir}#branch=main"
	if "${BUF}" breaking --against "${gitdir}#branch=main"; then echo "ok"; else failed+=("buf breaking (against main)"); fi
fi

if [[ ${#failed[@]} -gt 0 ]]; then
	echo
	echo "check-generated: FAILED:"
	printf '  - %s\n' "${failed[@]}"
	exit 1
fi
echo
echo "check-generated: all checks passed"
