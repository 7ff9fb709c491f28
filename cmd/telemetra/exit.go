package main

import "errors"

// exitError ends the process with a specific code and message, for commands whose exit status
// is their answer (validate).
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

func asExit(err error, target *exitError) bool { return errors.As(err, target) }
