package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
)

func newClusterCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "Cluster information"}
	var internal bool
	status := &cobra.Command{
		Use:   "status",
		Short: "Show the brokers, the controller and every partition's leader, replicas and ISR",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withAdmin(cmd, func(ctx context.Context, adm *kadm.Client) error {
				md, err := adm.Metadata(ctx)
				if err != nil {
					return err
				}
				if !internal {
					md.Topics.FilterInternal()
				}
				writeStatus(cmd.OutOrStdout(), md)
				return nil
			})
		},
	}
	status.Flags().BoolVar(&internal, "internal", false, "include internal topics")
	cmd.AddCommand(status)
	return cmd
}

func writeStatus(out io.Writer, md kadm.Metadata) {
	cluster := md.Cluster
	if cluster == "" {
		cluster = "(none)"
	}
	fmt.Fprintf(out, "Cluster: %s\nController: %d\n\nBrokers (%d):\n", cluster, md.Controller, len(md.Brokers))
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tADDRESS\tRACK\t")
	for _, b := range md.Brokers {
		rack := "-"
		if b.Rack != nil {
			rack = *b.Rack
		}
		ctrl := ""
		if b.NodeID == md.Controller {
			ctrl = "controller"
		}
		fmt.Fprintf(w, "%d\t%s:%d\t%s\t%s\n", b.NodeID, b.Host, b.Port, rack, ctrl)
	}
	w.Flush()
	fmt.Fprintf(out, "\nTopics (%d):\n", len(md.Topics))
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TOPIC\tPARTITION\tLEADER\tREPLICAS\tISR\tSTATE")
	for _, td := range md.Topics.Sorted() {
		if td.Err != nil {
			fmt.Fprintf(w, "%s\t-\t-\t-\t-\t%v\n", td.Topic, td.Err)
			continue
		}
		for _, p := range td.Partitions.Sorted() {
			fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s\t%s\n", td.Topic, p.Partition, p.Leader, ints(p.Replicas), ints(p.ISR), partitionState(p))
		}
	}
	w.Flush()
}

// partitionState summarises a partition's health.
func partitionState(p kadm.PartitionDetail) string {
	switch {
	case p.Err != nil:
		return p.Err.Error()
	case p.Leader < 0:
		return "no leader"
	case len(p.ISR) < len(p.Replicas):
		return "under-replicated"
	}
	return "ok"
}
