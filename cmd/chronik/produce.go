package main

import (
	"bufio"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
)

// parseAcks maps --acks to franz-go's acks; anything but all needs idempotence off.
func parseAcks(s string) (kgo.Acks, bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "all", "-1":
		return kgo.AllISRAcks(), true, nil
	case "1", "leader":
		return kgo.LeaderAck(), false, nil
	case "0", "none":
		return kgo.NoAck(), false, nil
	}
	return kgo.Acks{}, false, fmt.Errorf("--acks %q: want all (-1), 1 or 0", s)
}

type produceOpts struct {
	key          string
	hasKey       bool
	acks         string
	partition    int32
	maxLineBytes int
}

func (o produceOpts) clientOpts(topic string) ([]kgo.Opt, error) {
	acks, idempotent, err := parseAcks(o.acks)
	if err != nil {
		return nil, err
	}
	if o.partition < -1 {
		return nil, fmt.Errorf("--partition %d: want a partition number or -1", o.partition)
	}
	if o.maxLineBytes < 1 {
		return nil, fmt.Errorf("--max-line-bytes must be positive")
	}
	opts := []kgo.Opt{kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(acks)}
	if !idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	if o.partition >= 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	return opts, nil
}

func newProduceCmd(g *globals) *cobra.Command {
	var o produceOpts
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Produce each line of standard input as one record's value",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.hasKey = cmd.Flags().Changed("key")
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
			var sent, failed atomic.Int64
			var mu sync.Mutex
			var firstErr error
			promise := func(_ *kgo.Record, err error) {
				if err == nil {
					sent.Add(1)
					return
				}
				failed.Add(1)
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
			sc := bufio.NewScanner(cmd.InOrStdin())
			sc.Buffer(make([]byte, 64<<10), o.maxLineBytes)
			for sc.Scan() {
				r := &kgo.Record{Value: append([]byte(nil), sc.Bytes()...)}
				if o.hasKey {
					r.Key = []byte(o.key)
				}
				if o.partition >= 0 {
					r.Partition = o.partition
				}
				cl.Produce(ctx, r, promise)
			}
			scanErr := sc.Err()
			if err := cl.Flush(ctx); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "produced %d records to %s\n", sent.Load(), args[0])
			if scanErr != nil {
				return fmt.Errorf("reading standard input: %w", scanErr)
			}
			if n := failed.Load(); n > 0 {
				return fmt.Errorf("%d records failed, first: %w", n, firstErr)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&o.key, "key", "k", "", "key of every record (none when not given)")
	cmd.Flags().StringVarP(&o.acks, "acks", "a", "all", "acks: all (-1), 1 or 0")
	cmd.Flags().Int32VarP(&o.partition, "partition", "p", -1, "partition to write to (-1 = the client's partitioner)")
	cmd.Flags().IntVar(&o.maxLineBytes, "max-line-bytes", 1<<20, "longest input line accepted")
	return cmd
}
