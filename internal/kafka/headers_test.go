package kafka

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestDocsListTheHeadersAndReasons: the docs' tables of headers (first column "header") and of
// reasons (first column "reason") list exactly the Header and Reason constants of headers.go,
// so a new header or reason is documented and a documented one exists.
func TestDocsListTheHeadersAndReasons(t *testing.T) {
	headers, reasons := exportedNames(t, "headers.go")
	docHeaders, docReasons := map[string]bool{}, map[string]bool{}
	for _, doc := range []string{"../../docs/processors.md", "../../docs/views.md"} {
		src, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for name, values := range tableColumns(string(src)) {
			switch name {
			case "header":
				addAll(docHeaders, values)
			case "reason":
				addAll(docReasons, values)
			}
		}
	}
	compare(t, "header", headers, docHeaders)
	compare(t, "reason", reasons, docReasons)
}

// exportedNames are the values of the Header and Reason string constants declared in file.
func exportedNames(t *testing.T, file string) (headers, reasons map[string]bool) {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	headers, reasons = map[string]bool{}, map[string]bool{}
	for _, decl := range f.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.CONST {
			continue
		}
		for _, spec := range gen.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Fatalf("%s: %s is not a string literal", file, name.Name)
				}
				value, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case strings.HasPrefix(name.Name, "Header"):
					headers[value] = true
				case strings.HasPrefix(name.Name, "Reason"):
					reasons[value] = true
				}
			}
		}
	}
	return headers, reasons
}

// tableColumns maps the first header cell of each markdown table in src to the code spans
// (`...`) that open the cells of its first column.
func tableColumns(src string) map[string][]string {
	out := map[string][]string{}
	var name string
	inTable := false
	for _, line := range strings.Split(src, "\n") {
		if !strings.HasPrefix(line, "|") {
			inTable = false
			continue
		}
		first := strings.TrimSpace(strings.Split(line, "|")[1])
		switch {
		case !inTable:
			name, inTable = first, true
		case strings.HasPrefix(first, "---"):
		case strings.HasPrefix(first, "`"):
			if end := strings.Index(first[1:], "`"); end >= 0 {
				out[name] = append(out[name], first[1:1+end])
			}
		}
	}
	return out
}

func addAll(set map[string]bool, values []string) {
	for _, v := range values {
		set[v] = true
	}
}

func compare(t *testing.T, kind string, defined, documented map[string]bool) {
	t.Helper()
	for _, name := range slices.Sorted(maps.Keys(defined)) {
		if !documented[name] {
			t.Errorf("%s %q of headers.go is in no %s table of docs/processors.md or docs/views.md", kind, name, kind)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(documented)) {
		if !defined[name] {
			t.Errorf("the docs list %s %q, which headers.go does not define", kind, name)
		}
	}
	if len(defined) == 0 {
		t.Errorf("no %s constants found in headers.go", kind)
	}
}
