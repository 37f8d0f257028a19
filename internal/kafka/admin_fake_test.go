package kafka

import (
	"context"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/chronik-stream/chronik/internal/group"
	"github.com/twmb/franz-go/pkg/kerr"
)

// adminFakeBackend is a minimal in-memory Backend for the admin handler tests: one broker,
// topics with partitions of replication factor 1, topic and broker configs in maps. The
// data-path methods are stubs.
type adminFakeBackend struct {
	mu      sync.Mutex
	node    int32
	host    string
	port    int32
	topics  map[string]*adminFakeTopic
	byID    map[[16]byte]string
	nextID  byte
	broker  map[string]string // dynamic broker configs
	lastOps []ConfigOp        // ops of the last AlterConfigs call
	lastInc bool              // incremental flag of the last AlterConfigs call
	// sawDeadline records whether the ctx of the last CreateTopic call had a deadline.
	sawDeadline bool
	groupsOnce  sync.Once
	groups      *group.Coordinator
}

type adminFakeTopic struct {
	id       [16]byte
	parts    int32
	configs  map[string]string
	logStart map[int32]int64
}

// adminFakeHW is the high watermark of every fake partition.
const adminFakeHW = 10

// adminFakeTopicDefaults are the topic configs the fake knows, with their defaults.
var adminFakeTopicDefaults = map[string]string{
	"cleanup.policy":      "delete",
	"retention.ms":        "604800000",
	"segment.bytes":       "1073741824",
	"min.insync.replicas": "1",
}

func newAdminFakeBackend() *adminFakeBackend {
	return &adminFakeBackend{
		node: 1, host: "127.0.0.1", port: 9092,
		topics: map[string]*adminFakeTopic{},
		byID:   map[[16]byte]string{},
		broker: map[string]string{},
	}
}

func (b *adminFakeBackend) NodeID() int32       { return b.node }
func (b *adminFakeBackend) ClusterID() string   { return "admin-fake-cluster" }
func (b *adminFakeBackend) ControllerID() int32 { return b.node }
func (b *adminFakeBackend) Brokers() []BrokerInfo {
	b.mu.Lock()
	defer b.mu.Unlock()
	return []BrokerInfo{{NodeID: b.node, Host: b.host, Port: b.port, Rack: "rack-a"}}
}

func (b *adminFakeBackend) setAddr(host string, port int32) {
	b.mu.Lock()
	b.host, b.port = host, port
	b.mu.Unlock()
}

func (b *adminFakeBackend) topicInfo(name string, t *adminFakeTopic) TopicInfo {
	info := TopicInfo{Name: name, ID: t.id}
	for p := range t.parts {
		info.Partitions = append(info.Partitions, PartitionInfo{
			Partition: p, Leader: b.node, Replicas: []int32{b.node}, ISR: []int32{b.node},
		})
	}
	return info
}

