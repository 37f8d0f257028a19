package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	kafka "github.com/segmentio/kafka-go"
)

// Tests driving an in-process standalone node with segmentio/kafka-go: Conn.CreateTopics
// through the controller connection, a Writer with RequiredAcks=all and one Reader per
// partition.

// kgoDialController opens a Conn to the controller the bootstrap address names.
func kgoDialController(t *testing.T, addr string) *kafka.Conn {
	t.Helper()
	conn, err := kafka.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	ctrl, err := conn.Controller()
	if err != nil {
		t.Fatalf("Controller: %v", err)
	}
	cc, err := kafka.Dial("tcp", net.JoinHostPort(ctrl.Host, strconv.Itoa(ctrl.Port)))
	if err != nil {
		t.Fatalf("dial controller %s:%d: %v", ctrl.Host, ctrl.Port, err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

type segAck struct {
	partition int
	offset    int64
	value     string
}

// segmentioWrite writes n records "<prefix>-<i>" keyed "k<i>" through a Writer with
// RequiredAcks=all and a hash balancer, and returns per partition the acknowledged
// values in offset order, appended to log (the values already in the topic).
func segmentioWrite(t *testing.T, addr, topic, prefix string, n int, log map[int][]string, compression kafka.Compression) map[int][]string {
	t.Helper()
	var mu sync.Mutex
	var acks []segAck
	var failed error
	w := &kafka.Writer{
		Addr:         kafka.TCP(addr),
		Topic:        topic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchSize:    200,
		BatchTimeout: 5 * time.Millisecond,
		Compression:  compression,
		MaxAttempts:  5,
		Completion: func(msgs []kafka.Message, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = err
				return
			}
			for _, m := range msgs {
				acks = append(acks, segAck{m.Partition, m.Offset, string(m.Value)})
			}
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const chunk = 500
	for start := 0; start < n; start += chunk {
		var msgs []kafka.Message
		for i := start; i < start+chunk && i < n; i++ {
			msgs = append(msgs, kafka.Message{Key: []byte("k" + strconv.Itoa(i)), Value: fmt.Appendf(nil, "%s-%d", prefix, i)})
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			var we kafka.WriteErrors
			if errors.As(err, &we) {
				t.Fatalf("WriteMessages: %d of %d failed: %v", we.Count(), len(msgs), err)
			}
			t.Fatalf("WriteMessages: %v", err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close writer: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if failed != nil {
		t.Fatalf("completion error: %v", failed)
	}
	if len(acks) != n {
		t.Fatalf("%d acknowledgements for %d records", len(acks), n)
	}
	if log == nil {
		log = map[int][]string{}
	}
	byPart := map[int]map[int64]string{}
	for _, a := range acks {
		if byPart[a.partition] == nil {
			byPart[a.partition] = map[int64]string{}
		}
		if old, dup := byPart[a.partition][a.offset]; dup {
			t.Fatalf("partition %d offset %d acknowledged twice (%s, %s)", a.partition, a.offset, old, a.value)
		}
		byPart[a.partition][a.offset] = a.value
	}
	for p, offs := range byPart {
		base := int64(len(log[p]))
		vals := make([]string, len(offs))
		for off, v := range offs {
			if off < base || off >= base+int64(len(offs)) {
				t.Fatalf("partition %d: acknowledged offset %d outside [%d,%d)", p, off, base, base+int64(len(offs)))
			}
			vals[off-base] = v
		}
		log[p] = append(log[p], vals...)
	}
	return log
}

// segmentioReadAll reads each partition with its own Reader from the first offset and
// checks it holds exactly want[p], in order, and nothing more.
func segmentioReadAll(t *testing.T, addr, topic string, partitions int, want map[int][]string) {
	t.Helper()
	for p := 0; p < partitions; p++ {
		exp := want[p]
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers:   []string{addr},
			Topic:     topic,
			Partition: p,
			MinBytes:  1,
			MaxBytes:  1 << 20,
			MaxWait:   200 * time.Millisecond,
		})
		if err := r.SetOffset(kafka.FirstOffset); err != nil {
			t.Fatalf("SetOffset: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		for i := range exp {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				cancel()
				t.Fatalf("partition %d: read %d of %d: %v", p, i, len(exp), err)
			}
			if m.Partition != p || m.Offset != int64(i) || string(m.Value) != exp[i] {
				cancel()
				t.Fatalf("partition %d: got p%d@%d %q, want @%d %q", p, m.Partition, m.Offset, m.Value, i, exp[i])
			}
		}
		cancel()
		// Nothing beyond what was written.
		ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
		m, err := r.ReadMessage(ctx)
		cancel()
		if err == nil {
			t.Fatalf("partition %d: unexpected extra record at offset %d: %q", p, m.Offset, m.Value)
		}
		if err := r.Close(); err != nil {
			t.Errorf("close reader: %v", err)
		}
	}
}

// TestSegmentioWriterReader: Conn.CreateTopics through the controller (4 partitions, a
// config), TOPIC_ALREADY_EXISTS through the Client API, 4000 records through a Writer
// with RequiredAcks=all and a hash balancer, 500 more with each codec, one Reader per
// partition, Conn.ReadOffsets, DeleteTopics. Measured: ~5-7 s on 2 cores.
func TestSegmentioWriterReader(t *testing.T) {
	n := startNode(t, testConfig(t.TempDir()))
	defer n.Stop()
	addr := n.KafkaAddr()

	const topic, parts = "kafka-go", 4
	cc := kgoDialController(t, addr)
	if err := cc.CreateTopics(kafka.TopicConfig{
		Topic:             topic,
		NumPartitions:     parts,
		ReplicationFactor: 1,
		ConfigEntries:     []kafka.ConfigEntry{{ConfigName: "retention.ms", ConfigValue: "86400000"}},
	}); err != nil {
		t.Fatalf("CreateTopics: %v", err)
	}
	// Conn.CreateTopics is idempotent (it swallows TOPIC_ALREADY_EXISTS); the Client API
	// shows the per-topic error code.
	cl := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second}
	res, err := cl.CreateTopics(context.Background(), &kafka.CreateTopicsRequest{
		Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: parts, ReplicationFactor: 1}},
	})
	if err != nil {
		t.Fatalf("Client.CreateTopics: %v", err)
	}
	if !errors.Is(res.Errors[topic], kafka.TopicAlreadyExists) {
		t.Fatalf("second CreateTopics: %v, want TopicAlreadyExists", res.Errors[topic])
	}
	pinfo, err := cc.ReadPartitions(topic)
	if err != nil {
		t.Fatalf("ReadPartitions: %v", err)
	}
	if len(pinfo) != parts {
		t.Fatalf("ReadPartitions: %d partitions, want %d", len(pinfo), parts)
	}

	want := segmentioWrite(t, addr, topic, "a", 4000, nil, 0)
	if len(want) != parts {
		t.Fatalf("records on %d partitions, want %d", len(want), parts)
	}
	segmentioReadAll(t, addr, topic, parts, want)

	// Compressed batches append after the plain ones.
	for _, c := range []kafka.Compression{kafka.Gzip, kafka.Snappy, kafka.Lz4, kafka.Zstd} {
		want = segmentioWrite(t, addr, topic, c.String(), 500, want, c)
	}
	segmentioReadAll(t, addr, topic, parts, want)

	// Conn-level offsets agree with the writes.
	for p := 0; p < parts; p++ {
		pc, err := kafka.DialLeader(context.Background(), "tcp", addr, topic, p)
		if err != nil {
			t.Fatalf("DialLeader %d: %v", p, err)
		}
		first, last, err := pc.ReadOffsets()
		pc.Close()
		if err != nil {
			t.Fatalf("ReadOffsets %d: %v", p, err)
		}
		if first != 0 || last != int64(len(want[p])) {
			t.Fatalf("partition %d: offsets [%d,%d), want [0,%d)", p, first, last, len(want[p]))
		}
	}

	if err := cc.DeleteTopics(topic); err != nil {
		t.Fatalf("DeleteTopics: %v", err)
	}
	// Conn.ReadPartitions sends Metadata v1, which auto-creates topics (as in Kafka), so
	// check with the Client API (Metadata with AllowAutoTopicCreation=false).
	deadline := time.Now().Add(10 * time.Second)
	for {
		md, err := cl.Metadata(context.Background(), &kafka.MetadataRequest{Topics: []string{topic}})
		if err == nil && len(md.Topics) == 1 && errors.Is(md.Topics[0].Error, kafka.UnknownTopicOrPartition) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic still described after delete: %+v %v", md, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSegmentioAutoCreateAndConn: DialLeader on a topic that does not exist yet
// (auto-created), 2000 records written through the leader Conn to partition 1.
func TestSegmentioAutoCreateAndConn(t *testing.T) {
	n := startNode(t, testConfig(t.TempDir()))
	defer n.Stop()
	addr := n.KafkaAddr()
	// Produce through a plain leader Conn to an auto-created topic, partition 1.
	const topic = "kafka-go-conn"
	var conn *kafka.Conn
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		conn, err = kafka.DialLeader(context.Background(), "tcp", addr, topic, 1)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("DialLeader on auto-created topic: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer conn.Close()
	var msgs []kafka.Message
	want := map[int][]string{}
	for i := 0; i < 2000; i++ {
		v := "conn-" + strconv.Itoa(i)
		msgs = append(msgs, kafka.Message{Value: []byte(v)})
		want[1] = append(want[1], v)
		if len(msgs) == 250 {
			if _, err := conn.WriteMessages(msgs...); err != nil {
				t.Fatalf("Conn.WriteMessages: %v", err)
			}
			msgs = msgs[:0]
		}
	}
	segmentioReadAll(t, addr, topic, 3, want)
}
