package cluster

import (
	"fmt"
	"sort"
	"strconv"
)

// TopicConfigDef describes one supported topic config.
type TopicConfigDef struct {
	Name     string
	Default  func(d Defaults) string
	Validate func(v string) error
	// Effective: the broker acts on it; others are stored and reported only.
	Effective bool
}

// Defaults are the broker-wide defaults topic configs fall back to.
type Defaults struct {
	RetentionMs     int64
	RetentionBytes  int64
	SegmentBytes    int64
	MaxMessageBytes int32
}

func intRange(lo, hi int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
		if n < lo || n > hi {
			return fmt.Errorf("%d is outside [%d, %d]", n, lo, hi)
		}
		return nil
	}
}

func oneOf(vals ...string) func(string) error {
	return func(v string) error {
		for _, x := range vals {
			if v == x {
				return nil
			}
		}
		return fmt.Errorf("%q is not one of %v", v, vals)
	}
}

func anyString(string) error { return nil }

func fixed(s string) func(Defaults) string { return func(Defaults) string { return s } }

const maxInt64 = 1<<63 - 1

// topicConfigs lists every topic config a CreateTopics or AlterConfigs may set.
var topicConfigs = map[string]TopicConfigDef{}

func init() {
	for _, d := range []TopicConfigDef{
		{Name: "retention.ms", Effective: true, Validate: intRange(-1, maxInt64), Default: func(d Defaults) string { return strconv.FormatInt(d.RetentionMs, 10) }},
		{Name: "retention.bytes", Effective: true, Validate: intRange(-1, maxInt64), Default: func(d Defaults) string { return strconv.FormatInt(d.RetentionBytes, 10) }},
		{Name: "segment.bytes", Effective: true, Validate: intRange(14, 1<<31-1), Default: func(d Defaults) string { return strconv.FormatInt(d.SegmentBytes, 10) }},
		{Name: "max.message.bytes", Effective: true, Validate: intRange(0, 1<<31-1), Default: func(d Defaults) string { return strconv.FormatInt(int64(d.MaxMessageBytes), 10) }},
		{Name: "message.timestamp.type", Effective: true, Validate: oneOf("CreateTime", "LogAppendTime"), Default: fixed("CreateTime")},
		{Name: "min.insync.replicas", Effective: true, Validate: intRange(1, 1<<31-1), Default: fixed("1")},
		{Name: "cleanup.policy", Effective: true, Validate: oneOf("delete", "compact", "compact,delete", "delete,compact"), Default: fixed("delete")},
		{Name: "compression.type", Validate: oneOf("producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"), Default: fixed("producer")},
		{Name: "segment.ms", Validate: intRange(1, maxInt64), Default: fixed("604800000")},
		{Name: "delete.retention.ms", Validate: intRange(0, maxInt64), Default: fixed("86400000")},
		{Name: "min.compaction.lag.ms", Validate: intRange(0, maxInt64), Default: fixed("0")},
		{Name: "max.compaction.lag.ms", Validate: intRange(1, maxInt64), Default: fixed("9223372036854775807")},
		{Name: "min.cleanable.dirty.ratio", Validate: anyString, Default: fixed("0.5")},
		{Name: "message.timestamp.difference.max.ms", Validate: intRange(0, maxInt64), Default: fixed("9223372036854775807")},
		{Name: "unclean.leader.election.enable", Validate: oneOf("true", "false"), Default: fixed("false")},
		{Name: "flush.messages", Validate: intRange(1, maxInt64), Default: fixed("9223372036854775807")},
		{Name: "flush.ms", Validate: intRange(0, maxInt64), Default: fixed("9223372036854775807")},
		{Name: "index.interval.bytes", Validate: intRange(0, 1<<31-1), Default: fixed("4096")},
		{Name: "file.delete.delay.ms", Validate: intRange(0, maxInt64), Default: fixed("60000")},
		{Name: "preallocate", Validate: oneOf("true", "false"), Default: fixed("false")},
		{Name: "message.downconversion.enable", Validate: oneOf("true", "false"), Default: fixed("true")},
	} {
		topicConfigs[d.Name] = d
	}
}

// ValidateTopicConfig checks one topic config name and value.
func ValidateTopicConfig(name, value string) error {
	d, ok := topicConfigs[name]
	if !ok {
		return fmt.Errorf("unknown topic config %q", name)
	}
	if err := d.Validate(value); err != nil {
		return fmt.Errorf("invalid value for %s: %w", name, err)
	}
	return nil
}

// TopicConfigNames lists the supported topic configs in name order.
func TopicConfigNames() []string {
	names := make([]string, 0, len(topicConfigs))
	for n := range topicConfigs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// TopicConfigDefault is the value a topic has for name when it sets none.
func TopicConfigDefault(name string, d Defaults) (string, bool) {
	def, ok := topicConfigs[name]
	if !ok {
		return "", false
	}
	return def.Default(d), true
}

// Effective resolves a topic's config: its own value, else the default.
func Effective(configs map[string]string, name string, d Defaults) string {
	if v, ok := configs[name]; ok {
		return v
	}
	v, _ := TopicConfigDefault(name, d)
	return v
}

// EffectiveInt is Effective parsed as an integer (the default when unparsable).
func EffectiveInt(configs map[string]string, name string, d Defaults) int64 {
	n, err := strconv.ParseInt(Effective(configs, name, d), 10, 64)
	if err != nil {
		v, _ := TopicConfigDefault(name, d)
		n, _ = strconv.ParseInt(v, 10, 64)
	}
	return n
}
