package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"plumb/internal/findings"
	"plumb/internal/server"
)

// silenceRow is a silence as the CLI prints it, whichever store it came
// from (the API's JSON, or the data directory's store).
type silenceRow struct {
	ID        string    `json:"id"`
	Matchers  []string  `json:"matchers"`
	EndsAt    time.Time `json:"ends_at"`
	CreatedBy string    `json:"created_by"`
	Comment   string    `json:"comment"`
	Active    bool      `json:"active"`
}

// silenceTarget is where plumb silence reads and writes: a running
// plumb serve (--server) or the SQLite store of a data directory
// (--data-dir), the one `plumb scan --notify` routes from.
type silenceTarget struct {
	api     apiClient
	dataDir string
}

// Sources of the target, for the rule in silenceLong.
const (
	envServer  = "PLUMB_SERVER"
	envDataDir = "PLUMB_DATA_DIR"
)

// resolve applies the rule: exactly one of --server and --data-dir; with
// neither flag, exactly one of PLUMB_SERVER and PLUMB_DATA_DIR. It
// returns true for the data directory.
func (t *silenceTarget) resolve(cmd *cobra.Command) (local bool, err error) {
	fServer, fDir := cmd.Flags().Changed("server"), cmd.Flags().Changed("data-dir")
	switch {
	case fServer && fDir:
		return false, usageErr(errors.New("give --server URL (a running plumb serve) or --data-dir DIR (the store of plumb scan --notify), not both"))
	case fServer:
		return false, nonEmpty("--server", t.api.base)
	case fDir:
		return true, nonEmpty("--data-dir", t.dataDir)
	}
	eServer, eDir := os.Getenv(envServer), os.Getenv(envDataDir)
	switch {
	case eServer != "" && eDir != "":
		return false, usageErr(fmt.Errorf("%s and %s are both set: choose with --server or --data-dir", envServer, envDataDir))
	case eServer != "":
		t.api.base = eServer
		return false, nil
	case eDir != "":
		t.dataDir = eDir
		return true, nil
	}
	return false, usageErr(errors.New("say where the silences are: --server URL (a running plumb serve) or --data-dir DIR (the store of plumb scan --notify)"))
}

func nonEmpty(flag, v string) error {
	if strings.TrimSpace(v) == "" {
		return usageErr(fmt.Errorf("%s is empty", flag))
	}
	return nil
}

// openLocal opens the data directory's store; create lets add start a
// store that does not exist yet (and says so).
func (t *silenceTarget) openLocal(cmd *cobra.Command, create bool) (*findings.Store, func() error, error) {
	_, statErr := os.Stat(filepath.Join(t.dataDir, "plumb.db"))
	logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, closeStore, err := server.OpenLocalStore(cmd.Context(), t.dataDir, create, logger)
	if err != nil {
		return nil, nil, &exitCodeError{code: exitError, err: err}
	}
	if create && statErr != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "created a new plumb store in %s\n", t.dataDir)
	}
	return store, closeStore, nil
}

const silenceLong = `A silence keeps findings that match all its matchers from being sent to
receivers until it ends; the findings are still stored and counted. Matchers use
Alertmanager's syntax on finding labels: kind, severity, environment, provider,
type, region, account, id, name, rule, status, security and tags.KEY.

Silences live where the findings are routed from, so say which:
  --server URL     a running plumb serve (its API; --token or PLUMB_API_TOKEN)
  --data-dir DIR   the SQLite store that plumb scan --notify uses (its --data-dir)
Give exactly one. Without either flag, PLUMB_SERVER or PLUMB_DATA_DIR is used,
whichever is set; both set, or neither, is an error.`

