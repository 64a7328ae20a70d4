package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/revloop/revloop/accounts"
	"github.com/revloop/revloop/api"
	"github.com/revloop/revloop/config"
)

func init() {
	register(&command{name: "token", summary: "create, list and revoke API tokens (create|list|revoke)", run: runToken})
}

func runToken(ctx context.Context, e *env, args []string) error {
	usage := func() error {
		fmt.Fprintln(e.stderr, `usage: revloop token create --role ROLE [--customer ID] [--name NAME]
       revloop token list
       revloop token revoke TOKEN-ID

roles: admin, dispatcher, yard, auditor, customer (customer tokens need --customer)
Every subcommand also takes --data-dir and --database-url; see 'revloop token create --help'.`)
		return errUsage
	}
	if len(args) == 0 {
		return usage()
	}
	sub, rest := args[0], args[1:]
	set := config.NewSet("token "+sub, e.stderr)
	var sf storeFlags
	sf.register(set)
	var role, customer, name string
	var asJSON bool
	switch sub {
	case "create":
		set.String(&role, "role", "", "role of the token: admin, dispatcher, yard, auditor or customer")
		set.String(&customer, "customer", "", "customer id a customer token is bound to")
		set.String(&name, "name", "", "a label for the token (who or what uses it)")
	case "list":
		set.Bool(&asJSON, "json", false, "print JSON instead of a table")
	case "revoke":
	case "-h", "--help", "help":
		usage()
		return nil
	default:
		usage()
		return fmt.Errorf("token: unknown subcommand %q", sub)
	}
	var pos []string
	if len(rest) > 0 && len(rest[0]) > 0 && rest[0][0] != '-' {
		pos, rest = rest[:1], rest[1:] // revoke TOKEN-ID [flags]
	}
	if err := set.Parse(rest); err != nil {
		return err
	}
	pos = append(pos, set.FlagSet().Args()...)
	switch {
	case sub == "revoke" && len(pos) != 1:
		return errors.New("token revoke: want exactly one TOKEN-ID")
	case sub != "revoke" && len(pos) > 0:
		return fmt.Errorf("token %s: unexpected argument %q", sub, pos[0])
	}
	db, _, err := sf.open(ctx, nil)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	defer db.Close()
	st := accounts.New(db, 0)
	switch sub {
	case "create":
		r, err := accounts.ParseRole(role)
		if err != nil {
			return fmt.Errorf("token create: %w", err)
		}
		t, secret, err := st.Create(ctx, r, customer, name)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "created token %s (%s%s); the secret below is shown only once:\n", t.ID, t.Role, customerSuffix(t.CustomerID))
		fmt.Fprintln(e.stdout, secret)
		return nil
	case "list":
		ts, err := st.List(ctx)
		if err != nil {
			return err
		}
		if asJSON {
			if ts == nil {
				ts = []accounts.Token{}
			}
			return printJSON(e.stdout, ts)
		}
		w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tROLE\tCUSTOMER\tNAME\tCREATED\tREVOKED")
		for _, t := range ts {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Role, dash(t.CustomerID), t.Name, t.Created.Format(time.RFC3339), tokenTime(t.Revoked))
		}
		return w.Flush()
	default: // revoke
		if err := st.Revoke(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "revoked %s (API processes stop accepting it within %s)\n", pos[0], accounts.DefaultCacheTTL)
		return nil
	}
}

func customerSuffix(id string) string {
	if id == "" {
		return ""
	}
	return ", customer " + id
}

func tokenTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339)
}

// wireAccounts makes the API authenticate bearer tokens from the state store
// (with a per-token rate limit) and keep Idempotency-Key responses there.
// serve registers it with registerWiring("accounts", wireAccounts).
func wireAccounts(_ context.Context, a *app) error {
	a.API.Auth = api.WithRateLimit(accounts.New(a.DB, 0), api.DefaultRateLimit)
	a.API.Idempotency = accounts.NewIdempotency(a.DB, 0)
	return nil
}
