package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/orderlane/orderlane/config"
)

const deadLettersUsage = `usage: orderlane deadletters <list|show|replay|discard> [flags] [ID...]

  list      list dead letters (filters: --subscription, --group, --platform, --since)
  show ID   print one dead letter with its event
  replay ID...                 replay these dead letters into their group
  replay --all-matching [filters]
            replay every dead letter that matches the filters (--all with no filter)
  discard ID...                delete these dead letters for good

The command talks to the running server's admin API: base URL and API
token from the same config as "orderlane serve" (--config, ORDERLANE_*),
or --url.
`

// runDeadLetters is `orderlane deadletters`.
func runDeadLetters(args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, deadLettersUsage)
		return nil
	}
	verb, args := args[0], args[1:]
	fs := flag.NewFlagSet("deadletters "+verb, flag.ContinueOnError)
	fs.SetOutput(stdout)
	path := fs.String("config", "", "YAML config file (or ORDERLANE_CONFIG)")
	base := fs.String("url", "", "server base URL (default: from the config's http_addr)")
	sub := fs.String("subscription", "", "only this subscription's dead letters (orders, audit)")
	group := fs.String("group", "", "only this message group (platform:shop_id:order_id)")
	platform := fs.String("platform", "", "only this marketplace's (shopee, lazada, tiktok)")
	since := fs.String("since", "", "only dead letters that failed at or after this RFC 3339 time, or this long ago (2h)")
	limit := fs.Int("limit", 100, "list: page size (1-1000)")
	cursor := fs.String("cursor", "", "list: continue after this dead letter ID (the next_cursor of a previous page)")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	allMatching := fs.Bool("all-matching", false, "replay: every dead letter matching the filters")
	all := fs.Bool("all", false, "replay --all-matching: allow no filter at all")
	// Flags may come before or after the IDs.
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
	cfg, err := loadConfig(*path, func(*config.Config) {})
	if err != nil {
		return err
	}
	c := &adminClient{base: *base, http: &http.Client{Timeout: 30 * time.Second}}
	if c.base == "" {
		c.base = cfg.BaseURL()
	}
	if c.token, err = apiTokenOf(cfg); err != nil {
		return err
	}
	q := url.Values{}
	setQ := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	setQ("subscription", *sub)
	setQ("group", *group)
	setQ("platform", *platform)
	if *since != "" {
		if d, err := time.ParseDuration(*since); err == nil {
			*since = time.Now().Add(-d).UTC().Format(time.RFC3339Nano)
		}
		setQ("since", *since)
	}
	ctx := context.Background()
	switch verb {
	case "list":
		q.Set("limit", fmt.Sprint(*limit))
		setQ("cursor", *cursor)
		return c.list(ctx, q, *asJSON, stdout)
	case "show":
		if len(ids) != 1 {
			return errors.New("deadletters show: give one dead letter ID")
		}
		body, err := c.do(ctx, http.MethodGet, "/api/v1/deadletters/"+url.PathEscape(ids[0]), nil)
		if err != nil {
			return err
		}
		var out bytes.Buffer
		if err := json.Indent(&out, body, "", "  "); err != nil {
			return err
		}
		_, err = stdout.Write(out.Bytes())
		return err
	case "replay":
		if *allMatching {
			if len(ids) > 0 {
				return errors.New("deadletters replay: give IDs or --all-matching, not both")
			}
			if len(q) == 0 {
				if !*all {
					return errors.New("deadletters replay --all-matching: give a filter, or --all to replay every dead letter")
				}
				q.Set("all", "true")
			}
			return c.replayMatching(ctx, q, stdout)
		}
		if len(ids) == 0 {
			return errors.New("deadletters replay: give dead letter IDs, or --all-matching with filters")
		}
		for _, id := range ids {
			body, err := c.do(ctx, http.MethodPost, "/api/v1/deadletters/"+url.PathEscape(id)+"/replay", nil)
			if err != nil {
				return err
			}
			var r struct {
				Seq       uint64 `json:"seq"`
				Duplicate bool   `json:"duplicate"`
			}
			if err := json.Unmarshal(body, &r); err != nil {
				return err
			}
			note := ""
			if r.Duplicate {
				note = " (already replayed a moment ago: not appended again)"
			}
			fmt.Fprintf(stdout, "dead letter %s replayed as topic seq %d%s\n", id, r.Seq, note)
		}
		return nil
	case "discard":
		if len(ids) == 0 {
			return errors.New("deadletters discard: give dead letter IDs")
		}
		for _, id := range ids {
			if _, err := c.do(ctx, http.MethodDelete, "/api/v1/deadletters/"+url.PathEscape(id), nil); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "dead letter %s discarded\n", id)
		}
		return nil
	}
	return fmt.Errorf("deadletters: unknown subcommand %q (list, show, replay, discard)", verb)
}

