package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"

	"github.com/orderlane/orderlane/simulate"
)

// sandboxSimFlags are the flags of "simulate --sandbox" that plain
// simulate does not have.
type sandboxSimFlags struct {
	on                                 bool
	timeFactor, reorder, trackingFirst float64
	lost                               float64
}

func (f *sandboxSimFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.on, "sandbox", false, "drive the server with a sandbox sale (orderlane sandbox's fakes, signed with the config's secrets) instead of the built-in generator; --shuffle does not apply")
	fs.Float64Var(&f.timeFactor, "time-factor", simulate.DefaultTimeFactor, "with --sandbox: simulated seconds per real second (3600: an hour of sale per second)")
	fs.Float64Var(&f.reorder, "reorder", simulate.DefaultSandboxReorder, "with --sandbox: share of pushes held back behind a later push of their order")
	fs.Float64Var(&f.trackingFirst, "tracking-first", simulate.DefaultSandboxTrackingFirst, "with --sandbox: share of status pushes sent after the tracking push that follows them")
	fs.Float64Var(&f.lost, "lost", 0, "with --sandbox: share of pushes never sent; keep 0 but to see failure: the server has no API access to the sandbox's shops, so nothing recovers a lost push and its order ends wrong")
}

// simulateSandbox runs simulate.RunSandbox and prints its report; an
// order wrong makes it fail.
func simulateSandbox(ctx context.Context, stdout io.Writer, asJSON bool, o simulate.SandboxOptions) error {
	rep, err := simulate.RunSandbox(ctx, o)
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else if err := rep.WriteText(stdout); err != nil {
		return err
	}
	if !rep.OK() {
		return errors.New("sandbox simulation found wrong orders (see the report)")
	}
	return nil
}
