// Package enforce acts on findings: it turns an environment's open
// findings into planned actions (delete an unmanaged resource, later
// quarantine or revert), passes each through a chain of guards, and
// carries out what passes through the durable queue, recording every step.
//
// It is one more consumer of findings, like a receiver. The pieces, each a
// small local change to extend:
//
//   - Settings come from plumb.yaml (config.Enforcement): which verb a
//     finding kind gets (Verbs), and the limits the guards apply.
//   - The Planner builds one Candidate per open finding whose kind has a
//     verb other than report, and runs the Guards over them in order.
//     A Guard is a stage over a batch (like an Alertmanager pipeline
//     stage): it blocks the candidates it must stop and names why.
//     Adding a guard is a new type and one line in DefaultGuards.
//   - An Executor carries out verbs for one provider (internal/enforce/aws);
//     adding a resource type or a verb is a change to the executor only.
//     Executors read live state (Read, Check) and write (Execute); reads
//     never write, which is what dry runs rely on.
//   - The Store keeps an Action record per action: who asked, why (the
//     finding), the guard that stopped it or the before-state, API calls
//     and result of the run.
//   - The Runner hands the runnable actions of a plan to the queue as one
//     job and executes it when the queue delivers it, re-reading the live
//     resource and re-applying the live guards right before each write.
//
// Everything is conservative: anything the guards cannot judge (a live
// read that failed, tags that could not be read, an account unknown) stops
// the action; nothing unknown ever passes.
package enforce
