package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/bcrypt"
)

// minPasswordLength is the shortest console password hash-password
// accepts: shorter ones fall to guessing whatever the hash.
const minPasswordLength = 12

func newConsoleCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "console",
		Short: "Helpers for the web console plumb serve offers at /",
		Args:  cobra.NoArgs,
	}
	var cost int
	hash := &cobra.Command{
		Use:   "hash-password",
		Short: "Print the bcrypt hash of a console password, for console.users[].password_hash",
		Long: `Read a password from standard input (its first line) and print its bcrypt
hash, the value console.users[].password_hash in plumb.yaml takes. The
password itself is never written to the config: only its hash is.`,
		Example: `  printf '%s\n' "$PASSWORD" | plumb console hash-password
  plumb console hash-password < password.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
				return usageErr(fmt.Errorf("--cost %d: want %d to %d", cost, bcrypt.MinCost, bcrypt.MaxCost))
			}
			line, err := bufio.NewReader(io.LimitReader(cmd.InOrStdin(), 4096)).ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				return &exitCodeError{code: exitError, err: fmt.Errorf("read the password from standard input: %w", err)}
			}
			pw := strings.TrimRight(line, "\r\n")
			switch {
			case pw == "":
				return usageErr(errors.New("no password on standard input (pipe it in: printf '%s\\n' \"$PASSWORD\" | plumb console hash-password)"))
			case utf8.RuneCountInString(pw) < minPasswordLength:
				return usageErr(fmt.Errorf("the password has %d characters: use at least %d", utf8.RuneCountInString(pw), minPasswordLength))
			case len(pw) > 72:
				return usageErr(errors.New("the password is longer than 72 bytes, which bcrypt cannot hash: use a shorter one"))
			}
			h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
			if err != nil {
				return &exitCodeError{code: exitError, err: fmt.Errorf("hash the password: %w", err)}
			}
			fmt.Fprintln(stdout, string(h))
			return nil
		},
	}
	hash.Flags().IntVar(&cost, "cost", bcrypt.DefaultCost, "bcrypt cost (each step doubles the work of checking a login, and of guessing)")
	cmd.AddCommand(hash)
	return cmd
}
