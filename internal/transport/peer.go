package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chronik-stream/chronik/internal/replication"
)

// raftQueue bounds the raft message batches waiting for one peer's stream.
const raftQueue = 4096

// pingEvery is how often an idle stream carries a ping, so peers can tell liveness.
const pingEvery = 500 * time.Millisecond

// ErrPeerDown: the call could not be sent or its stream broke before the response.
var ErrPeerDown = errors.New("peer unreachable")

// peer is the outbound stream to one node: a dialer with backoff, one writer that
// coalesces queued raft batches into frames, and a reader for call responses.
type peer struct {
	t    *Transport
	id   uint64
	addr string

	raftq chan []replication.Message
	callq chan []byte

	lastHeard atomic.Int64

	mu     sync.Mutex
	conn   net.Conn
	calls  map[uint64]chan callResult
	nextID uint64
}

type callResult struct {
	payload []byte
	err     error
}

func newPeer(t *Transport, id uint64, addr string) *peer {
	return &peer{t: t, id: id, addr: addr, raftq: make(chan []replication.Message, raftQueue),
		callq: make(chan []byte, 256), calls: map[uint64]chan callResult{}}
}

func (p *peer) enqueueRaft(msgs []replication.Message) {
	select {
	case p.raftq <- msgs:
	default: // stream backed up or down: raft retransmits
	}
}

// run keeps a stream to the peer open until the transport closes.
func (p *peer) run() {
	backoff := 50 * time.Millisecond
	for !p.t.closed.Load() {
		c, err := p.dial()
		if err != nil {
			p.t.cfg.Logger.Debug("dial peer", "peer", p.id, "addr", p.addr, "err", err)
			select {
			case <-p.t.stop:
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		p.serve(c)
	}
}

// dial connects and exchanges hellos.
func (p *peer) dial() (net.Conn, error) {
	c, err := net.DialTimeout("tcp", p.addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(appendHello(nil, p.t.cfg.NodeID, p.t.cfg.Voters)); err != nil {
		c.Close()
		return nil, err
	}
	r := bufio.NewReader(c)
	typ, body, err := readFrame(r, nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	if typ != frameHelloAck || len(body) < 9 {
		c.Close()
		return nil, fmt.Errorf("%w: bad hello answer", ErrProtocol)
	}
	if body[8] != 0 {
		err := fmt.Errorf("node %d refused this node: %s", p.id, body[9:])
		p.t.setMismatch(err)
		c.Close()
		return nil, err
	}
	_ = c.SetDeadline(time.Time{})
	return &bufferedConn{Conn: c, r: r}, nil
}

// bufferedConn keeps bytes the hello reader already buffered.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// serve writes queued frames and reads call responses until the stream breaks.
func (p *peer) serve(c net.Conn) {
	p.mu.Lock()
	p.conn = c
	p.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.readResponses(c)
	}()
	p.writeLoop(c, done)
	c.Close()
	<-done
	p.mu.Lock()
	p.conn = nil
	for id, ch := range p.calls {
		ch <- callResult{err: ErrPeerDown}
		delete(p.calls, id)
	}
	p.mu.Unlock()
}

func (p *peer) writeLoop(c net.Conn, readerDone chan struct{}) {
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	var buf []byte
	for {
		buf = buf[:0]
		select {
		case <-p.t.stop:
			return
		case <-readerDone:
			return
		case <-ping.C:
			b, start := appendFrameHeader(buf, framePing)
			finishFrame(b, start)
			buf = b
		case msgs := <-p.raftq:
			buf = p.appendRaftBatch(buf, msgs)
		case call := <-p.callq:
			buf = append(buf, call...)
		}
		// Coalesce whatever else is queued into the same write.
	drain:
		for len(buf) < 4<<20 {
			select {
			case msgs := <-p.raftq:
				buf = p.appendRaftBatch(buf, msgs)
			case call := <-p.callq:
				buf = append(buf, call...)
			default:
				break drain
			}
		}
		if len(buf) == 0 {
			continue
		}
		if _, err := c.Write(buf); err != nil {
			return
		}
	}
}

func (p *peer) appendRaftBatch(buf []byte, msgs []replication.Message) []byte {
	out, err := appendRaft(buf, msgs)
	if err != nil {
		p.t.cfg.Logger.Error("encode raft messages", "peer", p.id, "err", err)
	}
	return out
}

func (p *peer) readResponses(c net.Conn) {
	r := bufio.NewReaderSize(c, 64<<10)
	for {
		typ, body, err := readFrame(r, nil)
		if err != nil {
			return
		}
		p.lastHeard.Store(time.Now().UnixNano())
		if typ != frameResponse {
			continue
		}
		id, status, payload, err := decodeCall(body)
		if err != nil {
			return
		}
		p.mu.Lock()
		ch := p.calls[id]
		delete(p.calls, id)
		p.mu.Unlock()
		if ch == nil {
			continue
		}
		if status == 0 {
			ch <- callResult{payload: payload}
		} else {
			ch <- callResult{err: errors.New(string(payload))}
		}
	}
}

func (p *peer) call(ctx context.Context, method byte, req []byte) ([]byte, error) {
	p.mu.Lock()
	if p.conn == nil {
		p.mu.Unlock()
		return nil, ErrPeerDown
	}
	p.nextID++
	id := p.nextID
	ch := make(chan callResult, 1)
	p.calls[id] = ch
	p.mu.Unlock()
	forget := func() {
		p.mu.Lock()
		delete(p.calls, id)
		p.mu.Unlock()
	}
	select {
	case p.callq <- appendSimple(nil, frameRequest, id, method, req):
	case <-ctx.Done():
		forget()
		return nil, ctx.Err()
	}
	select {
	case r := <-ch:
		return r.payload, r.err
	case <-ctx.Done():
		forget()
		return nil, ctx.Err()
	}
}

func (p *peer) closeConn() {
	p.mu.Lock()
	if p.conn != nil {
		p.conn.Close()
	}
	p.mu.Unlock()
}
