package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chronik-stream/chronik/internal/replication"
)

// Handler serves a node-to-node call: method and request in, response out.
type Handler func(ctx context.Context, from uint64, method byte, req []byte) ([]byte, error)

// Config configures a Transport.
type Config struct {
	NodeID uint64
	// ListenAddr is the address peers dial (the node's raft address).
	ListenAddr string
	// Peers maps every other node id to its raft address.
	Peers map[uint64]string
	// Voters is the cluster membership this node was configured with; a peer configured
	// with a different one is refused.
	Voters []uint64
	// Raft receives raft messages; Calls serves calls. Both may be set after New, before Start.
	Raft   func(from uint64, msgs []replication.Message)
	Calls  Handler
	Logger *slog.Logger
}

// Transport is the node's end of every node-to-node stream.
type Transport struct {
	cfg   Config
	ln    net.Listener
	peers map[uint64]*peer
	stop  chan struct{}
	wg    sync.WaitGroup

	mu       sync.Mutex
	inbound  map[net.Conn]bool
	mismatch error // a peer refused us or we refused it for a different peer list
	closed   atomic.Bool
}

// New creates a transport; Start listens and dials.
func New(cfg Config) *Transport {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	t := &Transport{cfg: cfg, peers: map[uint64]*peer{}, stop: make(chan struct{}), inbound: map[net.Conn]bool{}}
	for id, addr := range cfg.Peers {
		t.peers[id] = newPeer(t, id, addr)
	}
	return t
}

// SetHandlers installs the receivers of raft messages and calls (before Start).
func (t *Transport) SetHandlers(raft func(uint64, []replication.Message), calls Handler) {
	t.cfg.Raft, t.cfg.Calls = raft, calls
}

// Start listens on the raft address and starts dialing every peer.
func (t *Transport) Start() error {
	ln, err := net.Listen("tcp", t.cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("raft listener on %s: %w", t.cfg.ListenAddr, err)
	}
	t.ln = ln
	t.wg.Add(1)
	go func() { defer t.wg.Done(); t.acceptLoop() }()
	for _, p := range t.peers {
		t.wg.Add(1)
		go func() { defer t.wg.Done(); p.run() }()
	}
	return nil
}

// Addr is the bound listen address.
func (t *Transport) Addr() net.Addr { return t.ln.Addr() }

// Close stops everything and closes every connection.
func (t *Transport) Close() {
	if t.closed.Swap(true) {
		return
	}
	close(t.stop)
	if t.ln != nil {
		t.ln.Close()
	}
	t.mu.Lock()
	for c := range t.inbound {
		c.Close()
	}
	t.mu.Unlock()
	for _, p := range t.peers {
		p.closeConn()
	}
	t.wg.Wait()
}

// Send implements replication.Transport: it queues messages for the peer's writer and
// drops them when the queue is full or the node is unknown (raft retries).
func (t *Transport) Send(to uint64, msgs []replication.Message) {
	if p := t.peers[to]; p != nil {
		p.enqueueRaft(msgs)
	}
}

// Call sends a request to a peer and waits for its response.
func (t *Transport) Call(ctx context.Context, to uint64, method byte, req []byte) ([]byte, error) {
	p := t.peers[to]
	if p == nil {
		return nil, fmt.Errorf("unknown node %d", to)
	}
	return p.call(ctx, method, req)
}

// Live reports whether a frame arrived from the peer within the last window.
func (t *Transport) Live(id uint64, window time.Duration) bool {
	p := t.peers[id]
	if p == nil {
		return false
	}
	last := p.lastHeard.Load()
	return last != 0 && time.Since(time.Unix(0, last)) < window
}

// MembershipError returns the error of a peer whose configured peer list differs from
// ours, if one was seen.
func (t *Transport) MembershipError() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mismatch
}

func (t *Transport) setMismatch(err error) {
	t.mu.Lock()
	first := t.mismatch == nil
	if first {
		t.mismatch = err
	}
	t.mu.Unlock()
	if first {
		t.cfg.Logger.Error("cluster membership mismatch", "err", err)
	}
}

func (t *Transport) acceptLoop() {
	for {
		c, err := t.ln.Accept()
		if err != nil {
			return
		}
		t.mu.Lock()
		if t.closed.Load() {
			t.mu.Unlock()
			c.Close()
			return
		}
		t.inbound[c] = true
		t.mu.Unlock()
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			defer func() {
				t.mu.Lock()
				delete(t.inbound, c)
				t.mu.Unlock()
				c.Close()
			}()
			if err := t.serveInbound(c); err != nil && !t.closed.Load() && !errors.Is(err, net.ErrClosed) {
				t.cfg.Logger.Debug("inbound raft stream ended", "remote", c.RemoteAddr(), "err", err)
			}
		}()
	}
}

// serveInbound reads a peer's stream: a hello first, then raft frames, pings and
// calls. Responses to calls go back on the same connection.
func (t *Transport) serveInbound(c net.Conn) error {
	r := bufio.NewReaderSize(c, 1<<20)
	typ, body, err := readFrame(r, nil)
	if err != nil {
		return err
	}
	if typ != frameHello {
		return fmt.Errorf("%w: expected hello, got frame type %d", ErrProtocol, typ)
	}
	from, voters, err := decodeHello(body)
	if err != nil {
		return err
	}
	p := t.peers[from]
	switch {
	case p == nil:
		err = fmt.Errorf("node %d is not in this node's peer list", from)
	case !slices.Equal(voters, t.cfg.Voters):
		err = fmt.Errorf("node %d is configured with cluster nodes %v, this node with %v", from, voters, t.cfg.Voters)
	}
	if err != nil {
		t.setMismatch(err)
		_, _ = c.Write(appendSimple(nil, frameHelloAck, 0, 1, []byte(err.Error())))
		return err
	}
	var wmu sync.Mutex
	if _, err := c.Write(appendSimple(nil, frameHelloAck, 0, 0, nil)); err != nil {
		return err
	}
	var buf []byte
	for {
		typ, body, err := readFrame(r, buf)
		if err != nil {
			return err
		}
		buf = body[:0]
		p.lastHeard.Store(time.Now().UnixNano())
		switch typ {
		case frameRaft:
			msgs, err := decodeRaft(body)
			if err != nil {
				return err
			}
			if t.cfg.Raft != nil {
				t.cfg.Raft(from, msgs)
			}
		case framePing:
		case frameRequest:
			id, method, payload, err := decodeCall(body)
			if err != nil {
				return err
			}
			req := append([]byte(nil), payload...)
			go t.serveCall(c, &wmu, from, id, method, req)
		default:
			return fmt.Errorf("%w: unexpected frame type %d", ErrProtocol, typ)
		}
	}
}

func (t *Transport) serveCall(c net.Conn, wmu *sync.Mutex, from, id uint64, method byte, req []byte) {
	var resp []byte
	var err error
	if t.cfg.Calls == nil {
		err = errors.New("calls not served")
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		resp, err = t.cfg.Calls(ctx, from, method, req)
		cancel()
	}
	var frame []byte
	if err != nil {
		frame = appendSimple(nil, frameResponse, id, 1, []byte(err.Error()))
	} else {
		frame = appendSimple(nil, frameResponse, id, 0, resp)
	}
	wmu.Lock()
	_, _ = c.Write(frame)
	wmu.Unlock()
}
