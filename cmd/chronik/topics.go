package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newTopicsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "topics", Short: "List, create, delete and describe topics"}
	cmd.AddCommand(newTopicsListCmd(g), newTopicsCreateCmd(g), newTopicsDeleteCmd(g), newTopicsDescribeCmd(g))
	return cmd
}

func newTopicsListCmd(g *globals) *cobra.Command {
	var internal bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List topics with their partition counts and replication factors",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withAdmin(cmd, func(ctx context.Context, adm *kadm.Client) error {
				list := adm.ListTopics
				if internal {
					list = adm.ListTopicsWithInternal
				}
				tds, err := list(ctx)
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "TOPIC\tPARTITIONS\tREPLICATION")
				for _, td := range tds.Sorted() {
					if td.Err != nil {
						fmt.Fprintf(w, "%s\t-\t-\t(%v)\n", td.Topic, td.Err)
						continue
					}
					fmt.Fprintf(w, "%s\t%d\t%d\n", td.Topic, len(td.Partitions), td.Partitions.NumReplicas())
				}
				return w.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&internal, "internal", false, "include internal topics")
	return cmd
}

// parseConfigs turns repeated k=v flags into a topic config map.
func parseConfigs(kvs []string) (map[string]*string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	m := make(map[string]*string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("config %q: want key=value", kv)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("config %q given twice", k)
		}
		m[k] = &v
	}
	return m, nil
}

func newTopicsCreateCmd(g *globals) *cobra.Command {
	var partitions int32
	var rf int16
	var configs []string
	cmd := &cobra.Command{
		Use:   "create TOPIC [TOPIC...]",
		Short: "Create topics",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, topics []string) error {
			if partitions == 0 || partitions < -1 {
				return fmt.Errorf("--partitions %d: want a positive count or -1 for the broker default", partitions)
			}
			if rf == 0 || rf < -1 {
				return fmt.Errorf("--replication-factor %d: want a positive count or -1 for the broker default", rf)
			}
			cfgs, err := parseConfigs(configs)
			if err != nil {
				return err
			}
			return g.withAdmin(cmd, func(ctx context.Context, adm *kadm.Client) error {
				resps, err := adm.CreateTopics(ctx, partitions, rf, cfgs, topics...)
				if err != nil {
					return err
				}
				var errs []error
				for _, r := range resps.Sorted() {
					if r.Err != nil {
						errs = append(errs, fmt.Errorf("%s: %w%s", r.Topic, r.Err, detail(r.ErrMessage)))
						continue
					}
					fmt.Fprintf(cmd.OutOrStdout(), "created %s (%d partitions, replication factor %d)\n", r.Topic, r.NumPartitions, r.ReplicationFactor)
				}
				return errors.Join(errs...)
			})
		},
	}
	cmd.Flags().Int32VarP(&partitions, "partitions", "p", -1, "number of partitions (-1 = broker default)")
	cmd.Flags().Int16VarP(&rf, "replication-factor", "r", -1, "replication factor (-1 = broker default)")
	cmd.Flags().StringArrayVarP(&configs, "config", "c", nil, "topic config key=value (repeatable)")
	return cmd
}

func detail(msg string) string {
	if msg == "" {
		return ""
	}
	return " (" + msg + ")"
}

func newTopicsDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete TOPIC [TOPIC...]",
		Short: "Delete topics",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, topics []string) error {
			return g.withAdmin(cmd, func(ctx context.Context, adm *kadm.Client) error {
				resps, err := adm.DeleteTopics(ctx, topics...)
				if err != nil {
					return err
				}
				var errs []error
				for _, r := range resps.Sorted() {
					if r.Err != nil {
						errs = append(errs, fmt.Errorf("%s: %w%s", r.Topic, r.Err, detail(r.ErrMessage)))
						continue
					}
					fmt.Fprintf(cmd.OutOrStdout(), "deleted %s\n", r.Topic)
				}
				return errors.Join(errs...)
			})
		},
	}
}

func newTopicsDescribeCmd(g *globals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "describe TOPIC [TOPIC...]",
		Short: "Show topics' partitions (leader, replicas, ISR) and configs",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, topics []string) error {
			return g.withAdmin(cmd, func(ctx context.Context, adm *kadm.Client) error {
				tds, err := adm.ListTopicsWithInternal(ctx, topics...)
				if err != nil {
					return err
				}
				rcs, cfgErr := adm.DescribeTopicConfigs(ctx, topics...)
				out := cmd.OutOrStdout()
				var errs []error
				for i, name := range topics {
					if i > 0 {
						fmt.Fprintln(out)
					}
					td, ok := tds[name]
					if !ok || td.Err != nil {
						err := td.Err
						if !ok {
							err = errors.New("not in the metadata response")
						}
						errs = append(errs, fmt.Errorf("%s: %w", name, err))
						continue
					}
					writeTopic(out, td)
					if cfgErr != nil {
						fmt.Fprintf(out, "configs: %v\n", cfgErr)
						continue
					}
					if rc, err := rcs.On(name, nil); err == nil {
						writeConfigs(out, rc, all)
					}
				}
				return errors.Join(errs...)
			})
		},
	}
	cmd.Flags().BoolVar(&all, "all-configs", false, "show every config, not only those set on the topic")
	return cmd
}

func writeTopic(out io.Writer, td kadm.TopicDetail) {
	fmt.Fprintf(out, "Topic: %s  Partitions: %d  ReplicationFactor: %d", td.Topic, len(td.Partitions), td.Partitions.NumReplicas())
	if td.IsInternal {
		fmt.Fprint(out, "  (internal)")
	}
	fmt.Fprintln(out)
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "PARTITION\tLEADER\tEPOCH\tREPLICAS\tISR\tERROR")
	for _, p := range td.Partitions.Sorted() {
		e := ""
		if p.Err != nil {
			e = p.Err.Error()
		}
		fmt.Fprintf(w, "%d\t%d\t%d\t%s\t%s\t%s\n", p.Partition, p.Leader, p.LeaderEpoch, ints(p.Replicas), ints(p.ISR), e)
	}
	w.Flush()
}

func writeConfigs(out io.Writer, rc kadm.ResourceConfig, all bool) {
	if rc.Err != nil {
		fmt.Fprintf(out, "configs: %v\n", rc.Err)
		return
	}
	cs := append([]kadm.Config(nil), rc.Configs...)
	sort.Slice(cs, func(i, j int) bool { return cs[i].Key < cs[j].Key })
	var lines []string
	for _, c := range cs {
		if !all && c.Source != kmsg.ConfigSourceDynamicTopicConfig {
			continue
		}
		v := c.MaybeValue()
		if c.Sensitive {
			v = "(sensitive)"
		}
		lines = append(lines, fmt.Sprintf("  %s=%s\t(%s)", c.Key, v, strings.ToLower(c.Source.String())))
	}
	if len(lines) == 0 {
		fmt.Fprintln(out, "Configs: none set on the topic (--all-configs shows the defaults)")
		return
	}
	fmt.Fprintln(out, "Configs:")
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	w.Flush()
}

func ints(is []int32) string {
	s := make([]string, len(is))
	for i, v := range is {
		s[i] = fmt.Sprint(v)
	}
	return "[" + strings.Join(s, ",") + "]"
}
