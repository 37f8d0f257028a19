package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
)

type consumeOpts struct {
	fromBeginning bool
	partition     int32
	max           int
	timeout       time.Duration
	printKey      bool
}

func (o consumeOpts) clientOpts(topic string) ([]kgo.Opt, error) {
	if o.partition < -1 {
		return nil, fmt.Errorf("--partition %d: want a partition number or -1 for all", o.partition)
	}
	if o.max < 0 {
		return nil, fmt.Errorf("--max %d must not be negative", o.max)
	}
	if o.timeout < 0 {
		return nil, fmt.Errorf("--timeout must not be negative")
	}
	start := kgo.NewOffset().AtEnd()
	if o.fromBeginning {
		start = kgo.NewOffset().AtStart()
	}
	if o.partition >= 0 {
		return []kgo.Opt{kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {o.partition: start}})}, nil
	}
	return []kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(start)}, nil
}

func newConsumeCmd(g *globals) *cobra.Command {
	var o consumeOpts
	cmd := &cobra.Command{
		Use:   "consume TOPIC",
		Short: "Print the values of a topic's records, one per line",
		Long: "Print the values of a topic's records, one per line, from the end (new records) or\n" +
			"with --from-beginning from the start, until --max records, --timeout or Ctrl-C.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := o.clientOpts(args[0])
			if err != nil {
				return err
			}
			cl, err := g.client(opts...)
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx := cmd.Context()
			if o.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, o.timeout)
				defer cancel()
			}
			out := bufio.NewWriter(cmd.OutOrStdout())
			defer out.Flush()
			n := 0
			for o.max == 0 || n < o.max {
				fs := cl.PollFetches(ctx)
				if ctx.Err() != nil || fs.IsClientClosed() {
					break // timeout or interrupt: a normal end
				}
				// The client retries what can be retried; report the rest and go on.
				fs.EachError(func(t string, p int32, err error) {
					if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
						fmt.Fprintf(cmd.ErrOrStderr(), "fetch %s/%d: %v\n", t, p, err)
					}
				})
				for it := fs.RecordIter(); !it.Done() && (o.max == 0 || n < o.max); {
					r := it.Next()
					if o.printKey {
						out.Write(r.Key)
						out.WriteByte('\t')
					}
					out.Write(r.Value)
					out.WriteByte('\n')
					n++
				}
				if err := out.Flush(); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&o.fromBeginning, "from-beginning", "b", false, "start at the earliest offset instead of the end")
	cmd.Flags().Int32VarP(&o.partition, "partition", "p", -1, "read only this partition (-1 = all)")
	cmd.Flags().IntVarP(&o.max, "max", "n", 0, "stop after this many records (0 = no limit)")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 0, "stop after this long (0 = no limit)")
	cmd.Flags().BoolVar(&o.printKey, "print-key", false, "print key<TAB>value")
	return cmd
}
