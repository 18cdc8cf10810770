package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/orderlane/orderlane/apitoken"
	"github.com/orderlane/orderlane/config"
)

const tokensUsage = `usage: orderlane tokens <create|list|revoke> [flags] [ID]

  create --scope read|admin [--name NAME]
            make a token and print it (shown once; only its SHA-256 is kept)
  list      list the tokens (id, scope, name, created; never the secret)
  revoke ID delete a token; the running server refuses it from its next request

The command works on the data dir directly, like a local admin tool: the
same config as "orderlane serve" (--config, ORDERLANE_*) or --data-dir. It
refuses a data dir that does not exist or that it cannot use. The
configured api_token (ORDERLANE_API_TOKEN, or the one generated into the
data dir) keeps working as an admin token and is not listed.

Scopes: read  the query API (/api/v1/orders...)
        admin read, and the admin API (/api/v1/deadletters, /api/v1/subscriptions)
`

// runTokens is `orderlane tokens`.
func runTokens(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, tokensUsage)
		return nil
	}
	verb, args := args[0], args[1:]
	fs := flag.NewFlagSet("tokens "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "YAML config file (or ORDERLANE_CONFIG)")
	dir := fs.String("data-dir", "", "the server's data directory (ORDERLANE_DATA_DIR; default ./data)")
	scope := fs.String("scope", "", "create: read or admin")
	name := fs.String("name", "", "create: a label for the token")
	// Flags may come before or after the ID.
	var ids []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		ids = append(ids, fs.Arg(0))
		args = fs.Args()[1:]
	}
	cfg, err := loadConfig(*path, func(c *config.Config) { set(&c.DataDir, *dir) })
	if err != nil {
		return err
	}
	store, err := apitoken.Open(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("%w (is this the server's data dir? pass --data-dir)", err)
	}
	switch verb {
	case "create":
		if len(ids) > 0 {
			return errors.New("tokens create takes no ID")
		}
		sc, err := apitoken.ParseScope(*scope)
		if err != nil {
			return errors.New("tokens create: --scope read or --scope admin is required")
		}
		secret, t, err := store.Create(sc, *name)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, secret)
		fmt.Fprintf(stderr, "token %s (scope %s) created in %s\nThe token above is shown once: only its SHA-256 is stored.\n", t.ID, t.Scope, store.Path())
		return nil
	case "list":
		toks, err := store.List()
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tSCOPE\tCREATED\tNAME")
		for _, t := range toks {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", t.ID, t.Scope, t.CreatedAt.Format(time.RFC3339), t.Name)
		}
		return w.Flush()
	case "revoke":
		if len(ids) != 1 {
			return errors.New("usage: orderlane tokens revoke ID")
		}
		t, err := store.Revoke(ids[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "token %s (scope %s) revoked\n", t.ID, t.Scope)
		return nil
	}
	return fmt.Errorf("tokens: unknown command %q\n\n%s", verb, tokensUsage)
}
