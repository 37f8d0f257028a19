package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/chronik-stream/chronik/internal/broker"
	"github.com/chronik-stream/chronik/internal/cluster"
	"github.com/chronik-stream/chronik/internal/kafka"
	"github.com/chronik-stream/chronik/internal/replication"
	"github.com/chronik-stream/chronik/internal/transport"
	"github.com/chronik-stream/chronik/internal/wal"
)

// Node is one running Chronik node.
type Node struct {
	cfg       Config
	log       *slog.Logger
	wal       *wal.WAL
	host      *replication.Host
	transport *transport.Transport
	ctrl      *cluster.Controller
	broker    *broker.Broker
	kafka     *kafka.Server
	http      *http.Server
	httpLn    net.Listener
	ready     chan struct{}
}

// Start opens the node's storage, starts replication, joins (or creates) the cluster
// metadata, registers this broker and starts the Kafka and HTTP listeners. It returns
// once the node serves Kafka requests.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	if err := checkIdentity(cfg); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: log, ready: make(chan struct{})}
	w, recovered, err := wal.Open(filepath.Join(cfg.DataDir, "wal"), wal.Options{})
	if err != nil {
		return nil, fmt.Errorf("open node WAL: %w", err)
	}
	n.wal = w
	var b *broker.Broker
	ctrl, err := cluster.OpenController(cfg.DataDir, func() {
		if b != nil {
			b.ControllerChanged()
		}
	})
	if err != nil {
		w.Close()
		return nil, err
	}
	n.ctrl = ctrl
	var peers broker.Peers
	var hostTransport replication.Transport
	if len(cfg.Peers) > 0 {
		n.transport = transport.New(transport.Config{NodeID: cfg.NodeID, ListenAddr: cfg.RaftAddr, Peers: cfg.Peers, Voters: cfg.voters(), Logger: log})
		peers, hostTransport = n.transport, n.transport
	}
	n.host = replication.NewHost(replication.Config{
		NodeID:         cfg.NodeID,
		WAL:            w,
		Transport:      hostTransport,
		Workers:        cfg.Workers,
		Tick:           cfg.RaftTick,
		ElectionTicks:  cfg.ElectionTicks,
		HeartbeatTicks: cfg.HeartbeatTicks,
		Logger:         log,
		Live:           n.liveFunc(),
		OnLeaderChange: func(group, leader, term uint64) {
			if b != nil {
				b.LeaderChanged(group, leader, term)
			}
		},
	}, recovered)
	if err := n.host.AddGroup(cluster.ControllerGroup, cfg.voters(), ctrl); err != nil {
		w.Close()
		return nil, fmt.Errorf("start controller group: %w", err)
	}
	b = broker.New(broker.Config{
		NodeID:                   int32(cfg.NodeID),
		DataDir:                  cfg.DataDir,
		AdvertisedHost:           cfg.AdvertisedHost,
		AdvertisedPort:           int32(cfg.advertisedPort()),
		Rack:                     cfg.Rack,
		AutoCreateTopics:         cfg.AutoCreateTopics,
		DefaultPartitions:        cfg.DefaultPartitions,
		DefaultReplicationFactor: cfg.DefaultReplicationFactor,
		Defaults: cluster.Defaults{RetentionMs: cfg.RetentionMs, RetentionBytes: cfg.RetentionBytes,
			SegmentBytes: cfg.SegmentBytes, MaxMessageBytes: cfg.MaxMessageBytes},
		PageCacheBytes: cfg.PageCacheBytes,
		Logger:         log,
		Peers:          peers,
	}, n.host, ctrl)
	n.broker = b
	if n.transport != nil {
		n.transport.SetHandlers(n.host.Handle, b.ServeCall)
		if err := n.transport.Start(); err != nil {
			w.Close()
			return nil, err
		}
	}
	n.host.Start()
	b.Start()

	n.kafka = kafka.NewServer(kafka.Config{Addr: net.JoinHostPort(cfg.Bind, strconv.Itoa(cfg.KafkaPort)), MaxRequestBytes: cfg.MaxRequestBytes}, b, log)
	if err := n.kafka.Listen(); err != nil {
		n.stopCore()
		return nil, fmt.Errorf("kafka listener: %w", err)
	}
	if cfg.KafkaPort == 0 {
		n.cfg.KafkaPort = n.kafka.Addr().(*net.TCPAddr).Port
	}
	if err := n.join(ctx); err != nil {
		n.kafka.Close()
		n.stopCore()
		return nil, err
	}
	go func() { _ = n.kafka.Serve(context.Background()) }()
	if err := n.startHTTP(); err != nil {
		n.kafka.Close()
		n.stopCore()
		return nil, err
	}
	close(n.ready)
	log.Info("chronik node started", "node", cfg.NodeID, "kafka", n.KafkaAddr(), "http", n.HTTPAddr(), "data", cfg.DataDir)
	return n, nil
}

