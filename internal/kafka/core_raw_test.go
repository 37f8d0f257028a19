package kafka

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Tests speaking the wire protocol over raw sockets.

// rawHeader frames a request header (v1) followed by body bytes.
func rawHeader(key, version int16, corr int32, body []byte) []byte {
	b := []byte{0, 0, 0, 0}
	b = binary.BigEndian.AppendUint16(b, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, 0xffff) // null client id
	b = append(b, body...)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

func TestCoreBadFramesCloseConnection(t *testing.T) {
	srv, _, addr := startCore(t, Config{MaxRequestBytes: 1024})
	for _, tc := range []struct {
		name string
		send []byte
	}{
		{"oversized", binary.BigEndian.AppendUint32(nil, 2048)},
		{"negative", binary.BigEndian.AppendUint32(nil, uint32(0xfffffffb))},
		{"empty", binary.BigEndian.AppendUint32(nil, 0)},
		{"short header", append(binary.BigEndian.AppendUint32(nil, 3), 0, 18, 0)},
		{"unknown key", rawHeader(999, 0, 1, nil)},
		{"unregistered key", rawHeader(57, 0, 1, nil)},
		{"unsupported metadata version", rawHeader(3, 99, 1, nil)},
		{"unsupported produce version", rawHeader(0, 2, 1, nil)},
		{"malformed body", rawHeader(3, 1, 1, []byte{0, 0, 0, 5, 0})},
		{"bad client id length", append(binary.BigEndian.AppendUint32(nil, 10), 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xf0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := srv.Stats().ProtocolErrors
			c := rawDial(t, addr)
			rawWrite(t, c, tc.send)
			expectClosed(t, c)
			waitStat(t, srv, func(s Stats) bool { return s.ProtocolErrors > before })
		})
	}
}

func TestCoreTruncatedFrame(t *testing.T) {
	srv, _, addr := startCore(t, Config{})
	c := rawDial(t, addr)
	rawWrite(t, c, append(binary.BigEndian.AppendUint32(nil, 100), make([]byte, 10)...))
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, c)
	waitStat(t, srv, func(s Stats) bool { return s.ProtocolErrors == 1 })
}

func TestCoreApiVersions(t *testing.T) {
	_, _, addr := startCore(t, Config{})
	c := rawDial(t, addr)

	// An unsupported version is answered with UNSUPPORTED_VERSION and the list in a v0
	// body, whatever the body holds, and the connection stays usable.
	rawWrite(t, c, rawHeader(18, 99, 42, []byte{1, 2, 3}))
	corr, b := readRawFrame(t, c)
	if corr != 42 {
		t.Fatalf("correlation id %d", corr)
	}
	v0 := kmsg.NewPtrApiVersionsResponse()
	v0.Version = 0
	if err := v0.ReadFrom(b); err != nil {
		t.Fatal(err)
	}
	if v0.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Fatalf("error code %d, want 35", v0.ErrorCode)
	}
	checkKeys := func(keys []kmsg.ApiVersionsResponseApiKey) {
		t.Helper()
		got := map[int16][2]int16{}
		for _, k := range keys {
			got[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
		}
		for key, want := range map[int16][2]int16{0: {3, 11}, 1: {4, 16}, 2: {0, 8}, 3: {0, 12}, 18: {0, 4}, 22: {0, 4}} {
			if got[key] != want {
				t.Fatalf("key %d: versions %v, want %v", key, got[key], want)
			}
		}
		if len(keys) != len(apis) {
			t.Fatalf("%d keys listed, %d registered", len(keys), len(apis))
		}
	}
	checkKeys(v0.ApiKeys)

	for v := int16(0); v <= 4; v++ {
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = v
		req.ClientSoftwareName, req.ClientSoftwareVersion = "core-test", "1.0"
		resp := roundTrip[*kmsg.ApiVersionsResponse](t, c, req)
		if resp.ErrorCode != 0 {
			t.Fatalf("v%d: error %d", v, resp.ErrorCode)
		}
		checkKeys(resp.ApiKeys)
	}
}