func newSilenceCmd(stdout io.Writer) *cobra.Command {
	t := &silenceTarget{}
	cmd := &cobra.Command{
		Use:   "silence",
		Short: "Mute notifications for matching findings for a while (maintenance, known incident)",
		Long:  silenceLong,
	}
	cmd.PersistentFlags().StringVar(&t.api.base, "server", "", "plumb serve URL (env "+envServer+")")
	cmd.PersistentFlags().StringVar(&t.dataDir, "data-dir", "", "data directory of plumb scan --notify: work on its store, no server (env "+envDataDir+")")
	tokenFlag(cmd, &t.api)

	var matchers []string
	var duration, comment, author string
	add := &cobra.Command{
		Use:   "add",
		Short: "Add a silence",
		Example: `  plumb silence add --server http://plumb:8080 -m 'environment="staging"' -m 'kind=~"drift.*"' --duration 2h --comment "migration"
  plumb silence add --data-dir .plumb -m 'kind="drift.unmanaged"' --duration 24h --comment "import in progress"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(matchers) == 0 {
				return usageErr(fmt.Errorf("at least one --matcher is required (a silence of everything is a mistake)"))
			}
			local, err := t.resolve(cmd)
			if err != nil {
				return err
			}
			req := server.SilenceRequest{Matchers: matchers, Duration: duration, Comment: comment, CreatedBy: author}
			var id string
			var ends time.Time
			if local {
				id, ends, err = t.addLocal(cmd, req)
			} else {
				var out struct {
					ID     string    `json:"id"`
					EndsAt time.Time `json:"ends_at"`
				}
				err = t.api.send(cmd, "POST", "/v1/silences", req, &out)
				id, ends = out.ID, out.EndsAt
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "silence %s until %s\n", id, ends.UTC().Format(time.RFC3339))
			return nil
		},
	}
	add.Flags().StringArrayVarP(&matchers, "matcher", "m", nil, `label matcher, repeatable: kind="drift.unmanaged", severity=~"high|critical"`)
	add.Flags().StringVar(&duration, "duration", "2h", "how long the silence lasts")
	add.Flags().StringVar(&comment, "comment", "", "why (shown in list)")
	add.Flags().StringVar(&author, "author", "", "who added it")
	envDefault(add.Flags(), "author", "USER", "")

	var all bool
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List active silences (--all for expired ones too)",
		Long: `List silences, oldest first (by creation). Every page is read; with --limit N
only the first N are printed, and stderr says how many were not shown.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkLimit(limit); err != nil {
				return err
			}
			local, err := t.resolve(cmd)
			if err != nil {
				return err
			}
			var l listing
			if local {
				l, err = t.listLocal(cmd, all, limit)
			} else {
				filters := url.Values{}
				if all {
					filters.Set("all", "true")
				}
				l, err = t.api.list(cmd, "/v1/silences", filters, "silences", server.SilencesPage, limit)
			}
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tACTIVE\tENDS\tMATCHERS\tBY\tCOMMENT")
			for _, raw := range l.items {
				var s silenceRow
				if err := json.Unmarshal(raw, &s); err != nil {
					return fmt.Errorf("decode silence: %w", err)
				}
				fmt.Fprintf(tw, "%s\t%v\t%s\t%s\t%s\t%s\n", s.ID, s.Active, s.EndsAt.UTC().Format(time.RFC3339), strings.Join(s.Matchers, ","), s.CreatedBy, s.Comment)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			reportUnshown(cmd.ErrOrStderr(), l, "silences", limit)
			return nil
		},
	}
	list.Flags().BoolVar(&all, "all", false, "include expired silences")
	limitFlag(list, &limit, "silences")

	expire := &cobra.Command{
		Use:   "expire ID",
		Short: "End a silence now",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			local, err := t.resolve(cmd)
			if err != nil {
				return err
			}
			if local {
				err = t.expireLocal(cmd, args[0])
			} else {
				var out map[string]string
				err = t.api.do(cmd, "POST", "/v1/silences/"+url.PathEscape(args[0])+"/expire", &out)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "silence %s expired\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(add, list, expire)
	return cmd
}

func (t *silenceTarget) addLocal(cmd *cobra.Command, req server.SilenceRequest) (string, time.Time, error) {
	now := time.Now()
	sl, err := req.Silence(now)
	if err != nil {
		return "", time.Time{}, usageErr(err)
	}
	store, closeStore, err := t.openLocal(cmd, true)
	if err != nil {
		return "", time.Time{}, err
	}
	defer closeStore()
	out, err := store.AddSilence(cmd.Context(), now, sl)
	if err != nil {
		return "", time.Time{}, err
	}
	return out.ID, out.EndsAt, nil
}

// listLocal reads the store's silences page by page, as the API would
// hand them out, up to max (0: all).
func (t *silenceTarget) listLocal(cmd *cobra.Command, all bool, max int) (listing, error) {
	store, closeStore, err := t.openLocal(cmd, false)
	if err != nil {
		return listing{}, err
	}
	defer closeStore()
	now := time.Now()
	q := findings.SilenceQuery{ActiveOnly: !all, Now: now}
	var l listing
	for {
		q.Limit = server.SilencesPage.Max
		if max > 0 {
			q.Limit = min(q.Limit, max-len(l.items))
		}
		page, err := store.PageSilences(cmd.Context(), q)
		if err != nil {
			return l, err
		}
		for _, sl := range page.Silences {
			raw, err := json.Marshal(silenceRow{ID: sl.ID, Matchers: sl.Matchers, EndsAt: sl.EndsAt, CreatedBy: sl.CreatedBy, Comment: sl.Comment, Active: sl.Active(now)})
			if err != nil {
				return l, err
			}
			l.items = append(l.items, raw)
		}
		l.total = page.Total
		if page.Next == nil || (max > 0 && len(l.items) >= max) {
			return l, nil
		}
		q.After = page.Next
	}
}

func (t *silenceTarget) expireLocal(cmd *cobra.Command, id string) error {
	store, closeStore, err := t.openLocal(cmd, false)
	if err != nil {
		return err
	}
	defer closeStore()
	err = store.ExpireSilence(cmd.Context(), time.Now(), id)
	if errors.Is(err, findings.ErrNotFound) {
		return fmt.Errorf("silence %s not found in %s", id, t.dataDir)
	}
	return err
}
