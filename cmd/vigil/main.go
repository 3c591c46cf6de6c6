// Command vigil is Vigil's one binary: the API server, migrations and admin
// tools. main only parses the command line; Main wires the pieces by hand.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/vigilscan/vigil"
)

// CLI is the command line. Values come from flags, then VIGIL_* environment
// variables, then the JSON config file (--config), then defaults.
type CLI struct {
	Config    string `help:"JSON config file; keys are flag names with underscores (e.g. {\"listen\": \":8080\", \"data_dir\": \"/var/lib/vigil\"})." env:"VIGIL_CONFIG" placeholder:"FILE"`
	LogLevel  string `help:"Log level." default:"info" enum:"debug,info,warn,error" env:"VIGIL_LOG_LEVEL"`
	LogFormat string `help:"Log format." default:"text" enum:"text,json" env:"VIGIL_LOG_FORMAT"`

	Serve   ServeCmd   `cmd:"" help:"Run the API server."`
	Scan    ScanCmd    `cmd:"" help:"Scan hosts from the command line (like nmap)."`
	Migrate MigrateCmd `cmd:"" help:"Apply or inspect database migrations."`
	Feeds   FeedsCmd   `cmd:"" help:"Import and sync vulnerability intelligence (NVD, KEV, EPSS, Debian tracker, Recog)."`
	Admin   AdminCmd   `cmd:"" help:"Administrative tasks."`
	Dev     DevCmd     `cmd:"" help:"Developer tools."`
	Version VersionCmd `cmd:"" help:"Print the version."`
}

// Globals is what every command gets besides its own flags.
type Globals struct {
	Log    *slog.Logger
	Stdout io.Writer
	Stderr io.Writer
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "vigil:", err)
		os.Exit(1)
	}
}

// run parses args and runs the selected command; tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cli, kctx, err := parse(args, stdout, stderr)
	if err != nil {
		var code exitCode
		if errors.As(err, &code) && code == 0 {
			return nil // --help
		}
		return err
	}
	level := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[cli.LogLevel]
	opts := &slog.HandlerOptions{Level: level}
	var handler slog.Handler = slog.NewTextHandler(stderr, opts)
	if cli.LogFormat == "json" {
		handler = slog.NewJSONHandler(stderr, opts)
	}
	g := &Globals{Log: slog.New(handler), Stdout: stdout, Stderr: stderr}
	kctx.BindTo(ctx, (*context.Context)(nil))
	return kctx.Run(g)
}

// parse reads the command line, the environment and the config file.
func parse(args []string, stdout, stderr io.Writer) (*CLI, *kong.Context, error) {
	var cli CLI
	var resolvers []kong.Resolver
	if path := configPath(args); path != "" {
		r, err := loadConfigFile(path)
		if err != nil {
			return nil, nil, err
		}
		resolvers = append(resolvers, r)
	}
	parser, err := kong.New(&cli, kong.Name("vigil"),
		kong.Description("Vigil: a self-hosted network vulnerability scanning and management server."),
		kong.UsageOnError(), kong.Writers(stdout, stderr), kong.Resolvers(resolvers...),
		kong.Exit(func(code int) { panic(exitCode(code)) }))
	if err != nil {
		return nil, nil, err
	}
	kctx, err := parseArgs(parser, args)
	return &cli, kctx, err
}

type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit %d", int(c)) }

// parseArgs turns kong's exit-on-help into an error instead of os.Exit.
func parseArgs(parser *kong.Kong, args []string) (kctx *kong.Context, err error) {
	defer func() {
		if v := recover(); v != nil {
			code, ok := v.(exitCode)
			if !ok {
				panic(v)
			}
			err = code
		}
	}()
	return parser.Parse(args)
}

// configPath finds --config before kong parses, since the file feeds the parse.
func configPath(args []string) string {
	for i, a := range args {
		if a == "--config" && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, "--config="); ok {
			return v
		}
	}
	return os.Getenv("VIGIL_CONFIG")
}

// loadConfigFile returns a resolver for a JSON config file that yields to
// environment variables, so the order is flags > env > file > defaults.
func loadConfigFile(path string) (kong.Resolver, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	r, err := kong.JSON(f)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return envFirst{r}, nil
}

type envFirst struct{ kong.Resolver }

func (e envFirst) Resolve(ctx *kong.Context, parent *kong.Path, flag *kong.Flag) (any, error) {
	for _, name := range flag.Envs {
		if _, ok := os.LookupEnv(name); ok {
			return nil, nil
		}
	}
	return e.Resolver.Resolve(ctx, parent, flag)
}

// VersionCmd prints the version.
type VersionCmd struct{}

// Run prints the version.
func (VersionCmd) Run(g *Globals) error {
	commit := vigil.Commit
	if commit == "" {
		commit = "unknown"
	}
	_, err := fmt.Fprintf(g.Stdout, "vigil %s (commit %s)\n", vigil.Version, commit)
	return err
}

// secretFromEnvFile reads NAME_FILE when set, for secrets kept out of the
// environment (containers' secret files).
func secretFromEnvFile(value, envName string) (string, error) {
	if value != "" {
		return value, nil
	}
	path := os.Getenv(envName + "_FILE")
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s_FILE: %w", envName, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
