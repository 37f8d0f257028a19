package server

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// Tests driving an in-process standalone node with IBM/sarama: sync producer (plain and
// idempotent), partition consumers from the oldest offset and the cluster admin.

func saramaConfig() *sarama.Config {
	c := sarama.NewConfig()
	c.Version = sarama.V3_6_0_0
	c.ClientID = "chronik-sarama-test"
	c.Metadata.Retry.Backoff = 50 * time.Millisecond
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Return.Successes = true
	c.Producer.Return.Errors = true
	c.Producer.Retry.Backoff = 50 * time.Millisecond
	c.Consumer.Return.Errors = true
	c.Consumer.Fetch.Default = 1 << 20
	c.Admin.Timeout = 10 * time.Second
	return c
}

// saramaProduce sends n records keyed "k<i>" with value "<prefix>-<i>" in batches of
// batch through a SyncProducer. log holds, per partition, the values already in the
// topic in offset order (nil for a new topic); the acknowledged records are appended to
// it, checking their offsets continue the partition without gap or repeat.
func saramaProduce(t *testing.T, cfg *sarama.Config, addr, topic, prefix string, n, batch int, log map[int32][]string) map[int32][]string {
	t.Helper()
	p, err := sarama.NewSyncProducer([]string{addr}, cfg)
	if err != nil {
		t.Fatalf("NewSyncProducer: %v", err)
	}
	defer func() {
		if err := p.Close(); err != nil {
			t.Errorf("close producer: %v", err)
		}
	}()
	acked := map[int32]map[int64]string{}
	for start := 0; start < n; start += batch {
		var msgs []*sarama.ProducerMessage
		for i := start; i < start+batch && i < n; i++ {
			msgs = append(msgs, &sarama.ProducerMessage{
				Topic: topic,
				Key:   sarama.StringEncoder("k" + strconv.Itoa(i)),
				Value: sarama.StringEncoder(fmt.Sprintf("%s-%d", prefix, i)),
			})
		}
		if err := p.SendMessages(msgs); err != nil {
			var pe sarama.ProducerErrors
			if errors.As(err, &pe) && len(pe) > 0 {
				t.Fatalf("SendMessages: %d failed, first: %v", len(pe), pe[0].Err)
			}
			t.Fatalf("SendMessages: %v", err)
		}
		for _, m := range msgs {
			if acked[m.Partition] == nil {
				acked[m.Partition] = map[int64]string{}
			}
			v := string(m.Value.(sarama.StringEncoder))
			if old, dup := acked[m.Partition][m.Offset]; dup {
				t.Fatalf("partition %d offset %d acknowledged twice (%s, %s)", m.Partition, m.Offset, old, v)
			}
			acked[m.Partition][m.Offset] = v
		}
	}
	if log == nil {
		log = map[int32][]string{}
	}
	total := 0
	for part, offs := range acked {
		base := int64(len(log[part]))
		vals := make([]string, len(offs))
		for off, v := range offs {
			if off < base || off >= base+int64(len(offs)) {
				t.Fatalf("partition %d: acknowledged offset %d outside [%d,%d)", part, off, base, base+int64(len(offs)))
			}
			vals[off-base] = v
		}
		log[part] = append(log[part], vals...)
		total += len(vals)
	}
	if total != n {
		t.Fatalf("%d acknowledgements for %d records", total, n)
	}
	return log
}

