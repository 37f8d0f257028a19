package main

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/chronik-stream/chronik/internal/bench"
)

type benchIdleOpts struct {
	cfg         bench.IdleConfig
	binary      string
	clusterArgs string
	dataDir     string
	output      string
	progress    bool
	fileExists  func(string) bool
}

func newBenchIdleCmd() *cobra.Command {
	cmd, _ := benchIdleCmd()
	return cmd
}

func benchIdleCmd() (*cobra.Command, *benchIdleOpts) {
	o := &benchIdleOpts{cfg: bench.DefaultIdle(), fileExists: fileExists}
	cmd := &cobra.Command{
		Use:   "idle",
		Short: "Measure the CPU a 3-node Chronik cluster uses with idle partitions",
		Long: `Starts a 3-node raft-cluster of chronik-server processes (--chronik-binary, default
./bin/chronik-server) on loopback, measures each process's CPU with no topic (--baseline),
then creates one topic of --partitions partitions (replication factor --replication-factor),
waits until every node's Metadata gives every partition a leader, waits --settle and measures
again for --duration. CPU is user+system time from /proc/PID/stat, as a share of one core;
Linux only. The goal is under 10% of one core per node with 1,000 idle partitions.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.cfg.Validate(); err != nil {
				return err
			}
			bin := o.binary
			if bin == "" {
				bin = defaultServerBinary
			}
			if !o.fileExists(bin) {
				return fmt.Errorf("chronik-server binary %s does not exist (make build, or --chronik-binary)", bin)
			}
			c := &bench.Cluster{Binary: bin, Nodes: 3, ExtraArgs: o.clusterArgs, DataDir: o.dataDir}
			cfg := o.cfg
			if o.progress {
				cfg.Log = cmd.ErrOrStderr()
				c.Log = cmd.ErrOrStderr()
			}
			res := bench.RunIdle(cmd.Context(), cfg, c)
			var md bytes.Buffer
			fmt.Fprintf(&md, "### Idle cost, %s\n\n", time.Now().Format("2006-01-02 15:04 MST"))
			bench.WriteIdleMarkdown(&md, bench.ThisMachine(), cfg, res)
			if _, err := cmd.OutOrStdout().Write(md.Bytes()); err != nil {
				return err
			}
			if o.output != "" {
				if err := os.WriteFile(o.output, md.Bytes(), 0o644); err != nil {
					return err
				}
			}
			return res.Err
		},
	}
	f := cmd.Flags()
	d := bench.DefaultIdle()
	f.Int32Var(&o.cfg.Partitions, "partitions", d.Partitions, "partitions of the idle topic")
	f.Int16Var(&o.cfg.ReplicationFactor, "replication-factor", d.ReplicationFactor, "replication factor of the idle topic (-1 = broker default)")
	f.BoolVar(&o.cfg.Baseline, "baseline", d.Baseline, "measure the cluster with no topic first")
	f.DurationVar(&o.cfg.Settle, "settle", d.Settle, "wait after every partition has a leader, before measuring")
	f.DurationVar(&o.cfg.Duration, "duration", d.Duration, "how long CPU is measured")
	f.DurationVar(&o.cfg.LeaderTimeout, "leader-timeout", d.LeaderTimeout, "longest wait for the topic's creation and every partition's leader")
	f.StringVar(&o.binary, "chronik-binary", "", "chronik-server binary (default "+defaultServerBinary+")")
	f.StringVar(&o.clusterArgs, "cluster-args", "", "extra chronik-server arguments for every node")
	f.StringVar(&o.dataDir, "data-dir", "", "parent of the data directories (default the system temp dir)")
	f.StringVarP(&o.output, "output", "o", "", "also write the markdown report to this file")
	f.BoolVar(&o.progress, "progress", true, "print progress to standard error")
	return cmd, o
}
