package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/telemetra/telemetra/gateway/openapi"
)

// schemathesisChecks are the checks TestSchemathesis runs: every standard response and request
// check. The stateful ones (use_after_free, ensure_resource_availability) need OpenAPI links,
// and the auth ones (ignored_auth, object_level_authorization) a security scheme; the document
// declares neither.
const schemathesisChecks = "not_a_server_error,status_code_conformance,content_type_conformance," +
	"response_headers_conformance,response_schema_conformance,negative_data_rejection," +
	"positive_data_acceptance,missing_required_header,unsupported_method,allow_header_conformance"

// TestSchemathesis runs schemathesis (PyPI, pinned by scripts/tools.sh) against the OpenAPI
// document of a live `telemetra dev` gateway: every operation, the streams included (which end
// after a second: --subscription-max-age), a bounded number of examples each, all the standard
// checks, zero failures. make test sets TELEMETRA_SCHEMATHESIS to the binary; without it the
// test is skipped.
func TestSchemathesis(t *testing.T) {
	bin := os.Getenv("TELEMETRA_SCHEMATHESIS")
	if bin == "" {
		t.Skip("TELEMETRA_SCHEMATHESIS not set (make test sets it to bin/schemathesis after scripts/tools.sh)")
	}
	if testing.Short() {
		t.Skip("starts the whole pipeline")
	}
	d := startDev(t, "--subscription-max-age", "1s")
	d.awaitLiveData(t, 60*time.Second)
	config, err := filepath.Abs("testdata/schemathesis.toml")
	if err != nil {
		t.Fatal(err)
	}
	reports := t.TempDir()
	cmd := exec.Command(bin, "--config-file", config, "run", d.base+"/openapi.json",
		"--checks", schemathesisChecks,
		"--phases", "examples,coverage,fuzzing",
		"--max-examples", "40", "--seed", "20261201", // bounded and repeatable
		"--request-timeout", "20", "--workers", "1",
		"--report", "junit", "--report-dir", reports,
		"--no-color")
	cmd.Dir = t.TempDir() // schemathesis writes its cache where it runs
	out, err := cmd.CombinedOutput()
	t.Logf("schemathesis:\n%s", out)
	if err != nil {
		t.Fatalf("schemathesis found failures (or could not run): %v", err)
	}
	ops := servedOperations(t, d.base+"/openapi.json")
	for _, want := range []string{fmt.Sprintf("%d selected / %d total", ops, ops), "Coverage", "Fuzzing"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("schemathesis output lacks %q: not every operation or phase ran", want)
		}
	}
}

// servedOperations counts the operations of the OpenAPI document the gateway serves (the
// gateway adds its own routes, such as the SSE stream, to the generated document).
func servedOperations(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	doc, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := openapi.Parse(doc)
	if err != nil {
		t.Fatalf("parse the served document: %v", err)
	}
	return len(spec.Operations())
}
