package server

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"

	"github.com/chronik-stream/chronik/internal/cluster"
	"github.com/chronik-stream/chronik/internal/kafka"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// startHTTP serves /metrics (Prometheus), /health (200 once the node serves Kafka and
// the controller has a leader) and Go's profiler under /debug/pprof/.
func (n *Node) startHTTP() error {
	if n.cfg.HTTPPort < 0 {
		return nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(n.cfg.Bind, strconv.Itoa(n.cfg.HTTPPort)))
	if err != nil {
		return fmt.Errorf("http listener: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), &nodeCollector{n: n})
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		l, _, _ := n.host.Leader(cluster.ControllerGroup)
		if l == 0 {
			http.Error(w, "no controller leader", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "ok node=%d controller=%d\n", n.cfg.NodeID, l)
	})
	n.httpLn = ln
	n.http = &http.Server{Handler: mux}
	go func() { _ = n.http.Serve(ln) }()
	return nil
}

var (
	descRequests  = prometheus.NewDesc("chronik_kafka_requests_total", "Kafka requests decoded, by API key.", []string{"api_key"}, nil)
	descHandlerEr = prometheus.NewDesc("chronik_kafka_handler_errors_total", "Kafka requests whose handler failed, by API key.", []string{"api_key"}, nil)
	descReqDur    = prometheus.NewDesc("chronik_kafka_request_duration_seconds", "Kafka requests from their frame read to their response handed to the writer, by API key.", []string{"api_key"}, nil)
	descProtoErr  = prometheus.NewDesc("chronik_kafka_protocol_errors_total", "Connections closed for malformed input.", nil, nil)
	descConns     = prometheus.NewDesc("chronik_kafka_connections_open", "Open Kafka connections.", nil, nil)
	descGroups    = prometheus.NewDesc("chronik_raft_groups", "Raft groups on this node.", nil, nil)
	descLeaders   = prometheus.NewDesc("chronik_raft_leaderships", "Raft groups this node leads.", nil, nil)
	descWALFiles  = prometheus.NewDesc("chronik_wal_files", "Files in the node WAL.", nil, nil)
	descWALSyncs  = prometheus.NewDesc("chronik_wal_syncs_total", "WAL group commits (fsyncs).", nil, nil)
	descWALSlow   = prometheus.NewDesc("chronik_wal_slow_syncs_total", "WAL fsyncs slower than 20 ms.", nil, nil)
	descWALBytes  = prometheus.NewDesc("chronik_wal_bytes_total", "Bytes written by WAL group commits.", nil, nil)
	descWALTime   = prometheus.NewDesc("chronik_wal_sync_seconds_total", "Time spent in WAL fsyncs.", nil, nil)
	descWALMax    = prometheus.NewDesc("chronik_wal_sync_max_seconds", "Longest WAL fsync.", nil, nil)
)

// nodeCollector exports the node's own counters at scrape time.
type nodeCollector struct{ n *Node }

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRequests, descHandlerEr, descReqDur, descProtoErr, descConns, descGroups, descLeaders,
		descWALFiles, descWALSyncs, descWALSlow, descWALBytes, descWALTime, descWALMax} {
		ch <- d
	}
}

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.n.kafka.Stats()
	for k, v := range st.Requests {
		ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(v), strconv.Itoa(int(k)))
	}
	for k, v := range st.HandlerErrors {
		ch <- prometheus.MustNewConstMetric(descHandlerEr, prometheus.CounterValue, float64(v), strconv.Itoa(int(k)))
	}
	for k, h := range st.RequestDurations {
		buckets := make(map[float64]uint64, len(h.Cumulative))
		for i, n := range h.Cumulative {
			buckets[kafka.RequestDurationBounds[i]] = n
		}
		ch <- prometheus.MustNewConstHistogram(descReqDur, h.Count, h.Sum.Seconds(), buckets, strconv.Itoa(int(k)))
	}
	ch <- prometheus.MustNewConstMetric(descProtoErr, prometheus.CounterValue, float64(st.ProtocolErrors))
	ch <- prometheus.MustNewConstMetric(descConns, prometheus.GaugeValue, float64(st.ConnectionsOpen))
	ch <- prometheus.MustNewConstMetric(descGroups, prometheus.GaugeValue, float64(len(c.n.host.Groups())))
	ch <- prometheus.MustNewConstMetric(descLeaders, prometheus.GaugeValue, float64(c.n.leaderships()))
	ch <- prometheus.MustNewConstMetric(descWALFiles, prometheus.GaugeValue, float64(c.n.wal.Files()))
	ws := c.n.wal.Stats()
	ch <- prometheus.MustNewConstMetric(descWALSyncs, prometheus.CounterValue, float64(ws.Syncs))
	ch <- prometheus.MustNewConstMetric(descWALSlow, prometheus.CounterValue, float64(ws.SlowSyncs))
	ch <- prometheus.MustNewConstMetric(descWALBytes, prometheus.CounterValue, float64(ws.Bytes))
	ch <- prometheus.MustNewConstMetric(descWALTime, prometheus.CounterValue, ws.SyncTime.Seconds())
	ch <- prometheus.MustNewConstMetric(descWALMax, prometheus.GaugeValue, ws.MaxSync.Seconds())
}

// leaderships counts the raft groups (the controller included) this node leads.
func (n *Node) leaderships() int {
	led := 0
	for _, g := range n.host.Groups() {
		if l, _, _ := n.host.Leader(g); l == n.cfg.NodeID {
			led++
		}
	}
	return led
}
