#!/usr/bin/env bash
# Installs the pinned code-generation and test tools into $REPO/bin:
#
#   buf, protoc-gen-go, protoc-gen-go-grpc, protoc-gen-grpc-gateway,
#   protoc-gen-openapiv2, grpcurl (end-to-end tests of the gateway), ghz (gateway benchmark),
#   golangci-lint (`make lint`; config in .golangci.yml)
#   and schemathesis (the API contract test; from PyPI, into a venv in .cache/, linked from bin/)
#
# Usage:
#   scripts/tools.sh          install what is missing or has the wrong version
#   scripts/tools.sh -f       reinstall everything
#
# Each tool is built with `GOBIN=$REPO/bin go install pkg@version`. It is
# idempotent: a tool is skipped when bin/<tool> exists and the module version
# recorded in the binary itself (`go version -m`) is the pinned one, so no
# separate stamp file can go out of sync with the binary. Changing a version
# below rebuilds exactly that tool. The Go build cache makes rebuilds cheap
# (a cold buf build takes 1-2.5 minutes on 2 cores, golangci-lint several minutes).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${REPO}/bin"

# name|package|version
TOOLS=(
	"buf|github.com/bufbuild/buf/cmd/buf|v1.75.0"
	"protoc-gen-go|google.golang.org/protobuf/cmd/protoc-gen-go|v1.36.12"
	"protoc-gen-go-grpc|google.golang.org/grpc/cmd/protoc-gen-go-grpc|v1.6.2"
	"protoc-gen-grpc-gateway|github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway|v2.33.0"
	"protoc-gen-openapiv2|github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2|v2.33.0"
	"grpcurl|github.com/fullstorydev/grpcurl/cmd/grpcurl|v1.9.4"
	"ghz|github.com/bojand/ghz/cmd/ghz|v0.120.0"
	"golangci-lint|github.com/golangci/golangci-lint/v2/cmd/golangci-lint|v2.15.0"
)

force=0
case "${1:-}" in
-f | --force) force=1 ;;
"") ;;
*)
	echo "usage: $0 [-f|--force]" >&2
	exit 2
	;;
esac

command -v go >/dev/null || {
	echo "tools: go is not on PATH" >&2
	exit 1
}

# installed_version prints the main module version recorded in a Go binary,
# or nothing if the file is missing or not a Go binary.
installed_version() {
	[[ -x $1 ]] || return 0
	go version -m "$1" 2>/dev/null | awk '$1 == "mod" { print $3; exit }'
}

mkdir -p "${BIN}"
start=${SECONDS}
for entry in "${TOOLS[@]}"; do
	IFS='|' read -r name pkg version <<<"${entry}"
	have="$(installed_version "${BIN}/${name}")"
	if [[ ${force} -eq 0 && ${have} == "${version}" ]]; then
		echo "tools: ${name} ${version} already installed"
		continue
	fi
	echo "tools: installing ${name} ${version}${have:+ (found ${have})}: go install ${pkg}@${version}"
	t0=${SECONDS}
	# Build outside the repository so the tool's own go.mod decides its
	# dependencies: our go.mod/go.sum are never read or touched.
	(cd "${TMPDIR:-/tmp}" && GOWORK=off GOFLAGS=-mod=mod GOBIN="${BIN}" go install "${pkg}@${version}")
	echo "tools: installed ${name} ${version} in $((SECONDS - t0))s"
done
# schemathesis: Python, pinned, in a venv of its own (needs python3 with venv: apt-get install
# python3-venv); bin/schemathesis is a link to it. The version it prints decides a reinstall.
SCHEMATHESIS_VERSION=4.32.5
venv="${REPO}/.cache/schemathesis-venv"
have="$("${venv}/bin/schemathesis" --version 2>/dev/null | awk '{ print $NF }' || true)"
if [[ ${force} -eq 0 && ${have} == "${SCHEMATHESIS_VERSION}" ]]; then
	echo "tools: schemathesis ${SCHEMATHESIS_VERSION} already installed"
else
	command -v python3 >/dev/null || {
		echo "tools: python3 is not installed (apt-get install python3 python3-venv)" >&2
		exit 1
	}
	echo "tools: installing schemathesis ${SCHEMATHESIS_VERSION}${have:+ (found ${have})}: pip in ${venv}"
	t0=${SECONDS}
	rm -rf "${venv}"
	python3 -m venv "${venv}" || {
		echo "tools: python3 -m venv failed (apt-get install python3-venv)" >&2
		exit 1
	}
	"${venv}/bin/pip" install --quiet --disable-pip-version-check "schemathesis==${SCHEMATHESIS_VERSION}"
	echo "tools: installed schemathesis ${SCHEMATHESIS_VERSION} in $((SECONDS - t0))s"
fi
ln -sfn "${venv}/bin/schemathesis" "${BIN}/schemathesis"
echo "tools: all tools ready in ${BIN} ($((SECONDS - start))s)"
