// Package scanhistory keeps a record of every scan plumb ran against an
// environment (scheduled by plumb serve, or plumb scan --notify): its
// counts, coverage, per-pack compliance, duration, and whether it read the
// whole estate or which scopes it could not read. The findings store
// holds what is wrong now; this history is how the console draws the
// trend over days and says when an environment was last looked at, and
// whether that look was complete.
package scanhistory

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"plumb/internal/inventory"
	"plumb/internal/model"
	"plumb/internal/policy"
	"plumb/internal/report"
	"plumb/internal/sqlbind"
)

// Table and ComplianceTable are the tables this package owns. Retention
// (Prune) deletes from both; other code should call Prune rather than
// delete rows itself, so the latest scan of an environment is never lost.
const (
	Table           = "plumb_scan_history"
	ComplianceTable = "plumb_scan_history_compliance"
)

// Sources of a scan.
const (
	SourceSchedule = "schedule" // a scheduled scan of plumb serve
	SourceCLI      = "cli"      // plumb scan --notify
)

// Scan is one scan of one environment.
type Scan struct {
	ID          int64         `json:"-"`
	Environment string        `json:"-"`
	StartedAt   time.Time     `json:"-"`
	Duration    time.Duration `json:"-"`
	Source      string        `json:"source"`
	Summary     model.Summary `json:"summary"`
	// Complete is false when some scope could not be read or some declared
	// resource was not evaluated (report.Report.Partial).
	Complete bool `json:"complete"`
	// Unread are the scopes that could not be read, with why.
	Unread []inventory.ScopeError `json:"unread,omitempty"`
	// NotEvaluatedReasons say why declared resources were not evaluated.
	NotEvaluatedReasons []string `json:"not_evaluated_reasons,omitempty"`
	// Findings counts the scan's findings by kind.
	Findings map[string]int `json:"findings,omitempty"`
	// Packs are the compliance packs evaluated, with control counts; the
	// per-control evidence is read with Compliance.
	Packs []PackSummary `json:"packs,omitempty"`
	// Error is set when the scan read nothing at all (the cloud could not
	// be used, the state could not be read): its counts mean nothing and
	// Trend leaves it out.
	Error string `json:"error,omitempty"`
}

// PackSummary counts one pack's controls by status.
type PackSummary struct {
	Pack         string `json:"pack"`
	Pass         int    `json:"pass"`
	Fail         int    `json:"fail"`
	Error        int    `json:"error"`
	NotEvaluated int    `json:"not_evaluated"`
}

// Evaluated is the number of controls with a verdict (pass, fail, error).
func (p PackSummary) Evaluated() int { return p.Pass + p.Fail + p.Error }

// Percent is the share of evaluated controls that pass, and false when no
// control was evaluated: a pack nothing was checked against is not 100%
// compliant, it is unknown.
func (p PackSummary) Percent() (float64, bool) {
	if p.Evaluated() == 0 {
		return 0, false
	}
	return 100 * float64(p.Pass) / float64(p.Evaluated()), true
}

// Pack is one pack's per-control results of a scan.
type Pack struct {
	PackSummary
	Controls []Control `json:"controls"`
}

// Control is one control's verdict and the resources behind it. Failing
// and Errored are kept in full; Passing and NotEvaluated at most
// ListLimit each, with their totals, so a pass over 10,000 volumes does
// not weigh on every scan record.
type Control struct {
	Control           string     `json:"control"`
	Status            string     `json:"status"`
	Rules             []string   `json:"rules"`
	Failing           []Resource `json:"failing,omitempty"`
	Errored           []Resource `json:"errored,omitempty"`
	Passing           []Resource `json:"passing,omitempty"`
	PassingTotal      int        `json:"passing_total"`
	NotEvaluated      []Resource `json:"not_evaluated,omitempty"`
	NotEvaluatedTotal int        `json:"not_evaluated_total"`
}

// Resource is one resource checked by one rule.
type Resource struct {
	Rule    string `json:"rule"`
	Type    string `json:"type"`
	Label   string `json:"label"`
	Message string `json:"message,omitempty"`
}

