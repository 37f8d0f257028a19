package kafka

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A connection runs two goroutines: readLoop reads and decodes frames and starts one
// handler goroutine per request; writeLoop writes the responses strictly in request
// order. Each request takes a slot in an ordered queue; the writer waits for the slot at
// the head to be handled, writes its bytes (none for acks=0 Produce) and moves on,
// flushing its buffer whenever it would otherwise wait.
//
// Handlers run concurrently, but not all requests commute: Kafka handles one request of a
// connection at a time, and clients rely on that (an idempotent producer pipelines up to
// five Produce requests and expects them appended in order). So only the read-only
// requests listed in concurrentKeys run alongside each other; every other request waits
// for all requests before it on the connection to be handled, and every request waits for
// the serial requests before it. Pipelined Fetch/Metadata/ApiVersions thus overlap, while
// Produce keeps Kafka's ordering.
//
// Malformed input (bad frame size, truncated frame, unknown key, unsupported version
// except ApiVersions', undecodable body), a handler error and a handler panic each close
// the connection with one log line.

// maxInFlight bounds the requests of one connection being handled or waiting to be
// written; the reader stops reading while the bound is reached. The request bytes in
// flight are bounded too, by Config.MaxRequestBytes (one request alone always passes).
const maxInFlight = 64

// concurrentKeys are the API keys whose handling has no effect that a later request on
// the same connection could observe, so they may run concurrently with each other.
var concurrentKeys = map[int16]bool{
	1:  true, // Fetch
	2:  true, // ListOffsets
	3:  true, // Metadata (auto-creation is idempotent)
	9:  true, // OffsetFetch
	10: true, // FindCoordinator
	15: true, // DescribeGroups
	16: true, // ListGroups
	18: true, // ApiVersions
	32: true, // DescribeConfigs
	35: true, // DescribeLogDirs
	60: true, // DescribeCluster
}

// conn is one client connection.
type conn struct {
	s      *Server
	nc     net.Conn
	remote string

	ctx    context.Context // cancelled when the connection closes
	cancel context.CancelFunc

	closing   chan struct{}
	closeOnce sync.Once

	queue chan *slot    // handled-or-pending requests in arrival order
	sem   chan struct{} // in-flight bound: taken by the reader, released by the writer

	// Request bytes in flight, taken by the reader and released by the writer.
	bytesMu     sync.Mutex
	bytesFreed  *sync.Cond
	bytesInUse  int
	bytesClosed bool

	// Ordering state, used by readLoop only.
	lastSerial *slot   // the latest non-concurrent request
	sinceLast  []*slot // concurrent requests started after lastSerial
}

// slot is one request's place in the response order.
type slot struct {
	handled chan struct{} // closed once out/failed are final
	// ordered is closed once the request's effects have their place in order (a Produce
	// whose writes are queued on their partitions), at the latest when handled. The next
	// serial request waits only for this, so pipelined Produce requests overlap their
	// replication while their appends keep the connection's order.
	ordered     chan struct{}
	orderedOnce sync.Once
	size        int       // bytes accounted to the connection: frameFootprint of the request
	key         int16     // the request's API key, -1 for answers made by the reader
	start       time.Time // when the request's frame was read
	out         []byte    // framed response; nil means nothing to write
	failed      bool      // the connection must be closed instead of answering
}

func newConn(s *Server, nc net.Conn) *conn {
	ctx, cancel := context.WithCancel(s.base)
	c := &conn{
		s:       s,
		nc:      nc,
		remote:  nc.RemoteAddr().String(),
		ctx:     ctx,
		cancel:  cancel,
		closing: make(chan struct{}),
		queue:   make(chan *slot, maxInFlight),
		sem:     make(chan struct{}, maxInFlight),
	}
	c.bytesFreed = sync.NewCond(&c.bytesMu)
	return c
}

// takeBytes accounts n request bytes, waiting while others are in flight and the total
// would exceed MaxRequestBytes. It reports false when the connection closes.
func (c *conn) takeBytes(n int) bool {
	c.bytesMu.Lock()
	defer c.bytesMu.Unlock()
	for c.bytesInUse > 0 && c.bytesInUse+n > int(c.s.cfg.MaxRequestBytes) && !c.bytesClosed {
		c.bytesFreed.Wait()
	}
	if c.bytesClosed {
		return false
	}
	c.bytesInUse += n
	return true
}

