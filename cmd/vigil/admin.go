package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/auth"
	"github.com/vigilscan/vigil/store"
)

// AdminCmd groups administrative commands that work on the database directly.
type AdminCmd struct {
	CreateUser   AdminCreateUserCmd   `cmd:"" help:"Create a user in an organization."`
	CreateAPIKey AdminCreateAPIKeyCmd `cmd:"create-api-key" help:"Create an organization API key and print it once."`
	Outbox       AdminOutboxCmd       `cmd:"" help:"Print the SMS outbox (--sms-provider outbox): codes to pass on by hand."`
}

// AdminOutboxCmd prints stored SMS, newest first.
type AdminOutboxCmd struct {
	DBFlags
	Since time.Duration `help:"How far back to look." default:"24h"`
	Limit int           `help:"At most this many messages." default:"50"`
}

// Run prints one line per message: time, recipient, text.
func (c *AdminOutboxCmd) Run(ctx context.Context, g *Globals) error {
	st, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.CheckSchema(ctx); err != nil {
		return err
	}
	msgs, err := st.StoredMessages(ctx, time.Now().Add(-c.Since), min(max(c.Limit, 1), 1000))
	if err != nil {
		return err
	}
	g.Log.Info("audit: SMS outbox read from the command line", "messages", len(msgs))
	for _, m := range msgs {
		if _, err := fmt.Fprintf(g.Stdout, "%s\t%s\t%s\n", m.CreatedAt.UTC().Format(time.RFC3339), m.Recipient, strings.ReplaceAll(m.BodyText, "\n", " ")); err != nil {
			return err
		}
	}
	return nil
}

// AdminCreateUserCmd creates a user.
type AdminCreateUserCmd struct {
	DBFlags
	Organization string `help:"Organization id (default: the only organization)." placeholder:"UUID"`
	Email        string `help:"E-mail, also the sign-in name." required:""`
	Name         string `help:"Display name."`
	Role         string `help:"Role." default:"user" enum:"admin,manager,user,viewer"`
	Password     string `help:"Password (at least 10 characters). Also VIGIL_USER_PASSWORD or VIGIL_USER_PASSWORD_FILE." env:"VIGIL_USER_PASSWORD"`
}

// Run creates the user.
func (c *AdminCreateUserCmd) Run(ctx context.Context, g *Globals) error {
	st, orgID, err := openForAdmin(ctx, &c.DBFlags, c.Organization)
	if err != nil {
		return err
	}
	defer st.Close()
	password, err := secretFromEnvFile(c.Password, "VIGIL_USER_PASSWORD")
	if err != nil {
		return err
	}
	u, err := createUser(ctx, st, orgID, vigil.UserInput{Email: c.Email, Name: c.Name, Role: vigil.Role(c.Role), Password: password})
	if err != nil {
		return err
	}
	g.Log.Info("audit: user created from the command line", "user_id", u.ID, "organization_id", orgID, "role", u.Role)
	_, err = fmt.Fprintf(g.Stdout, "created user %s (%s) with role %s in organization %s\n", u.Email, u.ID, u.Role.Display(), orgID)
	return err
}

// AdminCreateAPIKeyCmd creates an API key.
type AdminCreateAPIKeyCmd struct {
	DBFlags
	Organization string `help:"Organization id (default: the only organization)." placeholder:"UUID"`
	Name         string `help:"A name to tell keys apart." default:"cli"`
}

// Run creates the key and prints it.
func (c *AdminCreateAPIKeyCmd) Run(ctx context.Context, g *Globals) error {
	st, orgID, err := openForAdmin(ctx, &c.DBFlags, c.Organization)
	if err != nil {
		return err
	}
	defer st.Close()
	key, err := createAPIKey(ctx, st, orgID, c.Name, "")
	if err != nil {
		return err
	}
	g.Log.Info("audit: API key created from the command line", "organization_id", orgID, "name", c.Name)
	_, err = fmt.Fprintf(g.Stdout, "%s\n", key)
	return err
}

// openForAdmin opens a migrated database and picks the organization.
func openForAdmin(ctx context.Context, f *DBFlags, orgID string) (*store.Store, string, error) {
	st, err := f.open(ctx)
	if err != nil {
		return nil, "", err
	}
	if err := st.CheckSchema(ctx); err != nil {
		st.Close()
		return nil, "", err
	}
	if orgID == "" {
		orgID, err = st.OnlyOrganizationID(ctx)
	} else {
		_, err = st.FindOrganizationByID(ctx, orgID)
	}
	if err != nil {
		st.Close()
		return nil, "", err
	}
	return st, orgID, nil
}

// createUser validates in, hashes the password and stores the user.
func createUser(ctx context.Context, st *store.Store, orgID string, in vigil.UserInput) (*vigil.User, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	hash, err := auth.HashPassword(in.Password, auth.DefaultArgon2)
	if err != nil {
		return nil, err
	}
	return st.CreateUser(ctx, orgID, in, hash)
}

// createAPIKey makes a key for orgID and returns it; only its hash is stored.
func createAPIKey(ctx context.Context, st *store.Store, orgID, name, createdBy string) (string, error) {
	key := auth.NewToken(auth.PrefixAPIKey)
	err := st.CreateAPIKey(ctx, &vigil.APIKey{OrganizationID: orgID, Name: name, Prefix: key[:len(auth.PrefixAPIKey)+6],
		KeyHash: auth.HashToken(key), CreatedBy: createdBy})
	return key, err
}