// saramaConsumeAll reads every partition of topic from the oldest offset up to the high
// water mark and checks the records are exactly want, in order, per partition.
func saramaConsumeAll(t *testing.T, cfg *sarama.Config, addr, topic string, want map[int32][]string) {
	t.Helper()
	client, err := sarama.NewClient([]string{addr}, cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	defer client.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatalf("NewConsumer: %v", err)
	}
	defer consumer.Close()
	parts, err := consumer.Partitions(topic)
	if err != nil {
		t.Fatalf("Partitions: %v", err)
	}
	if len(parts) != len(want) && len(want) > 0 {
		// want may not cover empty partitions; only fail when a wanted one is missing.
		for p := range want {
			found := false
			for _, q := range parts {
				found = found || p == q
			}
			if !found {
				t.Fatalf("partition %d not in metadata %v", p, parts)
			}
		}
	}
	for _, part := range parts {
		exp := want[part]
		hwm, err := client.GetOffset(topic, part, sarama.OffsetNewest)
		if err != nil {
			t.Fatalf("GetOffset(newest) %d: %v", part, err)
		}
		if hwm != int64(len(exp)) {
			t.Fatalf("partition %d: high water mark %d, want %d", part, hwm, len(exp))
		}
		oldest, err := client.GetOffset(topic, part, sarama.OffsetOldest)
		if err != nil || oldest != 0 {
			t.Fatalf("partition %d: oldest offset %d (%v), want 0", part, oldest, err)
		}
		if len(exp) == 0 {
			continue
		}
		pc, err := consumer.ConsumePartition(topic, part, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("ConsumePartition %d: %v", part, err)
		}
		deadline := time.After(30 * time.Second)
		next := int64(0)
		for next < int64(len(exp)) {
			select {
			case m := <-pc.Messages():
				if m.Offset != next {
					t.Fatalf("partition %d: got offset %d, want %d", part, m.Offset, next)
				}
				if string(m.Value) != exp[next] {
					t.Fatalf("partition %d offset %d: value %q, want %q", part, next, m.Value, exp[next])
				}
				next++
			case err := <-pc.Errors():
				t.Fatalf("partition %d consumer error: %v", part, err)
			case <-deadline:
				t.Fatalf("partition %d: consumed %d of %d records", part, next, len(exp))
			}
		}
		// Nothing beyond the high water mark.
		select {
		case m := <-pc.Messages():
			t.Fatalf("partition %d: unexpected extra record at offset %d", part, m.Offset)
		case <-time.After(200 * time.Millisecond):
		}
		if err := pc.Close(); err != nil {
			t.Errorf("close partition consumer %d: %v", part, err)
		}
	}
}

// TestSaramaSyncProducerConsumer: 3000 records (hash-partitioned keys) through a
// SyncProducer with acks=all, then 500 more with each codec, read back by partition
// consumers from the oldest offset. Measured: ~3 s on 2 cores.
func TestSaramaSyncProducerConsumer(t *testing.T) {
	n := startNode(t, testConfig(t.TempDir()))
	defer n.Stop()
	cfg := saramaConfig()
	// Auto-created topic (3 partitions), hash-partitioned keys spread over all of them.
	const topic, count = "sarama-sync", 3000
	want := saramaProduce(t, cfg, n.KafkaAddr(), topic, "sync", count, 100, nil)
	if len(want) != 3 {
		t.Fatalf("records landed on %d partitions, want 3", len(want))
	}
	saramaConsumeAll(t, cfg, n.KafkaAddr(), topic, want)

	// Compressed batches from sarama's own encoders append after the plain ones.
	for _, codec := range []sarama.CompressionCodec{sarama.CompressionGZIP, sarama.CompressionSnappy,
		sarama.CompressionLZ4, sarama.CompressionZSTD} {
		ccfg := saramaConfig()
		ccfg.Producer.Compression = codec
		want = saramaProduce(t, ccfg, n.KafkaAddr(), topic, codec.String(), 500, 250, want)
	}
	saramaConsumeAll(t, cfg, n.KafkaAddr(), topic, want)
}

// TestSaramaIdempotentProducer: Producer.Idempotent with Net.MaxOpenRequests=1, two
// producers one after the other (the second continues at the end offsets).
func TestSaramaIdempotentProducer(t *testing.T) {
	n := startNode(t, testConfig(t.TempDir()))
	defer n.Stop()
	cfg := saramaConfig()
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Idempotent = true
	cfg.Producer.Retry.Max = 5
	const topic, count = "sarama-idempotent", 3000
	want := saramaProduce(t, cfg, n.KafkaAddr(), topic, "idem", count, 250, nil)
	saramaConsumeAll(t, saramaConfig(), n.KafkaAddr(), topic, want)

	// A second idempotent producer (a new producer id) continues at the end offsets.
	want = saramaProduce(t, cfg, n.KafkaAddr(), topic, "idem2", 300, 300, want)
	saramaConsumeAll(t, saramaConfig(), n.KafkaAddr(), topic, want)
}

