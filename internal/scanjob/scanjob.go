package scanjob

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	"plumb/internal/config"
	"plumb/internal/inventory"
	awsinv "plumb/internal/inventory/aws"
	"plumb/internal/queue"
	"plumb/internal/scan"
)

// Task names.
const (
	taskPart = "scan-part"
	taskJoin = "scan-join"
)

// partAttempts is how often a part is tried before it is recorded failed
// (a scope error of the scan: what it declares there is not evaluated).
const partAttempts = 3

// Options wire the runner into plumb serve.
type Options struct {
	Queue  *queue.Queue
	Config *config.Config
	// Roles caches assumed-role credentials across the scans of the
	// process.
	Roles  *awsinv.RoleCache
	Logger *slog.Logger
	// ScanOptions are the scan options of an environment, the same a
	// one-process scheduled scan uses.
	ScanOptions func(env config.Environment) scan.Options
	// Finish stores a joined scan (out; nil with err when the scan failed
	// before any part ran) and returns the scan's outcome as the schedule
	// reports it. It runs once per scan.
	Finish func(ctx context.Context, env config.Environment, start time.Time, out *scan.Outcome, err error) error
	// InProcess runs a scan that cannot be split, in this process.
	InProcess func(ctx context.Context, env config.Environment) error
	// PartTimeout bounds one attempt of a part and of the join, and so
	// when the work of a replica that died is rescued (server.rescue_after).
	PartTimeout time.Duration
	// ScanTimeout bounds a whole scan: parts not read by then are recorded
	// failed and the scan is joined with what was read.
	ScanTimeout time.Duration
	// JobName is the periodic job of an environment's schedule.
	JobName func(env string) string
}

// Runner plans, reads and joins split scans.
type Runner struct {
	o       Options
	q       *queue.Queue
	db      *sql.DB
	dialect string
	log     *slog.Logger
	replica string

	mu       sync.Mutex
	scanners map[string]*runScanner
}

// runScanner is the AWS scanner of one run on this replica, built once
// for all the run's parts it reads.
type runScanner struct {
	once sync.Once
	s    *awsinv.Scanner
	err  error
	used time.Time
}

// New creates the tables and registers the part and join tasks; call
// before the queue starts.
func New(ctx context.Context, o Options) (*Runner, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Roles == nil {
		o.Roles = awsinv.NewRoleCache()
	}
	r := &Runner{o: o, q: o.Queue, db: o.Queue.DB(), dialect: o.Queue.Dialect(), log: o.Logger,
		replica: replicaID(), scanners: map[string]*runScanner{}}
	if err := migrate(ctx, r.db, r.dialect); err != nil {
		return nil, err
	}
	if err := r.q.HandleTask(taskPart, queue.TaskOptions{Timeout: o.PartTimeout, MaxAttempts: partAttempts}, r.part); err != nil {
		return nil, err
	}
	if err := r.q.HandleTask(taskJoin, queue.TaskOptions{Timeout: o.PartTimeout, MaxAttempts: partAttempts}, r.join); err != nil {
		return nil, err
	}
	return r, nil
}

// Replica names this process in the part rows it writes.
func (r *Runner) Replica() string { return r.replica }