type adminClient struct {
	base, token string
	http        *http.Client
}

// do calls the admin API and returns the body of a 2xx answer, or the
// API's error message.
func (c *adminClient) do(ctx context.Context, method, path string, q url.Values) ([]byte, error) {
	u := strings.TrimRight(c.base, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	// The operator's own server, from the config or --url.
	req, err := http.NewRequestWithContext(ctx, method, u, nil) // #nosec G704 -- u is the operator's own server, from their config
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req) // #nosec G704 -- see above
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct{ Code, Message string }
		}
		if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
			return nil, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, e.Error.Message)
		}
		return nil, fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	return body, nil
}

type deadLetterRow struct {
	ID           string    `json:"id"`
	Subscription string    `json:"subscription"`
	Group        string    `json:"group"`
	Reason       string    `json:"reason"`
	Error        string    `json:"error"`
	Attempts     int       `json:"attempts"`
	FailedAt     time.Time `json:"failed_at"`
}

func (c *adminClient) list(ctx context.Context, q url.Values, asJSON bool, stdout io.Writer) error {
	body, err := c.do(ctx, http.MethodGet, "/api/v1/deadletters", q)
	if err != nil {
		return err
	}
	if asJSON {
		_, err := stdout.Write(body)
		return err
	}
	var page struct {
		DeadLetters []deadLetterRow `json:"dead_letters"`
		NextCursor  string          `json:"next_cursor"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSUBSCRIPTION\tGROUP\tREASON\tATTEMPTS\tFAILED\tERROR")
	for _, d := range page.DeadLetters {
		msg := d.Error
		if len(msg) > 80 {
			msg = msg[:77] + "..."
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s ago\t%s\n", d.ID, d.Subscription, d.Group, d.Reason, d.Attempts,
			time.Since(d.FailedAt).Round(time.Second), msg)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d dead letter(s)", len(page.DeadLetters))
	if page.NextCursor != "" {
		fmt.Fprintf(stdout, "; more with --cursor %s", page.NextCursor)
	}
	fmt.Fprintln(stdout)
	return nil
}

// replayMatching replays page after page of the dead letters matching q.
func (c *adminClient) replayMatching(ctx context.Context, q url.Values, stdout io.Writer) error {
	total := 0
	for {
		body, err := c.do(ctx, http.MethodPost, "/api/v1/deadletters/replay", q)
		if err != nil {
			return err
		}
		var res struct {
			Replayed []struct {
				ID  string `json:"id"`
				Seq uint64 `json:"seq"`
			} `json:"replayed"`
			NextCursor string `json:"next_cursor"`
		}
		if err := json.Unmarshal(body, &res); err != nil {
			return err
		}
		for _, r := range res.Replayed {
			fmt.Fprintf(stdout, "dead letter %s replayed as topic seq %d\n", r.ID, r.Seq)
		}
		total += len(res.Replayed)
		if res.NextCursor == "" {
			break
		}
		q.Set("cursor", res.NextCursor)
	}
	fmt.Fprintf(stdout, "%d dead letter(s) replayed\n", total)
	return nil
}
