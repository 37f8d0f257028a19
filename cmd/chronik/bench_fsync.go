package main

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/chronik-stream/chronik/internal/bench"
)

func newBenchFsyncCmd() *cobra.Command {
	cfg := bench.DefaultFsync()
	var output string
	cmd := &cobra.Command{
		Use:   "fsync",
		Short: "Measure how long the disk takes to make an append durable",
		Long: `Appends --size bytes to a file in --dir and fdatasyncs it, again and again for
--duration (with --pause between steps), and prints the sync latency quantiles and the
stalls: syncs of --stall or more, with the share of the run spent in them. Every acks=1 and
acks=all produce waits for such a sync, so a produce p99 below the stall threshold needs
that share well under 1%.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.Validate(); err != nil {
				return err
			}
			res, err := bench.RunFsync(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			var md bytes.Buffer
			fmt.Fprintf(&md, "### Disk sync latency, %s\n\n", time.Now().Format("2006-01-02 15:04 MST"))
			bench.WriteFsyncMarkdown(&md, bench.ThisMachine(), cfg, res)
			if _, err := cmd.OutOrStdout().Write(md.Bytes()); err != nil {
				return err
			}
			if output != "" {
				return os.WriteFile(output, md.Bytes(), 0o644)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Dir, "dir", cfg.Dir, "directory of the probe's file (put it on the data directory's disk)")
	f.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long the probe runs")
	f.IntVar(&cfg.Size, "size", cfg.Size, "bytes appended before each sync")
	f.DurationVar(&cfg.Pause, "pause", cfg.Pause, "pause between a sync and the next append")
	f.DurationVar(&cfg.Stall, "stall", cfg.Stall, "syncs this slow or slower count as stalls")
	f.StringVarP(&output, "output", "o", "", "also write the markdown report to this file")
	return cmd
}