// ListLimit caps the passing and not evaluated resources kept per control.
const ListLimit = 1000

// FromReport makes the record of a finished scan; compliance holds the
// live compliance summaries of the packs evaluated (none without packs).
func FromReport(source string, rep *report.Report, compliance []*policy.Compliance) (Scan, []Pack) {
	s := Scan{
		Environment: rep.Environment, StartedAt: rep.StartedAt, Duration: time.Duration(rep.DurationMS) * time.Millisecond,
		Source: source, Summary: rep.Summary, Complete: !rep.Partial(), Unread: rep.Errors,
		NotEvaluatedReasons: rep.NotEvaluatedReasons, Findings: map[string]int{},
	}
	for _, f := range rep.Findings {
		s.Findings[string(f.Kind)]++
	}
	var packs []Pack
	for _, c := range compliance {
		if c == nil {
			continue
		}
		p := Pack{PackSummary: PackSummary{Pack: c.Pack}}
		for _, cr := range c.Controls {
			ctl := Control{Control: cr.Control, Status: cr.Status, Rules: cr.Rules,
				Failing: resources(cr.Failing, -1), Errored: resources(cr.Errored, -1),
				Passing: resources(cr.Passing, ListLimit), PassingTotal: len(cr.Passing),
				NotEvaluated: resources(cr.NotEvaluated, ListLimit), NotEvaluatedTotal: len(cr.NotEvaluated)}
			switch cr.Status {
			case policy.StatusPass:
				p.Pass++
			case policy.StatusFail:
				p.Fail++
			case policy.StatusError:
				p.Error++
			default:
				p.NotEvaluated++
			}
			p.Controls = append(p.Controls, ctl)
		}
		packs = append(packs, p)
		s.Packs = append(s.Packs, p.PackSummary)
	}
	return s, packs
}

func resources(rs []policy.ResourceResult, limit int) []Resource {
	if limit >= 0 && len(rs) > limit {
		rs = rs[:limit]
	}
	out := make([]Resource, len(rs))
	for i, r := range rs {
		out[i] = Resource{Rule: r.Rule, Type: r.Type, Label: r.Label, Message: r.Message}
	}
	return out
}

// Store reads and writes the history. Safe for concurrent use.
type Store struct {
	db      *sql.DB
	dialect string
}

// Open creates the tables if missing (idempotent, so replicas may start
// together). dialect is "sqlite" or "postgres".
func Open(ctx context.Context, db *sql.DB, dialect string) (*Store, error) {
	id := "id INTEGER PRIMARY KEY AUTOINCREMENT"
	switch dialect {
	case "sqlite":
	case "postgres":
		id = "id BIGSERIAL PRIMARY KEY"
	default:
		return nil, fmt.Errorf("scan history: unsupported dialect %q", dialect)
	}
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS ` + Table + ` (
			` + id + `,
			environment TEXT NOT NULL,
			started_at BIGINT NOT NULL,
			duration_ms BIGINT NOT NULL,
			complete INTEGER NOT NULL,
			body TEXT NOT NULL
		)`,
		`CREATE INDEX IF NOT EXISTS plumb_scan_history_env_started ON ` + Table + ` (environment, started_at)`,
		`CREATE INDEX IF NOT EXISTS plumb_scan_history_started ON ` + Table + ` (started_at)`,
		`CREATE TABLE IF NOT EXISTS ` + ComplianceTable + ` (
			scan_id BIGINT NOT NULL,
			pack TEXT NOT NULL,
			body TEXT NOT NULL,
			PRIMARY KEY (scan_id, pack)
		)`,
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return nil, fmt.Errorf("scan history: create tables: %w", err)
		}
	}
	return &Store{db: db, dialect: dialect}, nil
}

func (s *Store) rebind(q string) string { return sqlbind.For(s.dialect, q) }

// Record stores one scan and its per-pack results in one transaction and
// returns its id.
func (s *Store) Record(ctx context.Context, sc Scan, packs []Pack) (int64, error) {
	if sc.Environment == "" {
		return 0, errors.New("record scan: no environment")
	}
	body, err := json.Marshal(sc)
	if err != nil {
		return 0, fmt.Errorf("record scan of %s: %w", sc.Environment, err)
	}
	complete := 0
	if sc.Complete {
		complete = 1
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("record scan of %s: %w", sc.Environment, err)
	}
	defer func() { _ = tx.Rollback() }()
	var id int64
	if err := tx.QueryRowContext(ctx, s.rebind(`INSERT INTO `+Table+` (environment, started_at, duration_ms, complete, body)
		VALUES (?, ?, ?, ?, ?) RETURNING id`), sc.Environment, sc.StartedAt.UnixNano(), sc.Duration.Milliseconds(), complete, string(body)).Scan(&id); err != nil {
		return 0, fmt.Errorf("record scan of %s: %w", sc.Environment, err)
	}
	for _, p := range packs {
		b, err := json.Marshal(p)
		if err != nil {
			return 0, fmt.Errorf("record scan of %s: pack %s: %w", sc.Environment, p.Pack, err)
		}
		if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO `+ComplianceTable+` (scan_id, pack, body) VALUES (?, ?, ?)`), id, p.Pack, string(b)); err != nil {
			return 0, fmt.Errorf("record scan of %s: pack %s: %w", sc.Environment, p.Pack, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("record scan of %s: commit: %w", sc.Environment, err)
	}
	return id, nil
}

