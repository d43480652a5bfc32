package config

import (
	"strings"
	"testing"
	"time"
)

const goodHash = "$2a$04$GOrMTHyf1K5A2AX/5W1v6OeJ3qo5Lz9Z0QWkaNtkHyWjyBcOb0AbK" // bcrypt of "pw", cost 4

func TestConsoleConfig(t *testing.T) {
	cfg, err := Parse("plumb.yaml", []byte(`
environments:
  - name: prod
    schedule: "@hourly"
    states: [prod.tfstate]
    packs: [cis-aws-3.0]
    policies: [rules/]
console:
  session_ttl: 2h
  users:
    - name: vera
      password_hash: "`+goodHash+`"
    - name: otto
      password_hash: "`+goodHash+`"
      role: operator
  trusted_header:
    header: x-forwarded-user
    proxies: [10.0.0.5, "192.168.0.0/16", "::1"]
    operators: [alice]
ownership:
  tags: [squad]
  rules:
    - {type: "aws_s3_*", name: "billing-*", owner: billing}
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Console
	if c.SessionTTL != 2*time.Hour || c.Users[0].Role != RoleViewer || c.Users[1].Role != RoleOperator {
		t.Errorf("console = %+v", c)
	}
	if th := c.TrustedHeader; th.Header != "X-Forwarded-User" || len(th.ProxyPrefixes) != 3 || th.ProxyPrefixes[0].Bits() != 32 || th.ProxyPrefixes[2].Bits() != 128 {
		t.Errorf("trusted header = %+v", th)
	}
	if got := cfg.Environments[0].Policies[0]; got != "rules" {
		t.Errorf("policies path = %q, want it resolved against the config's directory", got)
	}
	if cfg.Resolver().Digest() == "default" {
		t.Error("resolver ignores the ownership settings")
	}
	def, err := Parse("plumb.yaml", []byte("environments: [{name: prod}]\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if def.Console.SessionTTL != DefaultSessionTTL {
		t.Errorf("default session ttl = %s", def.Console.SessionTTL)
	}
}

func TestConsoleConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"no hash", "console:\n  users:\n    - name: vera\n", `plumb.yaml:3: console.users[0].password_hash: required: a bcrypt hash (make one with: plumb console hash-password)`},
		{"plain password", "console:\n  users:\n    - name: vera\n      password_hash: hunter2\n", `plumb.yaml:4: console.users[0].password_hash: not a bcrypt hash`},
		{"role", "console:\n  users:\n    - name: vera\n      password_hash: \"" + goodHash + "\"\n      role: admin\n", `plumb.yaml:5: console.users[0].role: "admin": want viewer or operator`},
		{"twice", "console:\n  users:\n    - {name: a, password_hash: \"" + goodHash + "\"}\n    - {name: a, password_hash: \"" + goodHash + "\"}\n", `console.users[1].name: user "a" is defined twice`},
		{"no name", "console:\n  users:\n    - {password_hash: \"" + goodHash + "\"}\n", `console.users[0].name: required`},
		{"ttl", "console:\n  session_ttl: 10s\n", `plumb.yaml:2: console.session_ttl: 10s: want at least 1m`},
		{"no proxies", "console:\n  trusted_header:\n    header: X-User\n", `console.trusted_header.proxies: required`},
		{"no header", "console:\n  trusted_header:\n    proxies: [10.0.0.1]\n", `console.trusted_header.header: required`},
		{"bad proxy", "console:\n  trusted_header:\n    header: X-User\n    proxies: [proxy.internal]\n", `plumb.yaml:4: console.trusted_header.proxies[0]: "proxy.internal": want an IP address or a CIDR prefix`},
		{"rule without owner", "ownership:\n  rules:\n    - type: aws_s3_bucket\n", `ownership.rules[0].owner: required`},
		{"rule matching all", "ownership:\n  rules:\n    - owner: x\n", `ownership.rules[0]: give at least one of type, name and environment`},
		{"empty tag", "ownership:\n  tags: [\"\"]\n", `ownership.tags[0]: empty tag key`},
		{"unknown pack", "environments:\n  - name: p\n    schedule: '@hourly'\n    states: [a]\n    packs: [iso-27001]\n", `plumb.yaml:5: environments[0].packs[0]: "iso-27001": unknown pack`},
		{"unknown field", "console:\n  user: []\n", "console.user: unknown field `user` in `console`; did you mean `users`?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("plumb.yaml", []byte(tc.yaml), env(nil))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}