// releaseBytes returns bytes taken by takeBytes.
func (c *conn) releaseBytes(n int) {
	c.bytesMu.Lock()
	c.bytesInUse -= n
	c.bytesMu.Unlock()
	c.bytesFreed.Broadcast()
}

// close closes the connection once: handlers see their ctx cancelled, both loops stop.
func (c *conn) close() {
	c.closeOnce.Do(func() {
		close(c.closing)
		c.cancel()
		c.bytesMu.Lock()
		c.bytesClosed = true
		c.bytesMu.Unlock()
		c.bytesFreed.Broadcast()
		_ = c.nc.Close()
		c.s.forget(c)
	})
}

// protocolError logs why the connection is closed for bad input and counts it.
func (c *conn) protocolError(msg string, args ...any) {
	c.s.stats.protocolErrors.Add(1)
	c.s.log.Warn(msg, append([]any{"remote", c.remote}, args...)...)
}

// readLoop reads requests until the connection fails or is closed.
//
// When the peer ends its side cleanly between frames (io.EOF), the responses already
// queued are still written before the connection closes.
func (c *conn) readLoop() {
	drain := false
	defer func() {
		if !drain {
			c.close()
		}
	}()
	br := bufio.NewReaderSize(c.nc, 64<<10)
	for {
		frame, err := readFrame(br, c.s.cfg.MaxRequestBytes)
		read := time.Now()
		if err != nil {
			var fse *frameSizeError
			switch {
			case errors.As(err, &fse):
				c.protocolError("kafka: closing connection: invalid request size", "size", fse.size, "limit", fse.limit)
			case errors.Is(err, io.ErrUnexpectedEOF):
				c.protocolError("kafka: closing connection: truncated request frame")
			case errors.Is(err, io.EOF):
				// The writer closes the connection once it reaches this last slot.
				drain = c.enqueue(&slot{failed: true})
			default:
				select {
				case <-c.closing:
				default:
					c.s.log.Debug("kafka: connection closed", "remote", c.remote, "err", err)
				}
			}
			return
		}

		req, err := decodeRequest(frame)
		if err != nil {
			var de *decodeError
			if errors.As(err, &de) && de.kind == errUnsupportedVersion && de.hdr.key == 18 {
				// Kafka answers an ApiVersions version it does not know with a v0 body
				// carrying UNSUPPORTED_VERSION and its ranges, so the client can retry.
				c.s.stats.request(18)
				if !c.enqueue(&slot{out: appendResponse(nil, de.hdr.corr, unsupportedApiVersionsResponse())}) {
					return
				}
				continue
			}
			c.protocolError("kafka: closing connection: "+err.Error(), requestLogAttrs(de)...)
			return
		}
		c.s.stats.request(req.Key)

		select {
		case c.sem <- struct{}{}:
		case <-c.closing:
			return
		}
		size := frameFootprint(frame)
		if !c.takeBytes(size) {
			return
		}
		sl := &slot{handled: make(chan struct{}), ordered: make(chan struct{}), size: size, key: req.Key, start: read}
		req.markOrdered = sl.markOrdered
		req.ClientHost = clientHost(c.remote)
		if req.Key == 0 {
			req.frame = frame
		}
		deps := c.dependencies(req.Key, sl)
		c.queue <- sl // never blocks: the queue holds at most maxInFlight slots
		c.s.wg.Add(1)
		go c.handle(req, sl, deps)
	}
}

// requestLogAttrs returns log attributes describing the request of a decode error.
func requestLogAttrs(de *decodeError) []any {
	if de == nil || de.kind == errMalformedHeader {
		return nil
	}
	attrs := []any{"api_key", de.hdr.key, "api_version", de.hdr.version, "correlation_id", de.hdr.corr}
	if de.hdr.clientID != nil {
		attrs = append(attrs, "client_id", *de.hdr.clientID)
	}
	return attrs
}

// enqueue queues a slot whose outcome (out, failed) is already final. It reports false
// when the connection is closing.
func (c *conn) enqueue(sl *slot) bool {
	select {
	case c.sem <- struct{}{}:
	case <-c.closing:
		return false
	}
	sl.handled = make(chan struct{})
	sl.key = -1
	close(sl.handled)
	c.queue <- sl
	return true
}

