package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/telemetra/telemetra/schemas"
)

type validateCmd struct {
	Schema string `arg:"" help:"Schema: chat_message, viewer_count, transaction or stream_meta (also chat, viewer, ... or the .json file name)."`
	Input  string `arg:"" help:"The event: inline JSON, @file to read a file, or - for standard input."`

	stdin io.Reader
}

func (v *validateCmd) Run(g *globals) error {
	kind, err := schemas.ParseKind(v.Schema)
	if err != nil {
		return exitError{code: 2, msg: "telemetra validate: " + err.Error()}
	}
	data, err := v.read()
	if err != nil {
		return exitError{code: 2, msg: "telemetra validate: " + err.Error()}
	}
	validator, err := schemas.NewValidator()
	if err != nil {
		return fmt.Errorf("compile schemas: %w", err)
	}
	if err := validator.Validate(kind, data); err != nil {
		return exitError{code: 1, msg: fmt.Sprintf("invalid %s: %v", kind.SchemaFile(), err)}
	}
	_, err = fmt.Fprintf(g.stdout, "valid %s\n", kind.SchemaFile())
	return err
}

func (v *validateCmd) read() ([]byte, error) {
	switch {
	case v.Input == "-":
		in := v.stdin
		if in == nil {
			in = os.Stdin
		}
		data, err := io.ReadAll(in)
		if err != nil {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
		return data, nil
	case strings.HasPrefix(v.Input, "@"):
		data, err := os.ReadFile(v.Input[1:])
		if err != nil {
			return nil, fmt.Errorf("read event file: %w", err)
		}
		return data, nil
	default:
		return []byte(v.Input), nil
	}
}
