package kafka

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"net"
	"strconv"
	"sync"

	"github.com/chronik-stream/chronik/internal/group"
	"github.com/chronik-stream/chronik/internal/record"
	"github.com/twmb/franz-go/pkg/kerr"
)

// coreFake is an in-memory single-node Backend for the protocol tests. Partitions
// store the appended batches with their base offsets rewritten; Subscribe wake-ups fire
// after every append. It does not validate CRCs or sequences.
type coreFake struct {
	mu          sync.Mutex
	host        string
	port        int32
	topics      map[string]*coreFakeTopic
	ids         map[[16]byte]string
	autoCreate  bool
	partitions  int32 // for auto-created topics
	nextPID     int64
	initPIDs    int
	subscribes  int // Subscribe calls so far
	subscribers int // subscriptions not cancelled yet
	changed     chan struct{}
	groups      *group.Coordinator // created on first use; tests may replace it
}

type coreFakeTopic struct {
	name  string
	id    [16]byte
	parts []*coreFakePart
}

type coreFakePart struct {
	batches  [][]byte
	bases    []int64
	hw       int64
	logStart int64
	subs     map[int]func()
	nextSub  int
}

func newCoreFake() *coreFake {
	return &coreFake{
		topics:     map[string]*coreFakeTopic{},
		ids:        map[[16]byte]string{},
		autoCreate: true,
		partitions: 1,
		nextPID:    1000,
		changed:    make(chan struct{}),
	}
}

// setAddr sets the advertised address from the server's bound address.
func (f *coreFake) setAddr(a net.Addr) {
	host, port, _ := net.SplitHostPort(a.String())
	p, _ := strconv.Atoi(port)
	f.mu.Lock()
	f.host, f.port = host, int32(p)
	f.mu.Unlock()
}

// notify wakes waitFor callers. Caller holds f.mu.
func (f *coreFake) notify() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// waitFor blocks until cond (evaluated under f.mu) holds or ctx is done.
func (f *coreFake) waitFor(ctx context.Context, cond func() bool) bool {
	for {
		f.mu.Lock()
		ok, ch := cond(), f.changed
		f.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

// createTopic creates a topic with n partitions. Caller holds f.mu.
func (f *coreFake) createTopicLocked(name string, n int32) *coreFakeTopic {
	t := &coreFakeTopic{name: name}
	_, _ = rand.Read(t.id[:])
	for range n {
		t.parts = append(t.parts, &coreFakePart{subs: map[int]func(){}})
	}
	f.topics[name] = t
	f.ids[t.id] = name
	f.notify()
	return t
}

func (f *coreFake) createTopic(name string, n int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.createTopicLocked(name, n)
}

func (f *coreFake) part(topic string, p int32) (*coreFakePart, error) {
	t := f.topics[topic]
	if t == nil || p < 0 || int(p) >= len(t.parts) {
		return nil, kerr.UnknownTopicOrPartition
	}
	return t.parts[p], nil
}

func (f *coreFake) NodeID() int32       { return 1 }
func (f *coreFake) ClusterID() string   { return "fake-cluster" }
func (f *coreFake) ControllerID() int32 { return 1 }

func (f *coreFake) Brokers() []BrokerInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return []BrokerInfo{{NodeID: 1, Host: f.host, Port: f.port}}
}

func (f *coreFake) Metadata(_ context.Context, names []string, autoCreate bool) []TopicInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	if names == nil {
		for n := range f.topics {
			names = append(names, n)
		}
	}
	var out []TopicInfo
	for _, n := range names {
		if n == "boom" {
			panic("fake backend: boom")
		}
		t := f.topics[n]
		if t == nil && autoCreate && f.autoCreate {
			t = f.createTopicLocked(n, f.partitions)
		}
		if t == nil {
			out = append(out, TopicInfo{Name: n, Err: kerr.UnknownTopicOrPartition})
			continue
		}
		ti := TopicInfo{Name: n, ID: t.id}
		for i := range t.parts {
			ti.Partitions = append(ti.Partitions, PartitionInfo{
				Partition: int32(i), Leader: 1, LeaderEpoch: 0,
				Replicas: []int32{1}, ISR: []int32{1},
			})
		}
		out = append(out, ti)
	}
	return out
}

func (f *coreFake) TopicNameByID(id [16]byte) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.ids[id]
	return n, ok
}

func (f *coreFake) Produce(_ context.Context, topic string, partition int32, records []byte, _ int16) ProduceWait {
	res, err := f.append(topic, partition, records)
	return func() (ProduceResult, error) { return res, err }
}