// markOrdered closes the slot's ordered channel (once).
func (sl *slot) markOrdered() {
	sl.orderedOnce.Do(func() { close(sl.ordered) })
}

// dependencies returns what the request in sl must wait for before it is handled, and
// records sl in the ordering state. See the comment at the top of the file.
func (c *conn) dependencies(key int16, sl *slot) []chan struct{} {
	var deps []chan struct{}
	if concurrentKeys[key] {
		if c.lastSerial != nil {
			deps = append(deps, c.lastSerial.handled)
		}
		// Drop requests already handled, keeping the list short on a connection that
		// only ever sends concurrent requests.
		kept := c.sinceLast[:0]
		for _, p := range c.sinceLast {
			select {
			case <-p.handled:
			default:
				kept = append(kept, p)
			}
		}
		c.sinceLast = append(kept, sl)
		return deps
	}
	if c.lastSerial != nil {
		deps = append(deps, c.lastSerial.ordered)
	}
	for _, p := range c.sinceLast {
		deps = append(deps, p.handled)
	}
	c.lastSerial, c.sinceLast = sl, c.sinceLast[:0]
	return deps
}

// handle runs one request's handler and fills its slot. It never panics: a panicking
// handler closes the connection.
func (c *conn) handle(req *Request, sl *slot, deps []chan struct{}) {
	defer c.s.wg.Done()
	defer close(sl.handled)
	defer sl.markOrdered()
	defer func() {
		if r := recover(); r != nil {
			c.s.stats.panics.Add(1)
			c.s.stats.handlerError(req.Key)
			c.s.log.Error("kafka: closing connection: handler panicked",
				"remote", c.remote, "api_key", req.Key, "api_version", req.Version,
				"correlation_id", req.CorrelationID, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			sl.out, sl.failed = nil, true
			c.close()
		}
	}()
	for _, d := range deps {
		select {
		case <-d:
		case <-c.closing:
			sl.failed = true
			return
		}
	}

	resp, err := apis[req.Key].handle(c.ctx, c.s, req)
	releaseFrame(req.frame)
	req.frame = nil
	if err != nil {
		sl.failed = true
		if c.ctx.Err() != nil {
			// The connection is closing or the server stopping: the handler only saw its
			// ctx end.
			return
		}
		c.s.stats.handlerError(req.Key)
		c.s.log.Warn("kafka: closing connection: request failed",
			"remote", c.remote, "api_key", req.Key, "api_version", req.Version,
			"correlation_id", req.CorrelationID, "err", err)
		c.close()
		return
	}
	if resp == nil {
		return
	}
	resp.SetVersion(req.Version)
	sl.out = appendResponse(nil, req.CorrelationID, resp)
}

// writeLoop writes the responses in request order until the connection closes.
func (c *conn) writeLoop() {
	defer c.close()
	bw := bufio.NewWriterSize(c.nc, 64<<10)
	flush := func() bool {
		if bw.Buffered() == 0 {
			return true
		}
		if err := bw.Flush(); err != nil {
			c.s.log.Debug("kafka: write failed", "remote", c.remote, "err", err)
			return false
		}
		return true
	}
	for {
		var sl *slot
		select {
		case sl = <-c.queue:
		default:
			if !flush() {
				return
			}
			select {
			case sl = <-c.queue:
			case <-c.closing:
				return
			}
		}
		select {
		case <-sl.handled:
		default:
			if !flush() {
				return
			}
			select {
			case <-sl.handled:
			case <-c.closing:
				return
			}
		}
		if sl.failed {
			_ = bw.Flush() // answer what came before, then close
			return
		}
		if sl.out != nil {
			if _, err := bw.Write(sl.out); err != nil {
				c.s.log.Debug("kafka: write failed", "remote", c.remote, "err", err)
				return
			}
		}
		if sl.key >= 0 {
			c.s.stats.requestDone(sl.key, time.Since(sl.start))
		}
		c.releaseBytes(sl.size)
		<-c.sem
	}
}

// unsupportedApiVersionsResponse is the answer to an ApiVersions request at a version we
// do not serve: a v0 body with UNSUPPORTED_VERSION and every supported range.
func unsupportedApiVersionsResponse() kmsg.Response {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	resp.ApiKeys = apiVersionKeys()
	return resp
}

// clientHost renders a remote address the way Kafka reports client hosts ("/ip").
func clientHost(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	return "/" + host
}
