package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Config configures the Kafka listener.
type Config struct {
	// Addr is the listen address, e.g. "0.0.0.0:9092"; port 0 picks a free port.
	Addr string
	// MaxRequestBytes bounds one request frame; larger frames close the connection.
	// Zero means DefaultMaxRequestBytes.
	MaxRequestBytes int32
}

// DefaultMaxRequestBytes is Kafka's socket.request.max.bytes default (100 MiB).
const DefaultMaxRequestBytes = 100 << 20

// Server accepts Kafka connections and answers them through a Backend.
//
// Lifecycle: NewServer, then Listen (binds, Addr is valid afterwards), then Serve, which
// runs until its ctx is done or Close is called. Serve then closes the listener and every
// connection and waits for all connection goroutines and request handlers to return.
type Server struct {
	cfg     Config
	backend Backend
	log     *slog.Logger

	// base is the parent of every connection's context; stop cancels it on shutdown.
	base context.Context
	stop context.CancelFunc

	mu       sync.Mutex
	ln       net.Listener
	conns    map[*conn]struct{}
	closed   bool
	wg       sync.WaitGroup // connection goroutines and request handlers
	sessions *fetchSessionCache
	stats    serverStats
}

// Request is one decoded request as a handler sees it.
type Request struct {
	Key           int16
	Version       int16
	CorrelationID int32
	ClientID      *string
	// ClientHost is the client's address as Kafka reports it ("/127.0.0.1").
	ClientHost string
	// Body is the decoded request; its version is already set.
	Body kmsg.Request
	// markOrdered, when set, tells the connection that the request's effects have their
	// place in order, so the next serial request may start (see slot.ordered).
	markOrdered func()
	// frame is the request's bytes, kept only for a request whose handler leaves nothing
	// pointing into them (Produce: Backend.Produce copies what it keeps); the connection
	// recycles it once the handler returns.
	frame []byte
}

// NewServer returns a server answering through b. log may be nil (slog.Default is used).
func NewServer(cfg Config, b Backend, log *slog.Logger) *Server {
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if log == nil {
		log = slog.Default()
	}
	base, stop := context.WithCancel(context.Background())
	return &Server{
		cfg:      cfg,
		backend:  b,
		log:      log,
		base:     base,
		stop:     stop,
		conns:    map[*conn]struct{}{},
		sessions: newFetchSessionCache(defaultFetchSessions),
	}
}

// Listen binds the listen address. Calling it twice is an error.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return net.ErrClosed
	}
	if s.ln != nil {
		return errors.New("kafka: already listening")
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("kafka: listen %s: %w", s.cfg.Addr, err)
	}
	s.ln = ln
	return nil
}

// Addr is the bound address, nil before Listen.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Serve accepts connections until ctx is done or Close is called (it calls Listen first
// if that was not done). It then closes the listener and all connections, waits for every
// handler to return and returns nil; other accept errors are returned after the same
// cleanup.
func (s *Server) Serve(ctx context.Context) error {
	if s.Addr() == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()

	stopWatch := context.AfterFunc(ctx, s.shutdown)
	defer stopWatch()

	var acceptErr error
	for {
		nc, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if !s.isClosed() {
				acceptErr = fmt.Errorf("kafka: accept: %w", err)
			}
			break
		}
		s.startConn(nc)
	}
	s.shutdown()
	s.wg.Wait()
	return acceptErr
}

// Close stops the server: the listener and every connection are closed, and Close waits
// for the connection goroutines and in-flight handlers to return. Idempotent.
func (s *Server) Close() error {
	s.shutdown()
	s.wg.Wait()
	return nil
}

// shutdown closes the listener and all connections once; it does not wait.
func (s *Server) shutdown() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	ln := s.ln
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	s.stop()
	if ln != nil {
		_ = ln.Close()
	}
	for _, c := range conns {
		c.close()
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// startConn registers and starts a connection, or closes it at once when shutting down.
func (s *Server) startConn(nc net.Conn) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = nc.Close()
		return
	}
	c := newConn(s, nc)
	s.conns[c] = struct{}{}
	s.wg.Add(2)
	s.mu.Unlock()
	s.stats.connsOpened.Add(1)

	go func() {
		defer s.wg.Done()
		c.writeLoop()
	}()
	go func() {
		defer s.wg.Done()
		c.readLoop()
	}()
}

// forget drops a closed connection from the registry.
func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.stats.connsClosed.Add(1)
}
