package kafka

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fetch tests over raw sockets: sessions, budgets, topic ids, long-poll expiry.

// fetchReq builds a Fetch request for partitions of one topic at the given offsets.
func fetchReq(version int16, topic string, id [16]byte, offsets map[int32]int64) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.MaxBytes, req.MinBytes, req.MaxWaitMillis = version, 1<<20, 0, 0
	req.SessionEpoch = -1
	if len(offsets) == 0 {
		return req
	}
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, id
	for p := range int32(len(offsets) + 8) {
		off, ok := offsets[p]
		if !ok {
			continue
		}
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, off, 1<<20
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// fetchParts flattens a fetch response to partition -> answer.
func fetchParts(resp *kmsg.FetchResponse) map[int32]kmsg.FetchResponseTopicPartition {
	out := map[int32]kmsg.FetchResponseTopicPartition{}
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			out[p.Partition] = p
		}
	}
	return out
}

func TestCoreFetchSessionsRaw(t *testing.T) {
	srv, f, addr := startCore(t, Config{})
	f.createTopic("fs", 2)
	c := rawDial(t, addr)

	req := fetchReq(12, "fs", [16]byte{}, map[int32]int64{0: 0, 1: 0})
	req.SessionID, req.SessionEpoch = 0, 0
	resp := roundTrip[*kmsg.FetchResponse](t, c, req)
	if resp.ErrorCode != 0 || resp.SessionID == 0 || len(fetchParts(resp)) != 2 {
		t.Fatalf("new session: %+v", resp)
	}
	id := resp.SessionID

	// Nothing changed: an incremental fetch answers no partitions.
	inc := fetchReq(12, "", [16]byte{}, nil)
	inc.SessionID, inc.SessionEpoch = id, 1
	if resp := roundTrip[*kmsg.FetchResponse](t, c, inc); resp.ErrorCode != 0 || resp.SessionID != id || len(resp.Topics) != 0 {
		t.Fatalf("idle incremental: %+v", resp)
	}

	// New data on partition 1 only.
	if _, err := f.append("fs", 1, makeBatch("x")); err != nil {
		t.Fatal(err)
	}
	inc.SessionEpoch = 2
	resp = roundTrip[*kmsg.FetchResponse](t, c, inc)
	parts := fetchParts(resp)
	if len(parts) != 1 || len(parts[1].RecordBatches) == 0 || parts[1].HighWatermark != 1 {
		t.Fatalf("incremental with data: %+v", resp.Topics)
	}

	// Forget partition 1, move partition 0: only partition 0 may show up.
	if _, err := f.append("fs", 1, makeBatch("y")); err != nil {
		t.Fatal(err)
	}
	inc = fetchReq(12, "fs", [16]byte{}, map[int32]int64{0: 0})
	inc.SessionID, inc.SessionEpoch = id, 3
	inc.ForgottenTopics = []kmsg.FetchRequestForgottenTopic{{Topic: "fs", Partitions: []int32{1}}}
	if resp := roundTrip[*kmsg.FetchResponse](t, c, inc); len(resp.Topics) != 0 {
		t.Fatalf("after forgetting: %+v", resp.Topics)
	}

	// Wrong epoch, unknown session.
	inc = fetchReq(12, "", [16]byte{}, nil)
	inc.SessionID, inc.SessionEpoch = id, 9
	if resp := roundTrip[*kmsg.FetchResponse](t, c, inc); resp.ErrorCode != kerr.InvalidFetchSessionEpoch.Code {
		t.Fatalf("bad epoch: %+v", resp)
	}
	inc.SessionID, inc.SessionEpoch = id+1, 1
	if resp := roundTrip[*kmsg.FetchResponse](t, c, inc); resp.ErrorCode != kerr.FetchSessionIDNotFound.Code {
		t.Fatalf("unknown session: %+v", resp)
	}

	// Epoch -1 closes the session.
	inc.SessionID, inc.SessionEpoch = id, -1
	if resp := roundTrip[*kmsg.FetchResponse](t, c, inc); resp.ErrorCode != 0 || resp.SessionID != 0 {
		t.Fatalf("close session: %+v", resp)
	}
	if n := srv.sessions.len(); n != 0 {
		t.Fatalf("%d sessions left", n)
	}
}