const scanColumns = `SELECT id, environment, started_at, duration_ms, body FROM ` + Table

type rowScanner interface{ Scan(dest ...any) error }

func scanRow(r rowScanner) (Scan, error) {
	var sc Scan
	var started, dur int64
	var body string
	if err := r.Scan(&sc.ID, &sc.Environment, &started, &dur, &body); err != nil {
		return sc, err
	}
	if err := json.Unmarshal([]byte(body), &sc); err != nil {
		return sc, fmt.Errorf("decode scan %d: %w", sc.ID, err)
	}
	sc.StartedAt = time.Unix(0, started).UTC()
	sc.Duration = time.Duration(dur) * time.Millisecond
	return sc, nil
}

// Latest returns the most recent scan of every environment that has one,
// ordered by environment.
func (s *Store) Latest(ctx context.Context) ([]Scan, error) {
	rows, err := s.db.QueryContext(ctx, scanColumns+` WHERE id IN (SELECT MAX(id) FROM `+Table+` GROUP BY environment) ORDER BY environment`)
	if err != nil {
		return nil, fmt.Errorf("latest scans: %w", err)
	}
	return collect(rows, "latest scans")
}

// Since returns the scans of an environment ("" for all) started at or
// after since, oldest first.
func (s *Store) Since(ctx context.Context, environment string, since time.Time) ([]Scan, error) {
	q := scanColumns + ` WHERE started_at >= ?`
	args := []any{since.UnixNano()}
	if environment != "" {
		q += ` AND environment = ?`
		args = append(args, environment)
	}
	rows, err := s.db.QueryContext(ctx, s.rebind(q+` ORDER BY started_at, id`), args...)
	if err != nil {
		return nil, fmt.Errorf("scan history: %w", err)
	}
	return collect(rows, "scan history")
}

// DailyLatest returns, for every environment, the last scan of each UTC
// day since since (oldest first): what Trend needs, read without loading
// every scan of a busy schedule.
func (s *Store) DailyLatest(ctx context.Context, since time.Time) ([]Scan, error) {
	const day = int64(24 * time.Hour)
	q := scanColumns + ` WHERE id IN (SELECT MAX(id) FROM ` + Table + ` WHERE started_at >= ? GROUP BY environment, started_at / ` +
		fmt.Sprint(day) + `) ORDER BY started_at, id`
	rows, err := s.db.QueryContext(ctx, s.rebind(q), since.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("scan history by day: %w", err)
	}
	return collect(rows, "scan history by day")
}

