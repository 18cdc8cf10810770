package main

import (
	"errors"
	"io"
)

// runSandbox serves the marketplace fakes over a generated sale and
// delivers its pushes (work in progress, #3).
func runSandbox(args []string, stdout io.Writer) error {
	_, _ = args, stdout
	return errors.New("sandbox: not implemented yet")
}