// TestSaramaClusterAdmin: CreateTopic (with a config), TOPIC_ALREADY_EXISTS,
// DescribeTopics, ListTopics, DescribeConfig, produce/consume on the 5 partitions,
// DeleteTopic and UNKNOWN_TOPIC_OR_PARTITION for a second delete.
func TestSaramaClusterAdmin(t *testing.T) {
	n := startNode(t, testConfig(t.TempDir()))
	defer n.Stop()
	cfg := saramaConfig()
	admin, err := sarama.NewClusterAdmin([]string{n.KafkaAddr()}, cfg)
	if err != nil {
		t.Fatalf("NewClusterAdmin: %v", err)
	}
	defer admin.Close()

	const topic = "sarama-admin"
	retention := "3600000"
	err = admin.CreateTopic(topic, &sarama.TopicDetail{
		NumPartitions:     5,
		ReplicationFactor: 1,
		ConfigEntries:     map[string]*string{"retention.ms": &retention},
	}, false)
	if err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	// Creating it again is TOPIC_ALREADY_EXISTS.
	err = admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 5, ReplicationFactor: 1}, false)
	if !errors.Is(err, sarama.ErrTopicAlreadyExists) {
		var te *sarama.TopicError
		if !errors.As(err, &te) || te.Err != sarama.ErrTopicAlreadyExists {
			t.Fatalf("second CreateTopic: %v, want TOPIC_ALREADY_EXISTS", err)
		}
	}

	md, err := admin.DescribeTopics([]string{topic})
	if err != nil {
		t.Fatalf("DescribeTopics: %v", err)
	}
	if len(md) != 1 || md[0].Err != sarama.ErrNoError || md[0].Name != topic {
		t.Fatalf("DescribeTopics: %+v", md)
	}
	if len(md[0].Partitions) != 5 {
		t.Fatalf("DescribeTopics: %d partitions, want 5", len(md[0].Partitions))
	}
	for _, p := range md[0].Partitions {
		if p.Err != sarama.ErrNoError || p.Leader != 1 || len(p.Replicas) != 1 || len(p.Isr) != 1 {
			t.Fatalf("partition %+v", p)
		}
	}
	topics, err := admin.ListTopics()
	if err != nil {
		t.Fatalf("ListTopics: %v", err)
	}
	if d, ok := topics[topic]; !ok || d.NumPartitions != 5 {
		t.Fatalf("ListTopics: %+v", topics)
	}
	entries, err := admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
	if err != nil {
		t.Fatalf("DescribeConfig: %v", err)
	}
	found := false
	for _, e := range entries {
		if e.Name == "retention.ms" {
			found = true
			if e.Value != retention {
				t.Fatalf("retention.ms = %q, want %q", e.Value, retention)
			}
		}
	}
	if !found {
		t.Fatalf("retention.ms not described: %+v", entries)
	}

	// Produce to all five partitions and read back.
	want := saramaProduce(t, cfg, n.KafkaAddr(), topic, "adm", 1000, 200, nil)
	if len(want) != 5 {
		t.Fatalf("records on %d partitions, want 5", len(want))
	}
	saramaConsumeAll(t, cfg, n.KafkaAddr(), topic, want)

	if err := admin.DeleteTopic(topic); err != nil {
		t.Fatalf("DeleteTopic: %v", err)
	}
	// The topic disappears from metadata (poll: deletion may be asynchronous).
	deadline := time.Now().Add(10 * time.Second)
	for {
		md, err := admin.DescribeTopics([]string{topic})
		if err == nil && len(md) == 1 && md[0].Err == sarama.ErrUnknownTopicOrPartition {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic still described after delete: %+v %v", md, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	err = admin.DeleteTopic(topic)
	if err == nil || !strings.Contains(err.Error(), sarama.ErrUnknownTopicOrPartition.Error()) {
		t.Fatalf("second DeleteTopic: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}
}