func collect(rows *sql.Rows, what string) ([]Scan, error) {
	defer rows.Close()
	var out []Scan
	for rows.Next() {
		sc, err := scanRow(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, sc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// Compliance returns the per-control results of the latest scan of
// environment that evaluated pack, with that scan; ok is false when no
// scan of the environment evaluated it.
func (s *Store) Compliance(ctx context.Context, environment, pack string) (Pack, Scan, bool, error) {
	var id int64
	var body string
	err := s.db.QueryRowContext(ctx, s.rebind(`SELECT c.scan_id, c.body FROM `+ComplianceTable+` c JOIN `+Table+` s ON s.id = c.scan_id
		WHERE s.environment = ? AND c.pack = ? ORDER BY c.scan_id DESC LIMIT 1`), environment, pack).Scan(&id, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return Pack{}, Scan{}, false, nil
	}
	if err != nil {
		return Pack{}, Scan{}, false, fmt.Errorf("compliance of %s/%s: %w", environment, pack, err)
	}
	var p Pack
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		return Pack{}, Scan{}, false, fmt.Errorf("compliance of %s/%s: decode: %w", environment, pack, err)
	}
	sc, err := scanRow(s.db.QueryRowContext(ctx, s.rebind(scanColumns+` WHERE id = ?`), id))
	if err != nil {
		return Pack{}, Scan{}, false, fmt.Errorf("compliance of %s/%s: %w", environment, pack, err)
	}
	return p, sc, true, nil
}

// Prune deletes the scans started before before, with their compliance
// results, except the latest scan of each environment, which is kept
// however old so the console can always say when an environment was last
// scanned. It returns how many scans it deleted. The retention job calls
// it with its own cut-off.
func (s *Store) Prune(ctx context.Context, before time.Time) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("prune scan history: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	keep := `SELECT MAX(id) FROM ` + Table + ` GROUP BY environment`
	if _, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM `+ComplianceTable+` WHERE scan_id IN (SELECT id FROM `+Table+
		` WHERE started_at < ? AND id NOT IN (`+keep+`))`), before.UnixNano()); err != nil {
		return 0, fmt.Errorf("prune scan history: %w", err)
	}
	res, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM `+Table+` WHERE started_at < ? AND id NOT IN (`+keep+`)`), before.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("prune scan history: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune scan history: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("prune scan history: commit: %w", err)
	}
	return int(n), nil
}

// Day is one UTC day of an environment's trend: the last scan of the day
// stands for it.
type Day struct {
	Date time.Time // midnight UTC
	// Drift counts changed, missing, unmanaged and conflicting resources.
	Drift    int
	Coverage float64
	// CoverageKnown is false when the scan read nothing to compute it over.
	CoverageKnown bool
	Complete      bool
	// Compliance is the pass percentage per pack, for packs with an
	// evaluated control.
	Compliance map[string]float64
}

// Trend turns scans (oldest first, one environment) into one Day per
// UTC day that has a scan.
func Trend(scans []Scan) []Day {
	byDay := map[time.Time]Scan{}
	for _, sc := range scans {
		if sc.Error != "" {
			continue
		}
		d := sc.StartedAt.UTC().Truncate(24 * time.Hour)
		if prev, ok := byDay[d]; !ok || !sc.StartedAt.Before(prev.StartedAt) {
			byDay[d] = sc
		}
	}
	out := make([]Day, 0, len(byDay))
	for d, sc := range byDay {
		day := Day{Date: d, Drift: sc.Summary.Changed + sc.Summary.Missing + sc.Summary.Unmanaged + sc.Summary.Conflicting,
			Coverage: sc.Summary.Coverage, CoverageKnown: sc.Summary.CoverageKnown(), Complete: sc.Complete, Compliance: map[string]float64{}}
		for _, p := range sc.Packs {
			if pct, ok := p.Percent(); ok {
				day.Compliance[p.Pack] = pct
			}
		}
		out = append(out, day)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Date.Before(out[j].Date) })
	return out
}
