package kafka

import (
	"sync/atomic"
	"time"
)

// maxStatsKey bounds the API keys counted individually; higher keys (none is registered
// today) are not counted per key.
const maxStatsKey = 128

// serverStats are plain atomic counters; Stats copies them.
type serverStats struct {
	requests       [maxStatsKey]atomic.Uint64
	handlerErrors  [maxStatsKey]atomic.Uint64
	durations      [maxStatsKey]durationHist
	protocolErrors atomic.Uint64
	panics         atomic.Uint64
	connsOpened    atomic.Uint64
	connsClosed    atomic.Uint64
}

// Stats is a snapshot of the server's counters, meant to be exported as Prometheus
// counters (and ConnectionsOpen as a gauge).
type Stats struct {
	// Requests counts decoded requests per API key.
	Requests map[int16]uint64
	// HandlerErrors counts per API key the requests whose handler failed (returned an
	// error or panicked), each of which closed its connection.
	HandlerErrors map[int16]uint64
	// RequestDurations holds per API key how long requests took from the moment their
	// frame was read to the moment their response was handed to the connection's writer
	// (for acks=0 Produce, which has no response: until it was handled). Requests that
	// closed their connection are not counted.
	RequestDurations map[int16]DurationHistogram
	// ProtocolErrors counts connections closed for malformed input: bad frame sizes,
	// truncated frames, unknown API keys, unsupported versions, undecodable bodies.
	ProtocolErrors uint64
	// Panics counts handler panics (also counted in HandlerErrors).
	Panics uint64
	// ConnectionsOpened and ConnectionsClosed count accepted and closed connections;
	// ConnectionsOpen is their difference.
	ConnectionsOpened uint64
	ConnectionsClosed uint64
	ConnectionsOpen   uint64
}

// Stats returns a snapshot of the counters. Keys with a zero count are omitted.
func (s *Server) Stats() Stats {
	st := Stats{
		Requests:          map[int16]uint64{},
		HandlerErrors:     map[int16]uint64{},
		RequestDurations:  map[int16]DurationHistogram{},
		ProtocolErrors:    s.stats.protocolErrors.Load(),
		Panics:            s.stats.panics.Load(),
		ConnectionsOpened: s.stats.connsOpened.Load(),
		ConnectionsClosed: s.stats.connsClosed.Load(),
	}
	if st.ConnectionsOpened > st.ConnectionsClosed {
		st.ConnectionsOpen = st.ConnectionsOpened - st.ConnectionsClosed
	}
	for k := range maxStatsKey {
		if n := s.stats.requests[k].Load(); n > 0 {
			st.Requests[int16(k)] = n
		}
		if n := s.stats.handlerErrors[k].Load(); n > 0 {
			st.HandlerErrors[int16(k)] = n
		}
		if h := s.stats.durations[k].snapshot(); h.Count > 0 {
			st.RequestDurations[int16(k)] = h
		}
	}
	return st
}

func (st *serverStats) request(key int16) {
	if key >= 0 && key < maxStatsKey {
		st.requests[key].Add(1)
	}
}

func (st *serverStats) handlerError(key int16) {
	if key >= 0 && key < maxStatsKey {
		st.handlerErrors[key].Add(1)
	}
}

func (st *serverStats) requestDone(key int16, d time.Duration) {
	if key >= 0 && key < maxStatsKey {
		st.durations[key].add(d)
	}
}