func TestCoreFetchSessionCacheEvicts(t *testing.T) {
	c := newFetchSessionCache(3)
	var ids []int32
	for range 5 {
		ids = append(ids, c.create().id)
	}
	if c.len() != 3 || c.get(ids[0]) != nil || c.get(ids[1]) != nil || c.get(ids[4]) == nil {
		t.Fatalf("cache holds %d sessions", c.len())
	}
	c.get(ids[2]) // most recently used now
	c.create()
	if c.get(ids[2]) == nil || c.get(ids[3]) != nil {
		t.Fatal("the least recently used session was not the one evicted")
	}
}

func TestCoreFetchMaxBytes(t *testing.T) {
	_, f, addr := startCore(t, Config{})
	f.createTopic("mb", 2)
	for p := range int32(2) {
		for range 2 {
			if _, err := f.append("mb", p, makeBatch("0123456789")); err != nil {
				t.Fatal(err)
			}
		}
	}
	batch := len(makeBatch("0123456789"))
	c := rawDial(t, addr)
	for _, tc := range []struct {
		maxBytes, partMax int32
		want              [2]int // bytes expected per partition
	}{
		{10, 10, [2]int{batch, 0}},                            // first batch whole, nothing else
		{int32(3 * batch), 1 << 20, [2]int{2 * batch, batch}}, // budget shared
		{1 << 20, int32(batch), [2]int{batch, batch}},         // partition limit
	} {
		req := fetchReq(11, "mb", [16]byte{}, map[int32]int64{0: 0, 1: 0})
		req.MaxBytes = tc.maxBytes
		for i := range req.Topics[0].Partitions {
			req.Topics[0].Partitions[i].PartitionMaxBytes = tc.partMax
		}
		parts := fetchParts(roundTrip[*kmsg.FetchResponse](t, c, req))
		for p, want := range tc.want {
			if got := len(parts[int32(p)].RecordBatches); got != want || parts[int32(p)].HighWatermark != 2 {
				t.Fatalf("max %d/%d partition %d: %d bytes hw %d, want %d", tc.maxBytes, tc.partMax, p, got, parts[int32(p)].HighWatermark, want)
			}
		}
	}
}

func TestCoreFetchTopicIDsAndErrors(t *testing.T) {
	_, f, addr := startCore(t, Config{})
	f.createTopic("ids", 1)
	if _, err := f.append("ids", 0, makeBatch("a")); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	id := f.topics["ids"].id
	f.mu.Unlock()
	c := rawDial(t, addr)

	resp := roundTrip[*kmsg.FetchResponse](t, c, fetchReq(16, "", id, map[int32]int64{0: 0}))
	if len(resp.Topics) != 1 || resp.Topics[0].TopicID != id || len(resp.Topics[0].Partitions[0].RecordBatches) == 0 {
		t.Fatalf("v16 by id: %+v", resp.Topics)
	}
	resp = roundTrip[*kmsg.FetchResponse](t, c, fetchReq(16, "", [16]byte{9}, map[int32]int64{0: 0}))
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != kerr.UnknownTopicID.Code || p.HighWatermark != -1 {
		t.Fatalf("unknown id: %+v", p)
	}
	// An error answers at once even with MinBytes and a long MaxWait.
	req := fetchReq(11, "ids", [16]byte{}, map[int32]int64{0: 5})
	req.MinBytes, req.MaxWaitMillis = 1, 60_000
	resp = roundTrip[*kmsg.FetchResponse](t, c, req)
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != kerr.OffsetOutOfRange.Code || p.RecordBatches == nil {
		t.Fatalf("out of range: %+v", p)
	}
}

func TestCoreFetchLongPollTimesOut(t *testing.T) {
	_, f, addr := startCore(t, Config{})
	f.createTopic("idle", 1)
	c := rawDial(t, addr)
	req := fetchReq(11, "idle", [16]byte{}, map[int32]int64{0: 0})
	req.MinBytes, req.MaxWaitMillis = 1, 50
	start := time.Now()
	resp := roundTrip[*kmsg.FetchResponse](t, c, req)
	if el := time.Since(start); el < 50*time.Millisecond {
		t.Fatalf("answered after %v, before MaxWait", el)
	}
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || len(p.RecordBatches) != 0 {
		t.Fatalf("%+v", p)
	}
	if !f.waitFor(testCtx(t), func() bool { return f.subscribers == 0 }) {
		t.Fatal("subscription leaked")
	}
}
