//go:build e2e

package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Idempotent produce across a server restart, with hand-made batches so the sequence
// numbers are exact: a batch retried after the restart (the client never saw its
// acknowledgement) must be recognised as a duplicate, as Kafka does by rebuilding the
// producer state from the log.

// idemBatch encodes an uncompressed v2 record batch of n records "<prefix>-<i>" for
// producer (id, epoch) starting at sequence seq.
func idemBatch(id int64, epoch int16, seq int32, prefix string, n int) []byte {
	now := time.Now().UnixMilli()
	var recs []byte
	for i := 0; i < n; i++ {
		var body []byte
		body = append(body, 0)                   // attributes
		body = kbin.AppendVarlong(body, 0)       // timestamp delta
		body = kbin.AppendVarint(body, int32(i)) // offset delta
		body = kbin.AppendVarint(body, -1)       // null key
		v := fmt.Sprintf("%s-%d", prefix, i)
		body = kbin.AppendVarint(body, int32(len(v)))
		body = append(body, v...)
		body = kbin.AppendVarint(body, 0) // no headers
		recs = kbin.AppendVarint(recs, int32(len(body)))
		recs = append(recs, body...)
	}
	b := kmsg.RecordBatch{
		FirstOffset: 0, PartitionLeaderEpoch: -1, Magic: 2, Attributes: 0,
		LastOffsetDelta: int32(n - 1), FirstTimestamp: now, MaxTimestamp: now,
		ProducerID: id, ProducerEpoch: epoch, FirstSequence: seq, NumRecords: int32(n), Records: recs,
	}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))                                          // length
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli))) // crc
	return raw
}

// rawProduce sends one batch to partition 0 of topic with acks=all and returns the
// partition's error code and base offset.
func rawProduce(t *testing.T, cl *kgo.Client, topic string, batch []byte) (int16, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = 0
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := cl.Broker(1).RetriableRequest(ctx, req) // retries a connection the restart broke
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	p := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	return p.ErrorCode, p.BaseOffset
}

func TestIdempotentRetryAcrossRestart(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			s := startStandalone(t)
			const topic = "idem"
			if _, err := kadm.NewClient(client(t, []string{s.addr()})).CreateTopic(context.Background(), 1, 1, nil, topic); err != nil {
				t.Fatal(err)
			}
			cl := client(t, []string{s.addr()}, kgo.MetadataMinAge(50*time.Millisecond))
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			ip, err := cl.Request(ctx, kmsg.NewPtrInitProducerIDRequest())
			if err != nil || ip.(*kmsg.InitProducerIDResponse).ErrorCode != 0 {
				t.Fatalf("InitProducerID: %v %+v", err, ip)
			}
			pid, epoch := ip.(*kmsg.InitProducerIDResponse).ProducerID, ip.(*kmsg.InitProducerIDResponse).ProducerEpoch

			a := idemBatch(pid, epoch, 0, "a", 5)
			b := idemBatch(pid, epoch, 5, "b", 5)
			if ec, off := rawProduce(t, cl, topic, a); ec != 0 || off != 0 {
				t.Fatalf("batch a: error %d offset %d", ec, off)
			}
			if ec, off := rawProduce(t, cl, topic, b); ec != 0 || off != 5 {
				t.Fatalf("batch b: error %d offset %d", ec, off)
			}
			// A retry on the live server is a duplicate: no error, the original offset.
			if ec, off := rawProduce(t, cl, topic, b); ec != 0 || off != 5 {
				t.Errorf("batch b retried before the restart: error %d offset %d, want 0 and offset 5 (Kafka answers a duplicate with its original offset)", ec, off)
			}

			if sig == syscall.SIGKILL {
				s.kill()
			} else {
				s.stop()
			}
			s.start()
			s.waitReady(1, 60*time.Second)

			// The same retry after the restart: still a duplicate.
			ec, off := rawProduce(t, cl, topic, b)
			if ec != 0 || off != 5 {
				t.Errorf("batch b retried after %v restart: error %d (%s) offset %d, want error 0 and offset 5", sig, ec, errName(ec), off)
			}
			// The next sequence continues; a gap is OUT_OF_ORDER_SEQUENCE_NUMBER.
			c := idemBatch(pid, epoch, 10, "c", 5)
			ec, off = rawProduce(t, cl, topic, c)
			if ec != 0 {
				t.Errorf("batch c (sequence 10) after the restart: error %d (%s), want 0", ec, errName(ec))
			}
			gap := idemBatch(pid, epoch, 20, "gap", 1)
			if ec, _ := rawProduce(t, cl, topic, gap); ec != 45 {
				t.Errorf("batch with a sequence gap: error %d (%s), want 45 OUT_OF_ORDER_SEQUENCE_NUMBER", ec, errName(ec))
			}

			// The log: a-0..4, b-0..4, c-0..4 exactly once.
			var want []string
			for _, p := range []string{"a", "b", "c"} {
				for i := 0; i < 5; i++ {
					want = append(want, fmt.Sprintf("%s-%d", p, i))
				}
			}
			cons := client(t, []string{s.addr()}, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(0)}}),
				kgo.FetchMaxWait(100*time.Millisecond))
			end, err := kadm.NewClient(cons).ListEndOffsets(ctx, topic)
			if err != nil {
				t.Fatal(err)
			}
			eo, _ := end.Lookup(topic, 0)
			var got []string
			for int64(len(got)) < eo.Offset {
				fs := cons.PollFetches(ctx)
				if ctx.Err() != nil {
					t.Fatalf("consumed %d of %d", len(got), eo.Offset)
				}
				fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("log after the retries holds %d records %v, want %v", len(got), got, want)
			}
		})
	}
}

func errName(code int16) string {
	names := map[int16]string{0: "NONE", 45: "OUT_OF_ORDER_SEQUENCE_NUMBER", 46: "DUPLICATE_SEQUENCE_NUMBER",
		47: "INVALID_PRODUCER_EPOCH", 59: "UNKNOWN_PRODUCER_ID", 6: "NOT_LEADER_OR_FOLLOWER", 7: "REQUEST_TIMED_OUT"}
	if n, ok := names[code]; ok {
		return n
	}
	return "code " + fmt.Sprint(code)
}
