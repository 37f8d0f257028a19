package broker

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/chronik-stream/chronik/internal/cluster"
	"github.com/chronik-stream/chronik/internal/kafka"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Config sources and types as DescribeConfigs reports them (kmsg.ConfigSource and
// kmsg.ConfigType values).
const (
	sourceTopic   = 1
	sourceStatic  = 4
	sourceDefault = 5

	typeString = 2
	typeInt    = 3
	typeLong   = 5
	typeList   = 7
)

// Resource types of config requests.
const (
	resourceTopic  = 2
	resourceBroker = 4
)

func configType(name string) int8 {
	switch name {
	case "cleanup.policy":
		return typeList
	case "message.timestamp.type", "compression.type", "min.cleanable.dirty.ratio":
		return typeString
	case "unclean.leader.election.enable", "preallocate", "message.downconversion.enable":
		return 1 // boolean
	case "segment.bytes", "max.message.bytes", "min.insync.replicas", "index.interval.bytes":
		return typeInt
	}
	return typeLong
}

// topicConfigEntries describes a topic's configs: every supported config, its own value
// or the default.
func (b *Broker) topicConfigEntries(configs map[string]string, keys []string) []kafka.ConfigEntry {
	if keys == nil {
		keys = cluster.TopicConfigNames()
	}
	var out []kafka.ConfigEntry
	for _, k := range keys {
		def, ok := cluster.TopicConfigDefault(k, b.cfg.Defaults)
		if !ok {
			continue
		}
		e := kafka.ConfigEntry{Name: k, Type: configType(k)}
		if v, set := configs[k]; set {
			e.Value, e.Source = &v, sourceTopic
		} else {
			d := def
			e.Value, e.Source, e.IsDefault = &d, sourceDefault, true
		}
		out = append(out, e)
	}
	return out
}

// brokerConfigs are the broker settings DescribeConfigs reports (read only).
func (b *Broker) brokerConfigs() map[string]string {
	d := b.cfg.Defaults
	return map[string]string{
		"broker.id":                  strconv.Itoa(int(b.cfg.NodeID)),
		"auto.create.topics.enable":  strconv.FormatBool(b.cfg.AutoCreateTopics),
		"num.partitions":             strconv.Itoa(int(b.cfg.DefaultPartitions)),
		"default.replication.factor": strconv.Itoa(int(b.cfg.DefaultReplicationFactor)),
		"log.retention.ms":           strconv.FormatInt(d.RetentionMs, 10),
		"log.retention.bytes":        strconv.FormatInt(d.RetentionBytes, 10),
		"log.segment.bytes":          strconv.FormatInt(d.SegmentBytes, 10),
		"message.max.bytes":          strconv.Itoa(int(d.MaxMessageBytes)),
		"log.dirs":                   b.cfg.DataDir,
		"broker.rack":                b.cfg.Rack,
	}
}

// DescribeConfigs implements kafka.Backend.
func (b *Broker) DescribeConfigs(resourceType int8, name string, keys []string) ([]kafka.ConfigEntry, error) {
	switch resourceType {
	case resourceTopic:
		t, ok := b.ctrl.Topic(name)
		if !ok {
			return nil, kerr.UnknownTopicOrPartition
		}
		return b.topicConfigEntries(t.Configs, keys), nil
	case resourceBroker:
		all := b.brokerConfigs()
		if keys == nil {
			for k := range all {
				keys = append(keys, k)
			}
		}
		var out []kafka.ConfigEntry
		for _, k := range keys {
			if v, ok := all[k]; ok {
				v := v
				out = append(out, kafka.ConfigEntry{Name: k, Value: &v, ReadOnly: true, Source: sourceStatic, Type: typeString})
			}
		}
		return out, nil
	}
	return nil, kerr.InvalidRequest
}

// AlterConfigs implements kafka.Backend for topics; broker configs are static.
func (b *Broker) AlterConfigs(ctx context.Context, resourceType int8, name string, ops []kafka.ConfigOp, incremental, validateOnly bool) error {
	if resourceType == resourceBroker {
		return fmt.Errorf("%w: broker configs are set at start-up and cannot be altered", kerr.InvalidRequest)
	}
	if resourceType != resourceTopic {
		return kerr.InvalidRequest
	}
	t, ok := b.ctrl.Topic(name)
	if !ok {
		return kerr.UnknownTopicOrPartition
	}
	next := map[string]string{}
	if incremental {
		for k, v := range t.Configs {
			next[k] = v
		}
	}
	for _, op := range ops {
		if _, known := cluster.TopicConfigDefault(op.Name, b.cfg.Defaults); !known {
			return fmt.Errorf("%w: unknown topic config %q", kerr.InvalidConfig, op.Name)
		}
		val := ""
		if op.Value != nil {
			val = *op.Value
		}
		switch op.Op {
		case 0:
			if op.Value == nil {
				delete(next, op.Name)
				continue
			}
			next[op.Name] = val
		case 1:
			delete(next, op.Name)
		case 2, 3:
			next[op.Name] = editList(cluster.Effective(next, op.Name, b.cfg.Defaults), val, op.Op == 2)
		default:
			return kerr.InvalidRequest
		}
	}
	for k, v := range next {
		if err := cluster.ValidateTopicConfig(k, v); err != nil {
			return fmt.Errorf("%w: %v", kerr.InvalidConfig, err)
		}
	}
	if validateOnly {
		return nil
	}
	_, err := b.propose(ctx, cluster.Command{Op: cluster.OpAlterConfigs, Name: name, Configs: next})
	return err
}

// editList appends to or removes from a comma-separated list value.
func editList(cur, val string, add bool) string {
	var items []string
	for _, s := range strings.Split(cur, ",") {
		if s = strings.TrimSpace(s); s != "" && (add || s != val) {
			items = append(items, s)
		}
	}
	if add && !slices.Contains(items, val) {
		items = append(items, val)
	}
	return strings.Join(items, ",")
}