// join waits for the controller to have a leader, sets the cluster id if this node
// created the cluster, and registers this broker's advertised address.
func (n *Node) join(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.JoinTimeout)
	defer cancel()
	self := cluster.Broker{ID: int32(n.cfg.NodeID), Host: n.cfg.AdvertisedHost, Port: int32(n.cfg.advertisedPort()), Rack: n.cfg.Rack}
	for {
		err := n.registerOnce(ctx, self)
		if err == nil {
			return nil
		}
		var fatal *fatalError
		if errors.As(err, &fatal) {
			return fatal.err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("joining the cluster: %w (last error: %v)", ctx.Err(), err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond): // waiting for a controller leader
		}
	}
}

func (n *Node) registerOnce(ctx context.Context, self cluster.Broker) error {
	if n.transport != nil {
		if err := n.transport.MembershipError(); err != nil {
			return &fatalError{err}
		}
	}
	if n.ctrl.ClusterID() == "" {
		if !n.cfg.Bootstrap {
			return errors.New("waiting for a --bootstrap node to create the cluster")
		}
		var id [16]byte
		_, _ = rand.Read(id[:])
		if _, err := n.broker.ProposeController(ctx, cluster.Command{Op: cluster.OpSetClusterID, ClusterID: hex.EncodeToString(id[:])}); err != nil {
			return err
		}
	}
	for _, b := range n.ctrl.Brokers() {
		if b == self {
			return nil
		}
	}
	_, err := n.broker.ProposeController(ctx, cluster.Command{Op: cluster.OpRegisterBroker, Broker: &self})
	return err
}

// fatalError ends joining at once: retrying cannot fix it.
type fatalError struct{ err error }

func (f *fatalError) Error() string { return f.err.Error() }
func (f *fatalError) Unwrap() error { return f.err }

// liveFunc tells the replication host which peers are reachable (nil on a single node).
func (n *Node) liveFunc() func(uint64) bool {
	if n.transport == nil {
		return nil
	}
	return func(id uint64) bool { return n.transport.Live(id, 1500*time.Millisecond) }
}

// KafkaAddr is the address the Kafka listener is bound to.
func (n *Node) KafkaAddr() string { return n.kafka.Addr().String() }

// HTTPAddr is the address of the metrics listener ("" when disabled).
func (n *Node) HTTPAddr() string {
	if n.httpLn == nil {
		return ""
	}
	return n.httpLn.Addr().String()
}

// Stop shuts the node down: it hands its leaderships to other nodes (bounded wait),
// closes the listeners, then stops replication and storage.
func (n *Node) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	n.broker.MoveLeadershipsAway(ctx)
	cancel()
	var errs []error
	if n.http != nil {
		errs = append(errs, n.http.Close())
	}
	errs = append(errs, n.kafka.Close())
	n.stopCore()
	return errors.Join(errs...)
}

func (n *Node) stopCore() {
	ws := n.wal.Stats()
	n.log.Info("wal group commits", "syncs", ws.Syncs, "slow_syncs", ws.SlowSyncs, "bytes", ws.Bytes,
		"sync_time", ws.SyncTime.Round(time.Millisecond), "max_sync", ws.MaxSync.Round(time.Microsecond))
	n.host.CheckpointAll()
	n.host.Stop()
	if n.transport != nil {
		n.transport.Close()
	}
	n.broker.Stop()
	n.wal.Close()
}

// Run starts a node and serves until ctx is done.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	n, err := Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	<-ctx.Done()
	if log != nil {
		log.Info("shutting down")
	}
	return n.Stop()
}
