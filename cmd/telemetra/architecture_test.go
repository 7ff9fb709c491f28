package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const (
	architectureDoc     = "../../docs/architecture.md"
	architecturePicture = "../../docs/img/architecture.svg"
)

// TestArchitectureDocNamesOnlyPathsThatExist: every repository path docs/architecture.md names
// exists, so the map cannot rot silently. A path is a backticked span outside code blocks, or a
// word of the Mermaid block, that starts with a top-level entry of the repository (not one the
// root .gitignore ignores, such as bin/): `gateway/store`, `schemas/*.json` (a glob must match),
// `./processors/...` (a Go pattern: its directory).
func TestArchitectureDocNamesOnlyPathsThatExist(t *testing.T) {
	const root = "../.."
	doc, err := os.ReadFile(architectureDoc)
	if err != nil {
		t.Fatal(err)
	}
	top := topLevelEntries(t, root)
	checked := 0
	var missing []string
	for _, c := range docPathCandidates(string(doc)) {
		p, ok := repositoryPath(c.text, top)
		if !ok {
			continue
		}
		checked++
		matches, err := filepath.Glob(filepath.Join(root, p))
		if err != nil || len(matches) == 0 {
			missing = append(missing, c.where+": "+c.text)
		}
	}
	if len(missing) > 0 {
		t.Errorf("docs/architecture.md names paths that do not exist:\n%s", strings.Join(missing, "\n"))
	}
	t.Logf("%d paths checked", checked)
	if checked < 50 {
		t.Errorf("only %d paths found in docs/architecture.md: is the extraction broken?", checked)
	}
}

// TestArchitecturePictureIsRenderedFromTheDoc: docs/img/architecture.svg is well-formed SVG with
// text labels only (no HTML in foreignObject, so it renders outside browsers), rendered from the
// Mermaid block of docs/architecture.md as it is now (the script writes the block's SHA-256 into
// the picture), and the document shows it.
func TestArchitecturePictureIsRenderedFromTheDoc(t *testing.T) {
	doc, err := os.ReadFile(architectureDoc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "](img/architecture.svg)") {
		t.Error("docs/architecture.md does not show img/architecture.svg")
	}
	svg, err := os.ReadFile(architecturePicture)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(svg))
	var root xml.Name
	var comment string
	texts := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("docs/img/architecture.svg is not well-formed XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.Comment:
			if comment == "" && root.Local == "" {
				comment = string(tok)
			}
		case xml.StartElement:
			if root.Local == "" {
				root = tok.Name
			}
			switch tok.Name.Local {
			case "text":
				texts++
			case "foreignObject":
				t.Errorf("docs/img/architecture.svg has a foreignObject: render labels as SVG text (htmlLabels: false)")
			}
		}
	}
	if root.Space != "http://www.w3.org/2000/svg" || root.Local != "svg" {
		t.Errorf("root element %s %s, want svg of http://www.w3.org/2000/svg", root.Space, root.Local)
	}
	if texts < 10 {
		t.Errorf("%d text elements: a picture without its labels?", texts)
	}
	block, ok := mermaidBlock(string(doc))
	if !ok {
		t.Fatal("docs/architecture.md has no ```mermaid block")
	}
	sum := sha256.Sum256([]byte(block))
	if want := "sha256 " + hex.EncodeToString(sum[:]); !strings.Contains(comment, want) {
		t.Errorf("docs/img/architecture.svg was not rendered from the Mermaid block of docs/architecture.md (its comment %q has no %q): run scripts/architecture-svg.sh", comment, want)
	}
}

// mermaidBlock is the body of the document's first ```mermaid block, each line with its newline,
// as scripts/architecture-svg.sh extracts it.
func mermaidBlock(doc string) (string, bool) {
	var b strings.Builder
	inside := false
	for _, line := range strings.Split(doc, "\n") {
		switch {
		case !inside && line == "```mermaid":
			inside = true
		case inside && line == "```":
			return b.String(), true
		case inside:
			b.WriteString(line + "\n")
		}
	}
	return "", false
}

// topLevelEntries are the names in the repository's root, less hidden ones and those the root
// .gitignore names (bin/, .cache/, the built binary).
func topLevelEntries(t *testing.T, root string) map[string]bool {
	t.Helper()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	ignored := map[string]bool{}
	if gi, err := os.ReadFile(filepath.Join(root, ".gitignore")); err == nil {
		for _, line := range strings.Split(string(gi), "\n") {
			name := strings.Trim(strings.TrimSpace(line), "/")
			if name != "" && !strings.ContainsAny(name, "*?[/#!") {
				ignored[name] = true
			}
		}
	}
	top := map[string]bool{}
	for _, e := range entries {
		if n := e.Name(); !strings.HasPrefix(n, ".") && !ignored[n] {
			top[n] = true
		}
	}
	return top
}

type pathCandidate struct{ where, text string }

var backtickSpan = regexp.MustCompile("`([^`\n]+)`")

// docPathCandidates are the backticked spans outside code blocks and the words of Mermaid
// blocks (other code blocks are examples, not names).
func docPathCandidates(doc string) []pathCandidate {
	var out []pathCandidate
	fence, tag := "", ""
	for i, line := range strings.Split(doc, "\n") {
		where := "docs/architecture.md:" + strconv.Itoa(i+1)
		if fence == "" {
			if m := fenceRE.FindStringSubmatch(line); m != nil {
				fence, tag = m[2], m[3]
				continue
			}
		} else if t := strings.TrimSpace(line); len(t) >= len(fence) && strings.Trim(t, fence[:1]) == "" {
			fence, tag = "", ""
			continue
		}
		switch {
		case fence == "":
			for _, m := range backtickSpan.FindAllStringSubmatch(line, -1) {
				out = append(out, pathCandidate{where, m[1]})
			}
		case tag == "mermaid":
			words := strings.FieldsFunc(strings.ReplaceAll(line, "**", " "), func(r rune) bool {
				return strings.ContainsRune(" \t\"'`()[],;", r)
			})
			for _, w := range words {
				out = append(out, pathCandidate{where, w})
			}
		}
	}
	return out
}

// repositoryPath says whether a span names a repository path, and which (as a glob).
func repositoryPath(s string, top map[string]bool) (string, bool) {
	if strings.ContainsAny(s, " \t") {
		return "", false
	}
	s = strings.TrimPrefix(s, "./")
	s = strings.TrimSuffix(s, "/...")
	s = strings.TrimSuffix(s, "/")
	first, _, _ := strings.Cut(s, "/")
	if !top[first] {
		return "", false
	}
	return s, true
}
