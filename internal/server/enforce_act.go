package server

import (
	"context"
	"fmt"
	"log/slog"

	"plumb/internal/config"
	"plumb/internal/enforce"
)

// actsAnywhere reports whether anything in the config may change the
// cloud: an environment's enforcement other than report, a subscription
// handler that acts (enforce, tag, grant), or an operator credential
// (isolation).
func actsAnywhere(cfg *config.Config) bool {
	if cfg.Server.OperatorToken.Set() {
		return true
	}
	for _, e := range cfg.Environments {
		if e.Enforcement.Acts() {
			return true
		}
	}
	for _, s := range cfg.Subscriptions {
		for _, h := range s.Handlers {
			switch h.Type {
			case config.HandlerEnforce, config.HandlerTag, config.HandlerGrant:
				return true
			}
		}
	}
	return false
}

// afterScan applies an environment's enforcement once its scheduled scan
// stored its findings (the lifecycle ran: new findings opened, gone ones
// resolved), as `plumb enforce --apply` would, with actor "schedule".
// Environments that only report do nothing. Only a scan that read its
// whole scope gets here: a partial one returned its error before.
func (e *enforcement) afterScan(ctx context.Context, env config.Environment, logger *slog.Logger) error {
	if !env.Enforcement.Acts() {
		return nil
	}
	plan, err := e.service.Plan(ctx, enforce.Request{Environment: env, Apply: true, Actor: enforce.ActorSchedule})
	if err != nil {
		return fmt.Errorf("enforce %s after its scan: %w", env.Name, err)
	}
	c := plan.Counts()
	logger.Debug("enforcement after scheduled scan", "environment", env.Name, "run", plan.RunID,
		"planned", c[enforce.StatePlanned], "blocked", c[enforce.StateBlocked], "succeeded", c[enforce.StateSucceeded])
	if len(plan.Errors) > 0 {
		return fmt.Errorf("enforce %s after its scan: %d guard(s) could not judge: %v", env.Name, len(plan.Errors), plan.Errors)
	}
	return nil
}