func replicaID() string {
	host, _ := os.Hostname()
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

func newRunID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (r *Runner) env(name string) (config.Environment, bool) {
	for _, e := range r.o.Config.Environments {
		if e.Name == name {
			return e, true
		}
	}
	return config.Environment{}, false
}

type partArgs struct {
	Run string `json:"run"`
	Seq int    `json:"seq"`
}

type joinArgs struct {
	Run string `json:"run"`
}

// Plan is the scheduled scan of an environment: it finishes what an
// earlier run left (sweep), then reads the desired state, resolves the
// accounts and stores a run with one task per part, all in one
// transaction: a planner that dies leaves no half-run. It returns
// queue.ErrOutcomeLater: the join records how the scan ended.
func (r *Runner) Plan(ctx context.Context, env config.Environment) error {
	open, err := r.sweep(ctx, env.Name)
	if err != nil {
		return err
	}
	if open {
		// The previous scan is still being read: a scan that takes longer
		// than its interval skips a tick rather than running twice.
		r.log.Debug("scheduled scan still running; tick skipped", "environment", env.Name)
		return queue.ErrOutcomeLater
	}
	if err := r.prune(ctx, env.Name); err != nil {
		return err
	}
	opts := r.o.ScanOptions(env)
	if !scan.Splittable(opts) {
		return r.o.InProcess(ctx, env)
	}
	start := time.Now()
	fail := func(err error) error { return r.o.Finish(ctx, env, start, nil, err) }
	desired, err := scan.Prepare(ctx, opts)
	if err != nil {
		return fail(err)
	}
	if !desired.AWSOnly() {
		return r.o.InProcess(ctx, env)
	}
	scanner, err := awsinv.New(ctx, awsinv.Options{Regions: opts.Regions, Roles: r.o.Roles})
	if err != nil {
		return fail(err)
	}
	type job struct {
		t awsinv.Target
		p awsinv.Part
	}
	var (
		jobs     []job
		errs     []inventory.ScopeError
		accounts = map[string][]string{}
		own      string
	)
	multi := opts.Accounts != nil
	if multi {
		res, err := scanner.Resolve(ctx, opts.Accounts.Targets, opts.Accounts.Organization)
		if err != nil {
			return fail(err)
		}
		errs = append(errs, res.Errors...)
		for _, f := range res.Failed {
			accounts[f.Target.Account] = scanner.RegionsOf(f.Target)
			errs = append(errs, f.ScopeError())
		}
		for _, t := range res.Accounts {
			accounts[t.Account] = scanner.RegionsOf(t)
			for _, p := range scanner.Parts(t) {
				jobs = append(jobs, job{t, p})
			}
		}
		// The first parts spread over the accounts, as in one process.
		sort.SliceStable(jobs, func(i, j int) bool { return jobs[i].p.Label() < jobs[j].p.Label() })
	} else {
		if own, err = scanner.CheckIdentity(ctx); err != nil {
			return fail(err)
		}
		for _, p := range scanner.OwnParts() {
			jobs = append(jobs, job{awsinv.Target{Account: own}, p})
		}
	}
	desiredJSON, err := json.Marshal(desired)
	if err != nil {
		return fail(fmt.Errorf("store the desired state: %w", err))
	}
	declared, _ := json.Marshal(desired.DeclaredKeys())
	regions, _ := json.Marshal(scanner.Regions())
	accountsJSON, _ := json.Marshal(accounts)
	errsJSON, _ := json.Marshal(errs)
	id := newRunID()
	err = r.q.InTx(ctx, func(tx queue.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO plumb_scan_run (id, environment, state, started_at, parts_total, parts_left, multi,
			account, regions, accounts, errors, declared, desired, api_calls) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, env.Name, RunOpen, start.UnixNano(), len(jobs), len(jobs), boolInt(multi), own, string(regions),
			string(accountsJSON), string(errsJSON), string(declared), string(desiredJSON), scanner.APICalls())
		if err != nil {
			return fmt.Errorf("store scan run: %w", err)
		}
		for i, j := range jobs {
			jobID, err := tx.AddTask(ctx, taskPart, partArgs{Run: id, Seq: i}, false)
			if err != nil {
				return err
			}
			target, _ := json.Marshal(j.t)
			if _, err := tx.Exec(ctx, `INSERT INTO plumb_scan_part (run_id, seq, account, service, region, target, job_id, state)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, id, i, j.t.Account, j.p.Service, j.p.Region, string(target), jobID, PartPending); err != nil {
				return fmt.Errorf("store scan part: %w", err)
			}
		}
		if len(jobs) == 0 {
			// Nothing to read (no account could be resolved): join at once.
			return r.addJoin(ctx, tx, id)
		}
		return nil
	})
	if err != nil {
		return fail(fmt.Errorf("plan the scan: %w", err))
	}
	r.log.Debug("scheduled scan planned", "environment", env.Name, "run", id, "parts", len(jobs), "declared", desired.Len())
	return queue.ErrOutcomeLater
}

// RunRetention is how long a joined run and its part rows (who read
// which part, when) are kept.
const RunRetention = 7 * 24 * time.Hour

// prune deletes the environment's runs joined more than RunRetention ago.
func (r *Runner) prune(ctx context.Context, env string) error {
	cutoff := time.Now().Add(-RunRetention).UnixNano()
	return r.q.InTx(ctx, func(tx queue.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM plumb_scan_part WHERE run_id IN
			(SELECT id FROM plumb_scan_run WHERE environment = ? AND state = ? AND finished_at < ?)`, env, RunJoined, cutoff); err != nil {
			return fmt.Errorf("prune scan parts: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM plumb_scan_run WHERE environment = ? AND state = ? AND finished_at < ?`, env, RunJoined, cutoff); err != nil {
			return fmt.Errorf("prune scan runs: %w", err)
		}
		return nil
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (r *Runner) addJoin(ctx context.Context, tx queue.Tx, run string) error {
	jobID, err := tx.AddTask(ctx, taskJoin, joinArgs{Run: run}, true)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE plumb_scan_run SET join_job = ? WHERE id = ?`, jobID, run)
	return err
}

// sweep finishes what earlier runs of an environment left: parts whose
// task ended without recording them (their replica died on the last
// attempt) are recorded failed, parts of a run older than ScanTimeout
// too, and a run whose parts are all recorded but whose join task is gone
// gets a new one. It reports whether a run is still open.
func (r *Runner) sweep(ctx context.Context, env string) (bool, error) {
	rows, err := r.db.QueryContext(ctx, bind(r.dialect, `SELECT id, started_at, parts_left, join_job FROM plumb_scan_run
		WHERE environment = ? AND state IN (?, ?)`), env, RunOpen, RunJoining)
	if err != nil {
		return false, fmt.Errorf("read open scan runs: %w", err)
	}
	type openRun struct {
		id      string
		started int64
		left    int
		joinJob int64
	}
	var runs []openRun
	for rows.Next() {
		var o openRun
		if err := rows.Scan(&o.id, &o.started, &o.left, &o.joinJob); err != nil {
			_ = rows.Close()
			return false, fmt.Errorf("read open scan runs: %w", err)
		}
		runs = append(runs, o)
	}
	_ = rows.Close()
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("read open scan runs: %w", err)
	}
	open := false
	for _, o := range runs {
		overdue := r.o.ScanTimeout > 0 && time.Since(time.Unix(0, o.started)) > r.o.ScanTimeout
		lost, err := r.lostParts(ctx, o.id, overdue)
		if err != nil {
			return false, err
		}
		for _, seq := range lost {
			msg := "its task ended without recording a result (the replica reading it stopped on its last attempt)"
			if overdue {
				msg = fmt.Sprintf("not read within the scan's time limit (%s)", r.o.ScanTimeout)
			}
			if err := r.record(ctx, o.id, seq, PartFailed, "", msg, 0, 0); err != nil {
				return false, err
			}
		}
		if o.left == 0 && len(lost) == 0 && !r.jobLive(ctx, o.joinJob) {
			// The join's task ended without joining (its replica died on
			// its last attempt): a new join takes the run over.
			err := r.q.InTx(ctx, func(tx queue.Tx) error {
				if _, err := tx.Exec(ctx, `UPDATE plumb_scan_run SET state = ? WHERE id = ? AND state = ?`, RunOpen, o.id, RunJoining); err != nil {
					return err
				}
				return r.addJoin(ctx, tx, o.id)
			})
			if err != nil {
				return false, fmt.Errorf("restart the join of scan run %s: %w", o.id, err)
			}
		}
		open = true
	}
	return open, nil
}

// lostParts lists the pending parts of a run whose task is no longer
// live (or all pending parts, with all).
func (r *Runner) lostParts(ctx context.Context, run string, all bool) ([]int, error) {
	rows, err := r.db.QueryContext(ctx, bind(r.dialect, `SELECT seq, job_id FROM plumb_scan_part WHERE run_id = ? AND state = ?`), run, PartPending)
	if err != nil {
		return nil, fmt.Errorf("read pending parts: %w", err)
	}
	type pending struct {
		seq int
		job int64
	}
	var ps []pending
	for rows.Next() {
		var p pending
		if err := rows.Scan(&p.seq, &p.job); err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("read pending parts: %w", err)
		}
		ps = append(ps, p)
	}
	_ = rows.Close()
	var out []int
	for _, p := range ps {
		if all || !r.jobLive(ctx, p.job) {
			out = append(out, p.seq)
		}
	}
	return out, nil
}

// jobLive reports whether a task can still run: it waits, runs or will
// be retried.
func (r *Runner) jobLive(ctx context.Context, id int64) bool {
	if id == 0 {
		return false
	}
	var state string
	err := r.db.QueryRowContext(ctx, bind(r.dialect, `SELECT state FROM river_job WHERE id = ?`), id).Scan(&state)
	if err != nil {
		// Unknown is taken for live: a lost part is found at a later tick.
		return !errors.Is(err, sql.ErrNoRows)
	}
	switch state {
	case "completed", "discarded", "cancelled":
		return false
	}
	return true
}

// part reads one part. A part waits (snoozes, without using an attempt)
// while its account or service has no free slot; a part that fails on its
// last attempt is recorded failed.
func (r *Runner) part(ctx context.Context, t queue.Task) error {
	var a partArgs
	if err := json.Unmarshal(t.Args, &a); err != nil {
		return fmt.Errorf("scan part arguments: %w", err)
	}
	var (
		envName, state, account, service, region, target string
		multi                                            int
	)
	err := r.db.QueryRowContext(ctx, bind(r.dialect, `SELECT r.environment, p.state, p.account, p.service, p.region, p.target,
		r.multi FROM plumb_scan_part p JOIN plumb_scan_run r ON r.id = p.run_id WHERE p.run_id = ? AND p.seq = ?`),
		a.Run, a.Seq).Scan(&envName, &state, &account, &service, &region, &target, &multi)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // the run was pruned
	}
	if err != nil {
		return fmt.Errorf("load scan part: %w", err)
	}
	if state != PartPending {
		return nil // recorded by an earlier attempt
	}
	env, ok := r.env(envName)
	if !ok {
		return r.record(ctx, a.Run, a.Seq, PartFailed, "", fmt.Sprintf("environment %s is no longer configured on replica %s", envName, r.replica), 0, 0)
	}
	holder := fmt.Sprintf("%s/%d/%d", r.replica, t.ID, t.Attempt)
	got, err := r.acquire(ctx, holder, account, service, env.ScanLimits)
	if err != nil {
		r.log.Debug("scan part: lease", "error", err)
		got = false
	}
	if !got {
		return queue.Snooze(snoozeFor())
	}
	defer r.release(holder)
	started := time.Now()
	res, err := r.read(ctx, a.Run, env, multi == 1, target, awsinv.Part{Service: service, Region: region})
	if err != nil {
		if t.Attempt < t.MaxAttempts {
			return err
		}
		return r.record(ctx, a.Run, a.Seq, PartFailed, "", fmt.Sprintf("failed %d times: %v", t.Attempt, err), started.UnixMilli(), time.Now().UnixMilli())
	}
	snap, err := json.Marshal(res.Snapshot())
	if err != nil {
		return fmt.Errorf("store scan part: %w", err)
	}
	return r.record(ctx, a.Run, a.Seq, PartDone, string(snap), "", started.UnixMilli(), time.Now().UnixMilli())
}

// snoozeFor spreads the retries of parts waiting for a slot.
func snoozeFor() time.Duration {
	var b [1]byte
	_, _ = rand.Read(b[:])
	return 200*time.Millisecond + time.Duration(b[0])*2*time.Millisecond
}

// read lists one part. The part's own time is bounded a little under the
// task's timeout, so what it read is recorded before the task is taken
// for a dead one.
func (r *Runner) read(ctx context.Context, run string, env config.Environment, multi bool, targetJSON string, p awsinv.Part) (*inventory.Result, error) {
	var t awsinv.Target
	if err := json.Unmarshal([]byte(targetJSON), &t); err != nil {
		return nil, fmt.Errorf("scan part target: %w", err)
	}
	s, err := r.scanner(ctx, run, env)
	if err != nil {
		return nil, err
	}
	if d := r.o.PartTimeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d*9/10)
		defer cancel()
	}
	if multi {
		return s.ScanPart(ctx, t, p)
	}
	return s.ScanOwnPart(ctx, t.Account, p)
}

// scanner returns the run's scanner on this replica, built on first use
// from the declared resources and regions the planner stored (read once
// per run and replica, not once per part).
func (r *Runner) scanner(ctx context.Context, run string, env config.Environment) (*awsinv.Scanner, error) {
	r.mu.Lock()
	rs, ok := r.scanners[run]
	if !ok {
		rs = &runScanner{}
		r.scanners[run] = rs
		// Keep the scanners of the latest runs only.
		for id, other := range r.scanners {
			if id != run && time.Since(other.used) > time.Hour {
				delete(r.scanners, id)
			}
		}
	}
	rs.used = time.Now()
	r.mu.Unlock()
	rs.once.Do(func() {
		var declaredJSON, regionsJSON string
		if err := r.db.QueryRowContext(ctx, bind(r.dialect, `SELECT declared, regions FROM plumb_scan_run WHERE id = ?`), run).
			Scan(&declaredJSON, &regionsJSON); err != nil {
			rs.err = fmt.Errorf("load scan run %s: %w", run, err)
			return
		}
		var keys, regions []string
		if err := json.Unmarshal([]byte(declaredJSON), &keys); err != nil {
			rs.err = fmt.Errorf("declared resources of scan run %s: %w", run, err)
			return
		}
		if err := json.Unmarshal([]byte(regionsJSON), &regions); err != nil {
			rs.err = fmt.Errorf("regions of scan run %s: %w", run, err)
			return
		}
		opts := r.o.ScanOptions(env)
		rs.s, rs.err = awsinv.New(context.WithoutCancel(ctx), awsinv.Options{Regions: regions, Declared: scan.DeclaredFunc(keys),
			PolicyAttributes: opts.Policy != nil, Roles: r.o.Roles})
	})
	if rs.err != nil {
		// Not kept: the part's next attempt builds it again.
		r.mu.Lock()
		if r.scanners[run] == rs {
			delete(r.scanners, run)
		}
		r.mu.Unlock()
	}
	return rs.s, rs.err
}

// record stores what a part read (or why it failed) with the replica
// that ran it, and, in the same transaction, counts it off its run; the
// part that leaves none adds the join. A part recorded already (by an
// earlier attempt, or failed by the sweep) changes nothing.
func (r *Runner) record(ctx context.Context, run string, seq int, state, result, msg string, started, finished int64) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return r.q.InTx(ctx, func(tx queue.Tx) error {
		n, err := tx.Exec(ctx, `UPDATE plumb_scan_part SET state = ?, replica = ?, result = ?, error = ?, started_at = ?, finished_at = ?,
			attempts = attempts + 1 WHERE run_id = ? AND seq = ? AND state = ?`, state, r.replica, result, msg, started, finished, run, seq, PartPending)
		if err != nil {
			return fmt.Errorf("record scan part: %w", err)
		}
		if n == 0 {
			return nil
		}
		var left int
		if err := tx.QueryRow(ctx, `UPDATE plumb_scan_run SET parts_left = parts_left - 1 WHERE id = ? RETURNING parts_left`,
			[]any{&left}, run); err != nil {
			return fmt.Errorf("count scan part: %w", err)
		}
		if left == 0 {
			return r.addJoin(ctx, tx, run)
		}
		return nil
	})
}

// join compares what the parts read with the desired state and runs the
// findings lifecycle once: the run moves from open to joining under this
// task's attempt, so a second join task finds nothing to do, and a
// rescued attempt of this task (its replica died mid-join) takes over.
func (r *Runner) join(ctx context.Context, t queue.Task) error {
	var a joinArgs
	if err := json.Unmarshal(t.Args, &a); err != nil {
		return fmt.Errorf("scan join arguments: %w", err)
	}
	var claimed int64
	err := r.q.InTx(ctx, func(tx queue.Tx) error {
		var err error
		claimed, err = tx.Exec(ctx, `UPDATE plumb_scan_run SET state = ?, join_job = ?, join_attempt = ?
			WHERE id = ? AND parts_left = 0 AND (state = ? OR (state = ? AND join_job = ? AND join_attempt < ?))`,
			RunJoining, t.ID, t.Attempt, a.Run, RunOpen, RunJoining, t.ID, t.Attempt)
		return err
	})
	if err != nil {
		return fmt.Errorf("claim the join of scan run %s: %w", a.Run, err)
	}
	if claimed == 0 {
		return nil
	}
	var (
		envName, account, regionsJSON, accountsJSON, errsJSON, desiredJSON string
		started, calls                                                     int64
		multi                                                              int
	)
	err = r.db.QueryRowContext(ctx, bind(r.dialect, `SELECT environment, started_at, multi, account, regions, accounts, errors, desired, api_calls
		FROM plumb_scan_run WHERE id = ?`), a.Run).Scan(&envName, &started, &multi, &account, &regionsJSON, &accountsJSON, &errsJSON, &desiredJSON, &calls)
	if err != nil {
		return fmt.Errorf("load scan run %s: %w", a.Run, err)
	}
	start := time.Unix(0, started)
	env, ok := r.env(envName)
	if !ok {
		return r.finished(ctx, a.Run, t, fmt.Errorf("environment %s is no longer configured", envName))
	}
	inv, replicas, err := r.assemble(ctx, a.Run, multi == 1, regionsJSON, accountsJSON, errsJSON)
	if err != nil {
		return err
	}
	inv.APICalls += calls
	var desired scan.Desired
	if err := json.Unmarshal([]byte(desiredJSON), &desired); err != nil {
		return r.finished(ctx, a.Run, t, r.o.Finish(ctx, env, start, nil, err))
	}
	out, err := scan.Join(ctx, start, r.o.ScanOptions(env), &desired, inv)
	outcome := r.o.Finish(ctx, env, start, out, err)
	r.log.Info("scheduled scan joined", "environment", envName, "run", a.Run, "replicas", replicas,
		"duration", time.Since(start).Round(time.Millisecond).String(), "outcome", errString(outcome))
	return r.finished(ctx, a.Run, t, outcome)
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// finished marks the run joined and records the schedule's outcome.
func (r *Runner) finished(ctx context.Context, run string, t queue.Task, outcome error) error {
	var envName string
	err := r.q.InTx(ctx, func(tx queue.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT environment FROM plumb_scan_run WHERE id = ?`, []any{&envName}, run); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE plumb_scan_run SET state = ?, finished_at = ?, error = ?, desired = '', declared = ''
			WHERE id = ? AND state = ? AND join_job = ? AND join_attempt = ?`,
			RunJoined, time.Now().UnixNano(), errString(outcome), run, RunJoining, t.ID, t.Attempt)
		if err != nil {
			return err
		}
		// What the parts read is in the findings and the history now.
		_, err = tx.Exec(ctx, `UPDATE plumb_scan_part SET result = '' WHERE run_id = ?`, run)
		return err
	})
	if err != nil {
		return fmt.Errorf("finish scan run %s: %w", run, err)
	}
	r.q.PeriodicOutcome(ctx, r.o.JobName(envName), time.Now(), outcome)
	return nil
}

// assemble absorbs every part's result into one inventory, as one process
// reading them all would have built it; it returns the replicas that ran
// parts.
func (r *Runner) assemble(ctx context.Context, run string, multi bool, regionsJSON, accountsJSON, errsJSON string) (*inventory.Result, []string, error) {
	var (
		regions  []string
		accounts map[string][]string
		errs     []inventory.ScopeError
	)
	if err := errors.Join(json.Unmarshal([]byte(regionsJSON), &regions), json.Unmarshal([]byte(accountsJSON), &accounts),
		json.Unmarshal([]byte(errsJSON), &errs)); err != nil {
		return nil, nil, fmt.Errorf("load scan run %s: %w", run, err)
	}
	inv := inventory.NewResult(nil)
	if multi {
		acc := inventory.NewResult(nil)
		acc.Errors = append(acc.Errors, errs...)
		for a, regs := range accounts {
			acc.AddAccount(a, regs)
		}
		inv.Absorb(acc)
	} else {
		inv.Absorb(inventory.NewResult(regions))
	}
	rows, err := r.db.QueryContext(ctx, bind(r.dialect, `SELECT account, service, region, state, replica, result, error
		FROM plumb_scan_part WHERE run_id = ? ORDER BY seq`), run)
	if err != nil {
		return nil, nil, fmt.Errorf("load scan parts of %s: %w", run, err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	var replicas []string
	for rows.Next() {
		var account, service, region, state, replica, result, msg string
		if err := rows.Scan(&account, &service, &region, &state, &replica, &result, &msg); err != nil {
			return nil, nil, fmt.Errorf("load scan parts of %s: %w", run, err)
		}
		if replica != "" && !seen[replica] {
			seen[replica] = true
			replicas = append(replicas, replica)
		}
		if state == PartDone {
			var snap inventory.Snapshot
			if err := json.Unmarshal([]byte(result), &snap); err != nil {
				return nil, nil, fmt.Errorf("load scan part %s/%s/%s of %s: %w", account, region, service, run, err)
			}
			inv.Absorb(inventory.FromSnapshot(snap))
			continue
		}
		// A part that could not be read is a scope error: what is
		// declared there is not evaluated, never missing.
		failed := inventory.NewResult(nil)
		scope := inventory.Scope{Provider: "aws", Region: regionLabel(region), Service: service}
		if multi {
			scope.Account = account
			failed.AddAccount(account, accounts[account])
		}
		if msg == "" {
			msg = "not read"
		}
		failed.Fail(scope, errors.New(msg))
		inv.Absorb(failed)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("load scan parts of %s: %w", run, err)
	}
	sort.Strings(replicas)
	return inv, replicas, nil
}

// regionLabel names a global service's region as scopes do.
func regionLabel(region string) string {
	if region == "" {
		return "global"
	}
	return region
}

// leaseKeys are the slots a part needs: one of its service in its account,
// then one of its account (always in that order, as in one process).
func leaseKeys(account, service string, lim config.ScanLimits) []struct {
	key string
	n   int
} {
	return []struct {
		key string
		n   int
	}{{"svc|" + account + "|" + service, lim.Service}, {"acct|" + account, lim.Account}}
}

// acquire takes a slot of each limit of the part in one transaction:
// a free slot is one with no lease or an expired one (its replica died).
// It reports false when a limit has no free slot.
func (r *Runner) acquire(ctx context.Context, holder, account, service string, lim config.ScanLimits) (bool, error) {
	ttl := r.o.PartTimeout + 5*time.Second
	got := true
	err := r.q.InTx(ctx, func(tx queue.Tx) error {
		now := nowMS(r.dialect)
		for _, k := range leaseKeys(account, service, lim) {
			if k.n <= 0 {
				continue
			}
			took := false
			for slot := 0; slot < k.n && !took; slot++ {
				n, err := tx.Exec(ctx, `INSERT INTO plumb_scan_lease (key, slot, holder, expires_at) VALUES (?, ?, ?, `+now+` + ?)
					ON CONFLICT (key, slot) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
					WHERE plumb_scan_lease.expires_at < `+now, k.key, slot, holder, ttl.Milliseconds())
				if err != nil {
					return fmt.Errorf("lease %s: %w", k.key, err)
				}
				took = n == 1
			}
			if !took {
				got = false
				return errNoSlot
			}
		}
		return nil
	})
	if errors.Is(err, errNoSlot) {
		return false, nil
	}
	return got && err == nil, err
}

var errNoSlot = errors.New("no free slot")

// release gives a part's slots back.
func (r *Runner) release(holder string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := r.db.ExecContext(ctx, bind(r.dialect, `DELETE FROM plumb_scan_lease WHERE holder = ?`), holder); err != nil {
		r.log.Warn("scan part: could not release its slots; they expire on their own", "holder", holder, "error", err)
	}
}