// append stores the batches at once, as the fake's Produce does before it returns.
func (f *coreFake) append(topic string, partition int32, records []byte) (ProduceResult, error) {
	f.mu.Lock()
	p, err := f.part(topic, partition)
	if err != nil {
		f.mu.Unlock()
		return ProduceResult{}, err
	}
	base := p.hw
	for b := records; len(b) > 0; {
		h, err := record.ParseHeader(b)
		if err != nil || h.TotalSize() > len(b) {
			f.mu.Unlock()
			return ProduceResult{}, kerr.CorruptMessage
		}
		batch := append([]byte(nil), b[:h.TotalSize()]...)
		record.SetBaseOffset(batch, p.hw)
		p.batches = append(p.batches, batch)
		p.bases = append(p.bases, p.hw)
		p.hw += int64(h.LastOffsetDelta) + 1
		b = b[h.TotalSize():]
	}
	if base == p.hw {
		f.mu.Unlock()
		return ProduceResult{}, kerr.CorruptMessage
	}
	wakes := make([]func(), 0, len(p.subs))
	for _, w := range p.subs {
		wakes = append(wakes, w)
	}
	res := ProduceResult{BaseOffset: base, LogAppendTime: -1, LogStartOffset: p.logStart}
	f.notify()
	f.mu.Unlock()
	for _, w := range wakes {
		w()
	}
	return res, nil
}

func (f *coreFake) Fetch(req FetchPartition) (FetchResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.part(req.Topic, req.Partition)
	if err != nil {
		return FetchResult{}, err
	}
	if req.Offset < p.logStart || req.Offset > p.hw {
		return FetchResult{}, kerr.OffsetOutOfRange
	}
	res := FetchResult{HighWatermark: p.hw, LastStableOffset: p.hw, LogStartOffset: p.logStart, PreferredReadReplica: -1}
	for i, b := range p.batches {
		last := p.bases[i] + int64(binary.BigEndian.Uint32(b[23:27]))
		if last < req.Offset {
			continue
		}
		if len(res.Records) > 0 && len(res.Records)+len(b) > int(req.MaxBytes) {
			break
		}
		res.Records = append(res.Records, b...)
	}
	return res, nil
}

func (f *coreFake) Subscribe(topic string, partition int32, wake func()) func() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subscribes++
	p, err := f.part(topic, partition)
	if err != nil {
		return func() {}
	}
	id := p.nextSub
	p.nextSub++
	p.subs[id] = wake
	f.subscribers++
	f.notify()
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, ok := p.subs[id]; ok {
			delete(p.subs, id)
			f.subscribers--
			f.notify()
		}
	}
}

func (f *coreFake) ListOffset(topic string, partition int32, timestamp int64, _ int8) (int64, int64, int32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.part(topic, partition)
	if err != nil {
		return 0, 0, 0, err
	}
	switch timestamp {
	case -2:
		return p.logStart, -1, 0, nil
	default:
		return p.hw, -1, 0, nil
	}
}

func (f *coreFake) InitProducerID(context.Context, *string, int64, int16) (int64, int16, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextPID++
	f.initPIDs++
	f.notify()
	return f.nextPID, 0, nil
}

func (f *coreFake) CreateTopic(context.Context, TopicSpec, bool) (TopicInfo, error) {
	return TopicInfo{}, kerr.InvalidRequest
}
func (f *coreFake) DeleteTopic(context.Context, string) error { return kerr.InvalidRequest }
func (f *coreFake) CreatePartitions(context.Context, string, int32, bool) error {
	return kerr.InvalidRequest
}
func (f *coreFake) DescribeConfigs(int8, string, []string) ([]ConfigEntry, error) {
	return nil, kerr.InvalidRequest
}
func (f *coreFake) AlterConfigs(context.Context, int8, string, []ConfigOp, bool, bool) error {
	return kerr.InvalidRequest
}
func (f *coreFake) DeleteRecords(context.Context, string, int32, int64) (int64, error) {
	return 0, kerr.InvalidRequest
}
func (f *coreFake) LogDirs() []LogDirInfo { return nil }

func (f *coreFake) Groups() *group.Coordinator {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.groups == nil {
		f.groups = newFakeGroups()
	}
	return f.groups
}

// setGroups replaces the coordinator (a coordinator failover) and returns the old one.
func (f *coreFake) setGroups(c *group.Coordinator) *group.Coordinator {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.groups
	f.groups = c
	return old
}

func (f *coreFake) GroupCoordinator(string) (BrokerInfo, error) {
	return f.Brokers()[0], nil
}