func (b *adminFakeBackend) Metadata(_ context.Context, names []string, _ bool) []TopicInfo {
	b.mu.Lock()
	defer b.mu.Unlock()
	if names == nil {
		for n := range b.topics {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	var out []TopicInfo
	for _, n := range names {
		t, ok := b.topics[n]
		if !ok {
			out = append(out, TopicInfo{Name: n, Err: kerr.UnknownTopicOrPartition})
			continue
		}
		out = append(out, b.topicInfo(n, t))
	}
	return out
}

func (b *adminFakeBackend) TopicNameByID(id [16]byte) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, ok := b.byID[id]
	return n, ok
}

func (b *adminFakeBackend) CreateTopic(ctx context.Context, spec TopicSpec, validateOnly bool) (TopicInfo, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, b.sawDeadline = ctx.Deadline()
	if spec.Name == "" || strings.ContainsAny(spec.Name, " /") {
		return TopicInfo{}, kerr.InvalidTopicException
	}
	if _, ok := b.topics[spec.Name]; ok {
		return TopicInfo{}, kerr.TopicAlreadyExists
	}
	if spec.ReplicationFactor > 1 {
		return TopicInfo{}, kerr.InvalidReplicationFactor
	}
	for _, replicas := range spec.Assignment {
		if slices.ContainsFunc(replicas, func(id int32) bool { return id != b.node }) {
			return TopicInfo{}, kerr.InvalidReplicaAssignment
		}
	}
	for k := range spec.Configs {
		if _, ok := adminFakeTopicDefaults[k]; !ok {
			return TopicInfo{}, kerr.InvalidConfig
		}
	}
	t := &adminFakeTopic{parts: spec.Partitions, configs: map[string]string{}, logStart: map[int32]int64{}}
	if t.parts == -1 {
		t.parts = 3
	}
	for k, v := range spec.Configs {
		t.configs[k] = v
	}
	if !validateOnly {
		b.nextID++
		t.id[15] = b.nextID
		b.topics[spec.Name] = t
		b.byID[t.id] = spec.Name
	}
	info := b.topicInfo(spec.Name, t)
	info.Configs = b.topicConfigs(t, nil)
	return info, nil
}

func (b *adminFakeBackend) DeleteTopic(_ context.Context, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.topics[name]
	if !ok {
		return kerr.UnknownTopicOrPartition
	}
	delete(b.topics, name)
	delete(b.byID, t.id)
	return nil
}

func (b *adminFakeBackend) CreatePartitions(_ context.Context, topic string, count int32, validateOnly bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.topics[topic]
	if !ok {
		return kerr.UnknownTopicOrPartition
	}
	if count <= t.parts {
		return kerr.InvalidPartitions
	}
	if !validateOnly {
		t.parts = count
	}
	return nil
}

// topicConfigs lists t's configs sorted by name, filtered by keys when non-nil.
func (b *adminFakeBackend) topicConfigs(t *adminFakeTopic, keys []string) []ConfigEntry {
	var out []ConfigEntry
	for k, def := range adminFakeTopicDefaults {
		if keys != nil && !slices.Contains(keys, k) {
			continue
		}
		e := ConfigEntry{Name: k, Value: &def, IsDefault: true, Source: 5, Type: 2}
		if v, ok := t.configs[k]; ok {
			e = ConfigEntry{Name: k, Value: &v, Source: 1, Type: 2}
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (b *adminFakeBackend) DescribeConfigs(resourceType int8, name string, keys []string) ([]ConfigEntry, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch resourceType {
	case 2:
		t, ok := b.topics[name]
		if !ok {
			return nil, kerr.UnknownTopicOrPartition
		}
		return b.topicConfigs(t, keys), nil
	case 4:
		secret := "hunter2"
		out := []ConfigEntry{
			{Name: "broker.id", Value: new("1"), ReadOnly: true, Source: 4, Type: 3},
			{Name: "ssl.key.password", Value: &secret, ReadOnly: true, Sensitive: true, Source: 4, Type: 9},
		}
		for k, v := range b.broker {
			out = append(out, ConfigEntry{Name: k, Value: &v, Source: 2, Type: 2})
		}
		if keys != nil {
			out = slices.DeleteFunc(out, func(e ConfigEntry) bool { return !slices.Contains(keys, e.Name) })
		}
		return out, nil
	}
	return nil, kerr.InvalidRequest
}

func (b *adminFakeBackend) AlterConfigs(_ context.Context, resourceType int8, name string, ops []ConfigOp, incremental, validateOnly bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lastOps, b.lastInc = ops, incremental
	if resourceType == 4 {
		if !validateOnly {
			for _, op := range ops {
				b.broker[op.Name] = *op.Value
			}
		}
		return nil
	}
	t, ok := b.topics[name]
	if !ok {
		return kerr.UnknownTopicOrPartition
	}
	next := map[string]string{}
	if incremental {
		for k, v := range t.configs {
			next[k] = v
		}
	}
	for _, op := range ops {
		if _, ok := adminFakeTopicDefaults[op.Name]; !ok {
			return kerr.InvalidConfig
		}
		switch op.Op {
		case 0:
			if op.Value == nil {
				return kerr.InvalidRequest
			}
			next[op.Name] = *op.Value
		case 1:
			delete(next, op.Name)
		case 2:
			cur, ok := next[op.Name]
			if !ok {
				cur = adminFakeTopicDefaults[op.Name]
			}
			next[op.Name] = cur + "," + *op.Value
		default:
			return kerr.InvalidConfig
		}
	}
	if !validateOnly {
		t.configs = next
	}
	return nil
}

func (b *adminFakeBackend) Produce(context.Context, string, int32, []byte, int16) ProduceWait {
	return ProduceFailed(kerr.UnknownTopicOrPartition)
}

func (b *adminFakeBackend) Fetch(FetchPartition) (FetchResult, error) {
	return FetchResult{}, kerr.UnknownTopicOrPartition
}

func (b *adminFakeBackend) Subscribe(string, int32, func()) func() { return func() {} }

func (b *adminFakeBackend) ListOffset(string, int32, int64, int8) (int64, int64, int32, error) {
	return 0, 0, 0, kerr.UnknownTopicOrPartition
}

func (b *adminFakeBackend) DeleteRecords(_ context.Context, topic string, partition int32, before int64) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.topics[topic]
	if !ok || partition < 0 || partition >= t.parts {
		return 0, kerr.UnknownTopicOrPartition
	}
	if before == -1 {
		before = adminFakeHW
	}
	if before > adminFakeHW || before < t.logStart[partition] {
		return 0, kerr.OffsetOutOfRange
	}
	t.logStart[partition] = before
	return before, nil
}

func (b *adminFakeBackend) LogDirs() []LogDirInfo {
	b.mu.Lock()
	defer b.mu.Unlock()
	d := LogDirInfo{Path: "/data", TotalBytes: 1 << 30, UsableBytes: 1 << 29, Topics: map[string][]LogDirPartition{}}
	for n, t := range b.topics {
		for p := t.parts - 1; p >= 0; p-- { // reverse order: the handler sorts
			d.Topics[n] = append(d.Topics[n], LogDirPartition{Partition: p, Size: 100 * int64(p+1)})
		}
	}
	return []LogDirInfo{d}
}

func (b *adminFakeBackend) InitProducerID(context.Context, *string, int64, int16) (int64, int16, error) {
	return 0, 0, kerr.UnknownServerError
}

// parts is the partition count of a topic, -1 if it does not exist.
func (b *adminFakeBackend) parts(name string) int32 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t, ok := b.topics[name]; ok {
		return t.parts
	}
	return -1
}

// topicCount is the number of existing topics.
func (b *adminFakeBackend) topicCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.topics)
}

func (b *adminFakeBackend) Groups() *group.Coordinator {
	b.groupsOnce.Do(func() { b.groups = newFakeGroups() })
	return b.groups
}

func (b *adminFakeBackend) GroupCoordinator(string) (BrokerInfo, error) {
	return b.Brokers()[0], nil
}
