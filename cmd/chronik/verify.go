package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/chronik-stream/chronik/internal/verify"
)

func newVerifyCmd() *cobra.Command {
	var (
		cfg    verify.Config
		faults string
		seed   int64
		quiet  bool
	)
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Jepsen-style fault injection against a 3-node cluster: checks no acknowledged write is lost, duplicated or reordered",
		Long: `Starts a 3-node raft-cluster of chronik-server processes (from --chronik-binary) on
loopback, creates a topic (3 partitions, replication factor 3) and runs idempotent acks=all
franz-go producers writing "p<producer>-<seq>" while a seeded nemesis injects one fault at a
time: kill (SIGKILL a node, restart it 2-5 s later), pause (SIGSTOP a node, often a partition
leader, for 2-6 s, then SIGCONT), restart (SIGTERM and start again). After healing it reads
every partition back and checks that every acknowledged record is at its offset with its value
(lost), that no value appears twice (duplicated), that each producer's records are in order
per partition (reordered) and that offsets are contiguous (gaps). It also measures, for each
fault, the time until the affected partitions (those the node led, or all) acknowledge a record
produced after the fault, against --max-unavailability.

Exits non-zero when a check fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fs, err := verify.ParseFaults(faults)
			if err != nil {
				return err
			}
			cfg.Faults = fs
			if seed == 0 {
				seed = time.Now().UnixNano()
			}
			cfg.Seed = uint64(seed)
			out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
			if !quiet {
				cfg.Log = errOut
			}
			if _, err := os.Stat(cfg.Binary); err != nil {
				return fmt.Errorf("chronik-server binary %s: %w (make build)", cfg.Binary, err)
			}
			fmt.Fprintf(errOut, "verify: seed %d, faults %s, duration %v\n", seed, strings.Join(fs, ","), cfg.Duration)
			res, err := verify.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			res.WriteSummary(out)
			if err := res.Err(); err != nil {
				return fmt.Errorf("verify failed (seed %d):\n%w", seed, err)
			}
			fmt.Fprintln(out, "verify: all checks passed")
			return nil
		},
	}
	f := cmd.Flags()
	f.DurationVar(&cfg.Duration, "duration", 60*time.Second, "how long faults are injected")
	f.StringVar(&faults, "faults", "kill,pause,restart", "fault kinds: kill, pause, restart (comma separated)")
	f.Int64Var(&seed, "seed", 0, "nemesis seed (0 = from the clock; printed)")
	f.StringVar(&cfg.Binary, "chronik-binary", defaultServerBinary, "chronik-server binary")
	f.IntVar(&cfg.Producers, "producers", 4, "producing clients")
	f.IntVar(&cfg.Rate, "rate", 2000, "records/s over all producers")
	f.Int32Var(&cfg.Partitions, "partitions", 3, "partitions of the verified topic")
	f.DurationVar(&cfg.ProduceTimeout, "produce-timeout", 1500*time.Millisecond, "producers' produce request timeout; a request to a frozen leader is retried after it + 0.5 s")
	f.DurationVar(&cfg.MaxUnavailability, "max-unavailability", 3*time.Second, "bound on a fault's unavailability")
	f.StringVar(&cfg.DataDir, "data-dir", "", "parent of the cluster's data directory (default the system temp dir)")
	f.BoolVar(&cfg.Keep, "keep", false, "keep the cluster's data directory and node logs")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress on standard error")
	return cmd
}
