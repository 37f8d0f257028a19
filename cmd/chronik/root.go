package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// globals are the flags every command shares.
type globals struct {
	brokers []string
	timeout time.Duration
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "chronik",
		Short:         "Admin and client CLI for Chronik (and any Kafka-compatible broker)",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringSliceVar(&g.brokers, "brokers", []string{"localhost:9092"}, "bootstrap brokers, host:port (comma separated or repeated)")
	root.PersistentFlags().DurationVar(&g.timeout, "request-timeout", 30*time.Second, "timeout of admin requests")
	root.AddCommand(newTopicsCmd(g), newProduceCmd(g), newConsumeCmd(g), newClusterCmd(g), newBenchCmd(g), newVerifyCmd())
	return root
}

// client makes a franz-go client for the configured brokers.
func (g *globals) client(opts ...kgo.Opt) (*kgo.Client, error) {
	if len(g.brokers) == 0 {
		return nil, fmt.Errorf("no --brokers given")
	}
	for _, b := range g.brokers {
		if strings.TrimSpace(b) == "" {
			return nil, fmt.Errorf("empty broker address in --brokers")
		}
	}
	return kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(g.brokers...)}, opts...)...)
}

// withAdmin runs fn with an admin client on --brokers and a context bounded by --timeout,
// and closes the client afterwards.
func (g *globals) withAdmin(cmd *cobra.Command, fn func(ctx context.Context, adm *kadm.Client) error) error {
	cl, err := g.client()
	if err != nil {
		return err
	}
	adm := kadm.NewClient(cl)
	defer adm.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
	defer cancel()
	return fn(ctx, adm)
}
