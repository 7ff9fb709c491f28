package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// TestTheGatewayNeedsNoProcessorButTheTableContract: the gateway reads the processor's table
// through processors/table alone. Importing the processor itself would bring its Kafka clients
// and window logic into every gateway, and a second definition of the table's encoding.
func TestTheGatewayNeedsNoProcessorButTheTableContract(t *testing.T) {
	const (
		processors = "github.com/telemetra/telemetra/processors/"
		contract   = processors + "table"
	)
	// the gateway and its subpackages, as built (test-only imports are the tests' business)
	out, err := exec.Command("go", "list", "-deps", "-json=ImportPath", "./...").Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("go list: %v\n%s", err, exit.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	var offending []string
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var pkg struct{ ImportPath string }
		if err := dec.Decode(&pkg); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		if strings.HasPrefix(pkg.ImportPath, processors) && pkg.ImportPath != contract {
			offending = append(offending, pkg.ImportPath)
		}
	}
	if len(offending) > 0 {
		t.Fatalf("the gateway depends on %v; of the processors it may use %s only (who imports them: go list -deps -f '{{.ImportPath}} {{.Imports}}' ./gateway/...)", offending, contract)
	}
}