func TestCorePipelinedInOrder(t *testing.T) {
	_, f, addr := startCore(t, Config{})
	f.createTopic("pipe", 2)
	c := rawDial(t, addr)
	var reqs []kmsg.Request
	var buf []byte
	for i := range 10 {
		var req kmsg.Request
		switch i % 3 {
		case 0:
			m := kmsg.NewPtrMetadataRequest()
			m.Version = 1
			req = m
		case 1:
			m := kmsg.NewPtrMetadataRequest()
			m.Version = 12
			name := "pipe"
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = &name
			m.Topics = append(m.Topics, rt)
			req = m
		default:
			a := kmsg.NewPtrApiVersionsRequest()
			a.Version = 3
			a.ClientSoftwareName, a.ClientSoftwareVersion = "core-test", "1.0"
			req = a
		}
		reqs = append(reqs, req)
		buf = append(buf, encodeRequest(req, int32(100+i))...)
	}
	rawWrite(t, c, buf)
	for i, req := range reqs {
		resp := readResponse(t, c, req, int32(100+i))
		if m, ok := resp.(*kmsg.MetadataResponse); ok && req.GetVersion() == 12 {
			if len(m.Topics) != 1 || len(m.Topics[0].Partitions) != 2 {
				t.Fatalf("metadata %d: %+v", i, m.Topics)
			}
		}
	}
}

