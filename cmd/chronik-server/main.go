// Command chronik-server runs a Chronik node: a Kafka-compatible streaming server where
// every partition is a raft group.
//
//	chronik-server standalone [flags]
//	chronik-server raft-cluster --node-id N --raft-addr HOST:PORT --peers ID@HOST:PORT,... [--bootstrap] [flags]
//	chronik-server version
//
// Every flag can also be set with an environment variable CHRONIK_<FLAG> (dashes become
// underscores) or in a config file (--config or CHRONIK_CONFIG). Precedence: command line,
// then environment, then config file, then the default. Bad settings exit with code 2
// before the data dir is touched; a node that fails exits with 1.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/chronik-stream/chronik/internal/server"
)

// version is set at build time: -ldflags "-X main.version=...".
var version = "dev"

// deps are what the commands reach outside themselves; tests replace them.
type deps struct {
	env lookupEnv
	run func(ctx context.Context, cfg server.Config, log *slog.Logger) error
}

// exitError carries the process exit code of a failed command: 2 for bad input, 1 for a
// node that failed.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal kills the process if shutting down hangs
	}()
	code := execute(ctx, os.Args[1:], os.Stdout, os.Stderr, deps{env: osEnv, run: server.Run})
	stop()
	os.Exit(code)
}

// execute runs the command line and returns the exit code.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer, d deps) int {
	root := newRootCmd(d)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	code := 2 // cobra's own errors: unknown command or flag, bad flag value
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") { // several problems, one a line
		head := "errors:"
		if code == 2 {
			head = "invalid configuration:"
		}
		msg = head + "\n  " + strings.ReplaceAll(msg, "\n", "\n  ")
	}
	fmt.Fprintf(stderr, "chronik-server: %s\n", msg)
	if code == 2 && cmd != nil {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return code
}

func newRootCmd(d deps) *cobra.Command {
	root := &cobra.Command{
		Use:   "chronik-server",
		Short: "Chronik: a Kafka-compatible streaming server where every partition is a raft group",
		Long: `Chronik is a Kafka-compatible streaming server. Every partition is a raft group;
a node runs alone (standalone) or as one of a raft cluster (raft-cluster).

Settings come from, in order of precedence:
  1. command-line flags                 --kafka-port 9093
  2. environment variables              CHRONIK_KAFKA_PORT=9093  (CHRONIK_ + flag name,
                                        upper case, dashes as underscores)
  3. a config file (--config FILE or    kafka-port = 9093   or   kafka-port: 9093
     CHRONIK_CONFIG=FILE)               (flag names, # comments)
  4. the defaults shown by --help

Bad settings are reported with where they came from, and exit with code 2 before
anything touches the data directory.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.HiddenDefaultCmd = true
	root.SetFlagErrorFunc(rewriteFlagError)
	root.AddCommand(newStandaloneCmd(d), newClusterCmd(d), newVersionCmd())
	return root
}

func newStandaloneCmd(d deps) *cobra.Command {
	o := newOptions(false)
	cmd := &cobra.Command{
		Use:   "standalone [flags]",
		Short: "Run a single-node broker (node 1, no peers)",
		Long: `Run a single-node broker: node id 1, no peers. It creates its cluster on first start
and serves Kafka on --kafka-port, metrics and health on --http-port.

Every flag can also be set as CHRONIK_<FLAG> in the environment or in a --config file.`,
		Example: `  chronik-server standalone
  chronik-server standalone --data-dir /var/lib/chronik --advertised-host broker.example.com
  CHRONIK_KAFKA_PORT=9093 chronik-server standalone --config chronik.conf`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runNode(cmd, o, d) },
	}
	o.register(cmd.Flags())
	return cmd
}

func newClusterCmd(d deps) *cobra.Command {
	o := newOptions(true)
	cmd := &cobra.Command{
		Use:   "raft-cluster --node-id N --raft-addr HOST:PORT --peers ID@HOST:PORT,... [--bootstrap] [flags]",
		Short: "Run one node of a raft cluster",
		Long: `Run one node of a raft cluster. Every node is started with its own --node-id, the
address its raft transport listens on (--raft-addr) and the raft addresses of all the
other nodes (--peers). Give one node --bootstrap (e.g. node 1): it may create the
cluster when no data exists yet; the others wait until they can join, so start order
does not matter.

Every flag can also be set as CHRONIK_<FLAG> in the environment (CHRONIK_NODE_ID,
CHRONIK_PEERS, ...) or in a --config file.`,
		Example: `  chronik-server raft-cluster --node-id 1 --raft-addr 0.0.0.0:5001 \
      --peers "2@node2:5001,3@node3:5001" --bootstrap
  chronik-server raft-cluster --node-id 2 --raft-addr 0.0.0.0:5001 \
      --peers "1@node1:5001,3@node3:5001"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runNode(cmd, o, d) },
	}
	o.register(cmd.Flags())
	return cmd
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "chronik-server %s (%s %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		},
	}
}

// runNode resolves the configuration and runs the node until the context ends.
func runNode(cmd *cobra.Command, o *options, d deps) error {
	cfg, level, err := o.resolve(cmd.Flags(), d.env)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
	mode := "standalone"
	if o.cluster {
		mode = "raft-cluster"
	}
	log.Info("starting chronik-server", "version", version, "mode", mode, "node", cfg.NodeID,
		"data_dir", cfg.DataDir, "raft_addr", cfg.RaftAddr, "peers", formatPeers(cfg.Peers), "bootstrap", cfg.Bootstrap)
	ctx := cmd.Context()
	if err := d.run(ctx, cfg, log); err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			log.Info("interrupted before the node finished starting")
			return nil
		}
		return &exitError{code: 1, err: err}
	}
	log.Info("chronik-server stopped")
	return nil
}

// rewriteFlagError rewrites pflag's "invalid argument" errors into the same sentences the
// environment and config file errors use.
func rewriteFlagError(_ *cobra.Command, err error) error {
	var iv *pflag.InvalidValueError
	if errors.As(err, &iv) {
		f := iv.GetFlag()
		return fmt.Errorf("flag --%s: %s", f.Name, describeSetError(f, iv.GetValue(), iv.Unwrap()))
	}
	return err
}
