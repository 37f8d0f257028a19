package replication

import (
	"sync"
	"time"
)

// MemNetwork is an in-memory Transport for tests: every node registers its Host, and a
// test can cut, delay and heal links between nodes. Delivery is asynchronous and in order
// per link, like a stream.
type MemNetwork struct {
	mu    sync.Mutex
	hosts map[uint64]*Host
	cut   map[[2]uint64]bool
	delay map[[2]uint64]time.Duration
	links map[[2]uint64]chan []Message
	stop  chan struct{}
	wg    sync.WaitGroup
}

// NewMemNetwork returns an empty network.
func NewMemNetwork() *MemNetwork {
	return &MemNetwork{hosts: map[uint64]*Host{}, cut: map[[2]uint64]bool{}, delay: map[[2]uint64]time.Duration{},
		links: map[[2]uint64]chan []Message{}, stop: make(chan struct{})}
}

// Register attaches a node's host (replacing an earlier one after a restart).
func (n *MemNetwork) Register(id uint64, h *Host) {
	n.mu.Lock()
	n.hosts[id] = h
	n.mu.Unlock()
}

// Unregister detaches a node (it crashed); messages to it are dropped.
func (n *MemNetwork) Unregister(id uint64) {
	n.mu.Lock()
	delete(n.hosts, id)
	n.mu.Unlock()
}

// Transport returns the Transport node `from` sends with.
func (n *MemNetwork) Transport(from uint64) Transport { return memTransport{n: n, from: from} }

// Cut drops every message between a and b, both ways, until Heal.
func (n *MemNetwork) Cut(a, b uint64) {
	n.mu.Lock()
	n.cut[[2]uint64{a, b}], n.cut[[2]uint64{b, a}] = true, true
	n.mu.Unlock()
}

// Isolate cuts a node off from every other node in ids.
func (n *MemNetwork) Isolate(id uint64, ids ...uint64) {
	for _, o := range ids {
		if o != id {
			n.Cut(id, o)
		}
	}
}

// Heal restores every link.
func (n *MemNetwork) Heal() {
	n.mu.Lock()
	n.cut = map[[2]uint64]bool{}
	n.mu.Unlock()
}

// Delay delays messages from a to b by d.
func (n *MemNetwork) Delay(a, b uint64, d time.Duration) {
	n.mu.Lock()
	n.delay[[2]uint64{a, b}] = d
	n.mu.Unlock()
}

// Close stops delivery.
func (n *MemNetwork) Close() {
	close(n.stop)
	n.wg.Wait()
}

type memTransport struct {
	n    *MemNetwork
	from uint64
}

func (t memTransport) Send(to uint64, msgs []Message) {
	n := t.n
	key := [2]uint64{t.from, to}
	n.mu.Lock()
	if n.cut[key] {
		n.mu.Unlock()
		return
	}
	ch := n.links[key]
	if ch == nil {
		ch = make(chan []Message, 1024)
		n.links[key] = ch
		n.wg.Add(1)
		go n.deliver(key, ch)
	}
	n.mu.Unlock()
	select {
	case ch <- msgs:
	default: // link congested: drop, raft retries
	}
}

func (n *MemNetwork) deliver(key [2]uint64, ch chan []Message) {
	defer n.wg.Done()
	for {
		select {
		case <-n.stop:
			return
		case msgs := <-ch:
			n.mu.Lock()
			d, cut, h := n.delay[key], n.cut[key], n.hosts[key[1]]
			n.mu.Unlock()
			if d > 0 {
				time.Sleep(d) // simulated link latency, not a test wait
			}
			if !cut && h != nil {
				h.Handle(key[0], msgs)
			}
		}
	}
}

// Live returns a liveness function for node `from`: a peer is live while registered and
// not cut off from `from`.
func (n *MemNetwork) Live(from uint64) func(uint64) bool {
	return func(to uint64) bool {
		n.mu.Lock()
		defer n.mu.Unlock()
		_, up := n.hosts[to]
		return up && !n.cut[[2]uint64{from, to}]
	}
}