func TestCoreHandlerPanicClosesOnlyItsConnection(t *testing.T) {
	srv, _, addr := startCore(t, Config{})
	good := rawDial(t, addr)
	bad := rawDial(t, addr)
	api := kmsg.NewPtrApiVersionsRequest()
	roundTrip[*kmsg.ApiVersionsResponse](t, good, api)

	m := kmsg.NewPtrMetadataRequest()
	m.Version = 7
	name := "boom"
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = &name
	m.Topics = append(m.Topics, rt)
	rawWrite(t, bad, encodeRequest(m, 1))
	expectClosed(t, bad)

	roundTrip[*kmsg.ApiVersionsResponse](t, good, api)
	st := srv.Stats()
	if st.Panics != 1 || st.HandlerErrors[3] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCoreProduceAcksZeroNoResponse(t *testing.T) {
	_, f, addr := startCore(t, Config{})
	f.createTopic("z", 1)
	c := rawDial(t, addr)
	p := kmsg.NewPtrProduceRequest()
	p.Version, p.Acks, p.TimeoutMillis = 7, 0, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "z"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = makeBatch("a", "b")
	rt.Partitions = append(rt.Partitions, rp)
	p.Topics = append(p.Topics, rt)
	api := kmsg.NewPtrApiVersionsRequest()
	rawWrite(t, c, append(encodeRequest(p, 1), encodeRequest(api, 2)...))
	readResponse(t, c, api, 2) // the produce got no response
	f.mu.Lock()
	hw := f.topics["z"].parts[0].hw
	f.mu.Unlock()
	if hw != 2 {
		t.Fatalf("high watermark %d after acks=0 produce, want 2", hw)
	}
}

func TestCoreProduceErrors(t *testing.T) {
	_, f, addr := startCore(t, Config{})
	f.createTopic("e", 2)
	c := rawDial(t, addr)
	produce := func(version, acks int16, txn *string, topic string) *kmsg.ProduceResponse {
		p := kmsg.NewPtrProduceRequest()
		p.Version, p.Acks, p.TimeoutMillis, p.TransactionID = version, acks, 5000, txn
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = topic
		for i := range int32(2) {
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Partition, rp.Records = i, makeBatch("x")
			rt.Partitions = append(rt.Partitions, rp)
		}
		p.Topics = append(p.Topics, rt)
		return roundTrip[*kmsg.ProduceResponse](t, c, p)
	}
	check := func(resp *kmsg.ProduceResponse, code int16, withMsg bool) {
		t.Helper()
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 2 {
			t.Fatalf("response %+v", resp.Topics)
		}
		for i, p := range resp.Topics[0].Partitions {
			if p.Partition != int32(i) || p.ErrorCode != code || (p.ErrorMessage != nil) != withMsg {
				t.Fatalf("partition %+v, want code %d", p, code)
			}
			if code != 0 && p.BaseOffset != -1 {
				t.Fatalf("base offset %d on error", p.BaseOffset)
			}
		}
	}
	check(produce(11, 2, nil, "e"), kerr.InvalidRequiredAcks.Code, true)
	txn := "tx"
	check(produce(8, -1, &txn, "e"), kerr.TransactionalIDAuthorizationFailed.Code, true)
	check(produce(8, -1, nil, "missing"), kerr.UnknownTopicOrPartition.Code, true)
	check(produce(7, -1, nil, "missing"), kerr.UnknownTopicOrPartition.Code, false)
	ok := produce(9, 1, nil, "e")
	check(ok, 0, false)
	if ok.Topics[0].Partitions[1].LogAppendTime != -1 {
		t.Fatalf("log append time %d", ok.Topics[0].Partitions[1].LogAppendTime)
	}
}

func TestCoreMetadataVersions(t *testing.T) {
	_, f, addr := startCore(t, Config{})
	f.createTopic("a", 1)
	f.createTopic("b", 3)
	c := rawDial(t, addr)
	md := func(version int16, names []string, null, allowAuto bool) *kmsg.MetadataResponse {
		m := kmsg.NewPtrMetadataRequest()
		m.Version, m.AllowAutoTopicCreation = version, allowAuto
		if !null {
			m.Topics = []kmsg.MetadataRequestTopic{}
		}
		for _, n := range names {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = &n
			m.Topics = append(m.Topics, rt)
		}
		return roundTrip[*kmsg.MetadataResponse](t, c, m)
	}
	if r := md(0, nil, false, false); len(r.Topics) != 2 {
		t.Fatalf("v0 empty list: %d topics, want all 2", len(r.Topics))
	}
	if r := md(1, nil, false, false); len(r.Topics) != 0 {
		t.Fatalf("v1 empty list: %d topics, want none", len(r.Topics))
	}
	if r := md(1, nil, true, false); len(r.Topics) != 2 {
		t.Fatalf("v1 null list: %d topics, want 2", len(r.Topics))
	}
	r := md(4, []string{"new4", "b", "b"}, false, false)
	if len(r.Topics) != 2 || r.Topics[0].ErrorCode != kerr.UnknownTopicOrPartition.Code || len(r.Topics[1].Partitions) != 3 {
		t.Fatalf("v4 without auto-create: %+v", r.Topics)
	}
	if r := md(3, []string{"new3"}, false, false); len(r.Topics) != 1 || r.Topics[0].ErrorCode != 0 {
		t.Fatalf("v3 auto-create: %+v", r.Topics)
	}
	r = md(12, []string{"b"}, false, false)
	tp := r.Topics[0]
	if tp.TopicID == [16]byte{} || tp.AuthorizedOperations != -2147483648 || *r.ClusterID != "fake-cluster" || r.ControllerID != 1 {
		t.Fatalf("v12: %+v", r)
	}
	if p := tp.Partitions[2]; p.Partition != 2 || p.Leader != 1 || len(p.ISR) != 1 {
		t.Fatalf("partition %+v", p)
	}

	// v10+: by topic id.
	m := kmsg.NewPtrMetadataRequest()
	m.Version = 12
	for _, id := range [][16]byte{tp.TopicID, {1, 2, 3}} {
		rt := kmsg.NewMetadataRequestTopic()
		rt.TopicID = id
		m.Topics = append(m.Topics, rt)
	}
	r = roundTrip[*kmsg.MetadataResponse](t, c, m)
	if len(r.Topics) != 2 {
		t.Fatalf("by id: %+v", r.Topics)
	}
	for _, rt := range r.Topics {
		switch rt.TopicID {
		case tp.TopicID:
			if rt.ErrorCode != 0 || *rt.Topic != "b" {
				t.Fatalf("by id: %+v", rt)
			}
		default:
			if rt.ErrorCode != kerr.UnknownTopicID.Code {
				t.Fatalf("unknown id: %+v", rt)
			}
		}
	}
}

func TestCoreListOffsetsAndInitProducerIDRaw(t *testing.T) {
	_, f, addr := startCore(t, Config{})
	f.createTopic("l", 1)
	if _, err := f.append("l", 0, makeBatch("a", "b", "c")); err != nil {
		t.Fatal(err)
	}
	c := rawDial(t, addr)
	for _, v := range []int16{0, 1, 4, 8} {
		req := kmsg.NewPtrListOffsetsRequest()
		req.Version = v
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "l"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp, rp.MaxNumOffsets = -1, 1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := roundTrip[*kmsg.ListOffsetsResponse](t, c, req)
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 || (v == 0 && (len(p.OldStyleOffsets) != 1 || p.OldStyleOffsets[0] != 3)) || (v > 0 && p.Offset != 3) {
			t.Fatalf("v%d: %+v", v, p)
		}
	}
	for _, v := range []int16{0, 4} {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.Version = v
		resp := roundTrip[*kmsg.InitProducerIDResponse](t, c, req)
		if resp.ErrorCode != 0 || resp.ProducerID <= 0 {
			t.Fatalf("v%d: %+v", v, resp)
		}
	}
}

func TestCoreServeShutdownWithParkedFetch(t *testing.T) {
	f := newCoreFake()
	f.createTopic("p", 1)
	srv := NewServer(Config{Addr: "127.0.0.1:0"}, f, coreLogger())
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()

	c := rawDial(t, srv.Addr().String())
	req := fetchReq(11, "p", [16]byte{}, map[int32]int64{0: 0})
	req.MinBytes, req.MaxWaitMillis = 1, 600_000
	rawWrite(t, c, encodeRequest(req, 1))
	if !f.waitFor(testCtx(t), func() bool { return f.subscribers == 1 }) {
		t.Fatal("fetch not parked")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(coreTestTimeout):
		t.Fatal("Serve did not return")
	}
	expectClosed(t, c)
	// The parked Fetch saw its context end with the server: a shutdown, not a failed
	// request (which would be counted and logged as one).
	if st := srv.Stats(); st.ConnectionsOpen != 0 || st.ConnectionsOpened != 1 || len(st.HandlerErrors) != 0 {
		t.Fatalf("stats %+v", st)
	}
	if f.subscribers != 0 {
		t.Fatal("subscription leaked")
	}
}

// Pipelined produces on one connection are appended in the order sent (idempotent
// producers rely on it), also while the in-flight byte bound makes the reader wait.
func TestCorePipelinedProducesKeepOrder(t *testing.T) {
	_, f, addr := startCore(t, Config{MaxRequestBytes: 4096})
	f.createTopic("order", 1)
	c := rawDial(t, addr)
	const n = 30
	var buf []byte
	reqs := make([]kmsg.Request, n)
	for i := range n {
		p := kmsg.NewPtrProduceRequest()
		p.Version, p.Acks, p.TimeoutMillis = 9, -1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "order"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = makeBatch(string(make([]byte, 1000)), string(rune('a'+i%26)))
		rt.Partitions = append(rt.Partitions, rp)
		p.Topics = append(p.Topics, rt)
		reqs[i] = p
		buf = append(buf, encodeRequest(p, int32(i))...)
	}
	rawWrite(t, c, buf)
	for i, req := range reqs {
		resp := readResponse(t, c, req, int32(i)).(*kmsg.ProduceResponse)
		if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.BaseOffset != int64(2*i) {
			t.Fatalf("request %d: %+v", i, p)
		}
	}
}

// A Produce of parallelProduceBytes or more to several partitions queues them from one
// goroutine each; every partition is stored and answered, and the next pipelined
// request's writes come after them.
func TestCoreLargeMultiPartitionProduce(t *testing.T) {
	_, f, addr := startCore(t, Config{})
	const parts = 4
	f.createTopic("big", parts)
	c := rawDial(t, addr)
	value := string(bytes.Repeat([]byte("v"), parallelProduceBytes/parts))
	var reqs []*kmsg.ProduceRequest
	var buf []byte
	for i := range 2 {
		p := kmsg.NewPtrProduceRequest()
		p.Version, p.Acks, p.TimeoutMillis = 9, -1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "big"
		for part := range int32(parts) {
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Partition, rp.Records = part, makeBatch(value, fmt.Sprint(i))
			rt.Partitions = append(rt.Partitions, rp)
		}
		p.Topics = append(p.Topics, rt)
		reqs = append(reqs, p)
		buf = append(buf, encodeRequest(p, int32(i))...)
	}
	if len(buf)/2 < parallelProduceBytes {
		t.Fatalf("requests of %d bytes do not reach the parallel path", len(buf)/2)
	}
	rawWrite(t, c, buf)
	for i, req := range reqs {
		resp := readResponse(t, c, req, int32(i)).(*kmsg.ProduceResponse)
		for _, p := range resp.Topics[0].Partitions {
			if p.ErrorCode != 0 || p.BaseOffset != int64(2*i) {
				t.Fatalf("request %d partition %d: %+v", i, p.Partition, p)
			}
		}
	}
}

// A peer that half-closes after its requests still gets their responses.
func TestCoreHalfCloseDrainsResponses(t *testing.T) {
	_, _, addr := startCore(t, Config{})
	c := rawDial(t, addr)
	api := kmsg.NewPtrApiVersionsRequest()
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 4
	rawWrite(t, c, append(encodeRequest(api, 1), encodeRequest(md, 2)...))
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	readResponse(t, c, api, 1)
	readResponse(t, c, md, 2)
	expectClosed(t, c)
}
