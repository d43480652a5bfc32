package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"plumb/internal/paging"
)

// apiClient is the CLI side of the serve API.
type apiClient struct {
	base  string
	token string
	http  *http.Client
}

// apiFlags gives cmd and its subcommands --server and --token.
func apiFlags(cmd *cobra.Command, c *apiClient) { apiFlagsOn(cmd.PersistentFlags(), c) }

// apiFlagsOn adds --server and --token to one flag set: a command's own
// (cmd.Flags()) when its siblings do not talk to plumb serve.
func apiFlagsOn(fs *pflag.FlagSet, c *apiClient) {
	fs.StringVar(&c.base, "server", "http://127.0.0.1:8080", "plumb serve URL")
	envDefault(fs, "server", "PLUMB_SERVER", "http://127.0.0.1:8080")
	tokenFlagOn(fs, c)
}

func tokenFlag(cmd *cobra.Command, c *apiClient) { tokenFlagOn(cmd.PersistentFlags(), c) }

func tokenFlagOn(fs *pflag.FlagSet, c *apiClient) {
	fs.StringVar(&c.token, "token", "", "API bearer token (default env PLUMB_API_TOKEN)")
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func (c *apiClient) do(cmd *cobra.Command, method, path string, out any) error {
	return c.send(cmd, method, path, nil, out)
}

// send is do with a JSON request body.
func (c *apiClient) send(cmd *cobra.Command, method, path string, in, out any) error {
	token := c.token
	if token == "" {
		token = os.Getenv("PLUMB_API_TOKEN")
	}
	var reqBody io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		reqBody = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(cmd.Context(), method, strings.TrimRight(c.base, "/")+path, reqBody)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	hc := c.http
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		se := &apiStatusError{status: resp.StatusCode, body: body, msg: fmt.Sprintf("%s %s: %s", method, path, resp.Status)}
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			se.msg += ": " + e.Error
		}
		return se
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// listing is what the CLI got from a list endpoint: the items of every
// page it read, and the total the last page reported.
type listing struct {
	items []json.RawMessage
	total int
}

// cliPageSize bounds the pages the CLI asks for: a thousand findings are
// a few megabytes, and a list of any length is read in such steps.
const cliPageSize = 1000

// list reads a list endpoint page after page, following next_cursor,
// until the end or until max items (0: no maximum). Pages are asked for at
// cliPageSize or the endpoint's maximum if smaller (and fewer when max is
// near), so no page is refused for its size.
func (c *apiClient) list(cmd *cobra.Command, path string, filters url.Values, key string, page paging.Limits, max int) (listing, error) {
	var out listing
	cursor := ""
	for {
		v := url.Values{}
		for k, vals := range filters {
			if len(vals) > 0 && vals[0] != "" {
				v.Set(k, vals[0])
			}
		}
		size := min(page.Max, cliPageSize)
		if max > 0 {
			size = min(size, max-len(out.items))
		}
		v.Set("limit", strconv.Itoa(size))
		if cursor != "" {
			v.Set("cursor", cursor)
		}
		var answer map[string]json.RawMessage
		if err := c.do(cmd, "GET", path+"?"+v.Encode(), &answer); err != nil {
			return out, err
		}
		var items []json.RawMessage
		if err := json.Unmarshal(answer[key], &items); err != nil {
			return out, fmt.Errorf("GET %s: decode %s: %w", path, key, err)
		}
		var total int
		if err := json.Unmarshal(answer["total"], &total); err != nil {
			return out, fmt.Errorf("GET %s: the answer has no total (is the server older than this CLI?): %w", path, err)
		}
		var next string
		if raw, ok := answer["next_cursor"]; ok {
			if err := json.Unmarshal(raw, &next); err != nil {
				return out, fmt.Errorf("GET %s: decode next_cursor: %w", path, err)
			}
		}
		out.items = append(out.items, items...)
		out.total = total
		if next == "" || (max > 0 && len(out.items) >= max) {
			return out, nil
		}
		if next == cursor || len(items) == 0 {
			return out, fmt.Errorf("GET %s: the server returned the same page again; stopping after %d of %d %s", path, len(out.items), total, key)
		}
		cursor = next
	}
}

// reportUnshown tells the reader, on stderr, that the list printed is
// not everything: how many were left out and why. Silent when it is all.
func reportUnshown(w io.Writer, l listing, what string, max int) {
	shown := len(l.items)
	if shown >= l.total {
		return
	}
	if max > 0 && shown >= max {
		fmt.Fprintf(w, "showing %d of %d %s: %d not shown (--limit %d; --limit 0 shows all)\n", shown, l.total, what, l.total-shown, max)
		return
	}
	fmt.Fprintf(w, "showing %d of %d %s: %d more were added while listing; run the command again to see them\n", shown, l.total, what, l.total-shown)
}

// apiStatusError is an answer outside 2xx, with its body (a 409 of the
// enforcement endpoints still carries the plan that says which guard
// stopped the action).
type apiStatusError struct {
	status int
	body   []byte
	msg    string
}

func (e *apiStatusError) Error() string { return e.msg }

// asStatus finds an apiStatusError in err.
func asStatus(err error, target **apiStatusError) bool { return errors.As(err, target) }
