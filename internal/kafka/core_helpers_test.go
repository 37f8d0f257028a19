package kafka

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// coreTestTimeout bounds every wait of the protocol tests; reaching it is a failure,
// never a step of a passing test.
const coreTestTimeout = 30 * time.Second

// coreLogger is quiet unless CORE_TEST_LOG is set.
func coreLogger() *slog.Logger {
	if os.Getenv("CORE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// startCore serves a coreFake on 127.0.0.1:0; cleanup stops the server and checks that
// Serve returned cleanly.
func startCore(t *testing.T, cfg Config) (*Server, *coreFake, string) {
	t.Helper()
	f := newCoreFake()
	cfg.Addr = "127.0.0.1:0"
	srv := NewServer(cfg, f, coreLogger())
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	f.setAddr(srv.Addr())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(coreTestTimeout):
			t.Errorf("serve did not return after cancel")
		}
	})
	return srv, f, srv.Addr().String()
}

// coreClient returns a kgo client for addr, closed at cleanup.
func coreClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.RetryTimeout(10 * time.Second)}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// testCtx is a context bounded by coreTestTimeout.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), coreTestTimeout)
	t.Cleanup(cancel)
	return ctx
}

// consumeN polls cl until n records arrived.
func consumeN(t *testing.T, cl *kgo.Client, n int) []*kgo.Record {
	t.Helper()
	ctx := testCtx(t)
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records before timeout", len(out), n)
		}
		fs.EachError(func(topic string, p int32, err error) {
			t.Fatalf("fetch %s/%d: %v", topic, p, err)
		})
		out = append(out, fs.Records()...)
	}
	return out
}

// makeBatch builds an uncompressed v2 record batch of the values with a valid CRC.
func makeBatch(values ...string) []byte {
	var recs []byte
	for i, v := range values {
		var r []byte
		r = append(r, 0)                          // attributes
		r = binary.AppendVarint(r, 0)             // timestamp delta
		r = binary.AppendVarint(r, int64(i))      // offset delta
		r = binary.AppendVarint(r, -1)            // null key
		r = binary.AppendVarint(r, int64(len(v))) // value
		r = append(r, v...)
		r = binary.AppendVarint(r, 0) // no headers
		recs = binary.AppendVarint(recs, int64(len(r)))
		recs = append(recs, r...)
	}
	now := time.Now().UnixMilli()
	b := make([]byte, 0, 61+len(recs))
	b = binary.BigEndian.AppendUint64(b, 0)                       // base offset
	b = binary.BigEndian.AppendUint32(b, uint32(61-12+len(recs))) // length
	b = binary.BigEndian.AppendUint32(b, 0)                       // leader epoch
	b = append(b, 2)                                              // magic
	b = binary.BigEndian.AppendUint32(b, 0)                       // crc, below
	b = binary.BigEndian.AppendUint16(b, 0)                       // attributes
	b = binary.BigEndian.AppendUint32(b, uint32(len(values)-1))   // last offset delta
	b = binary.BigEndian.AppendUint64(b, uint64(now))             // first timestamp
	b = binary.BigEndian.AppendUint64(b, uint64(now))             // max timestamp
	b = binary.BigEndian.AppendUint64(b, ^uint64(0))              // producer id -1
	b = binary.BigEndian.AppendUint16(b, ^uint16(0))              // producer epoch -1
	b = binary.BigEndian.AppendUint32(b, ^uint32(0))              // base sequence -1
	b = binary.BigEndian.AppendUint32(b, uint32(len(values)))     // record count
	b = append(b, recs...)
	crc := crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli))
	binary.BigEndian.PutUint32(b[17:], crc)
	return b
}

// encodeRequest frames req (at its set version) with a v1/v2 request header.
func encodeRequest(req kmsg.Request, corr int32) []byte {
	b := []byte{0, 0, 0, 0}
	b = binary.BigEndian.AppendUint16(b, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, uint16(len("core-test")))
	b = append(b, "core-test"...)
	if req.IsFlexible() {
		b = append(b, 0)
	}
	b = req.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// rawDial connects to addr; reads and writes fail after coreTestTimeout.
func rawDial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(coreTestTimeout))
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// rawWrite writes bytes to c.
func rawWrite(t *testing.T, c net.Conn, b []byte) {
	t.Helper()
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
}

// readRawFrame reads one response frame and returns its correlation id and the rest.
func readRawFrame(t *testing.T, c net.Conn) (int32, []byte) {
	t.Helper()
	var sz [4]byte
	if _, err := io.ReadFull(c, sz[:]); err != nil {
		t.Fatalf("read response size: %v", err)
	}
	b := make([]byte, binary.BigEndian.Uint32(sz[:]))
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read response: %v", err)
	}
	return int32(binary.BigEndian.Uint32(b)), b[4:]
}

// readResponse reads the response to req, checks its correlation id and decodes it.
func readResponse(t *testing.T, c net.Conn, req kmsg.Request, corr int32) kmsg.Response {
	t.Helper()
	got, b := readRawFrame(t, c)
	if got != corr {
		t.Fatalf("correlation id %d, want %d", got, corr)
	}
	resp := req.ResponseKind()
	if resp.IsFlexible() && resp.Key() != 18 {
		if len(b) == 0 || b[0] != 0 {
			t.Fatalf("flexible response header without empty tag section: % x", b[:min(len(b), 8)])
		}
		b = b[1:]
	}
	if err := resp.ReadFrom(b); err != nil {
		t.Fatalf("decode %T: %v", resp, err)
	}
	return resp
}

// roundTrip sends req on c and returns the decoded response.
func roundTrip[R kmsg.Response](t *testing.T, c net.Conn, req kmsg.Request) R {
	t.Helper()
	rawWrite(t, c, encodeRequest(req, 7))
	return readResponse(t, c, req, 7).(R)
}

// expectClosed checks that the server closes c without sending anything more.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	var b [1]byte
	n, err := c.Read(b[:])
	if err == nil {
		t.Fatalf("read %d bytes, want the connection closed", n)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection not closed: %v", err)
	}
}

// waitStat waits until cond holds for the server's stats.
func waitStat(t *testing.T, s *Server, cond func(Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(coreTestTimeout)
	for !cond(s.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("stats condition not reached: %+v", s.Stats())
		}
		time.Sleep(time.Millisecond) // polling a counter, not timing behaviour
	}
}
