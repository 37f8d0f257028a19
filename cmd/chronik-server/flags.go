package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/chronik-stream/chronik/internal/server"
)

// options holds what the flags of one run command parse into. The server.Config fields
// are bound to the flags directly; the rest is turned into Config fields by resolve.
type options struct {
	cluster    bool // raft-cluster (true) or standalone
	cfg        server.Config
	level      logLevel
	configFile string
	peers      string
}

func newOptions(cluster bool) *options {
	o := &options{cluster: cluster, cfg: server.DefaultConfig(), level: logLevel(slog.LevelInfo)}
	if cluster {
		o.cfg.NodeID = 0 // required
	}
	return o
}

// clusterOnly are the settings only raft-cluster has.
var clusterOnly = map[string]bool{"node-id": true, "raft-addr": true, "peers": true, "bootstrap": true}

// notSettable are flags that cannot come from the environment or a config file.
var notSettable = map[string]bool{"help": true, "config": true}

// register defines the flags. Backquoted words in a help text name the flag's value in
// the usage listing (pflag convention).
func (o *options) register(fs *pflag.FlagSet) {
	c := &o.cfg
	fs.SortFlags = false
	if o.cluster {
		fs.Uint64Var(&c.NodeID, "node-id", 0,
			"this node's `ID`: a positive integer, unique in the cluster and fixed for the life of the data dir (required)")
		fs.StringVar(&c.RaftAddr, "raft-addr", "",
			"`HOST:PORT` the node-to-node raft transport listens on, e.g. 0.0.0.0:5001 (required)")
		fs.StringVar(&o.peers, "peers", "",
			"the other nodes of the cluster as comma-separated `ID@HOST:PORT,...` raft addresses, e.g. \"2@node2:5001,3@node3:5001\"; every node lists all the others, never itself")
		fs.BoolVar(&c.Bootstrap, "bootstrap", false,
			"this node may create the cluster's metadata when no data exists yet; nodes without it wait to join (start order does not matter)")
	}
	fs.IntVar(&c.KafkaPort, "kafka-port", c.KafkaPort,
		"TCP `port` of the Kafka listener (0 picks a free port)")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir,
		"`directory` for this node's WAL, partition logs and identity file; created if missing")
	fs.StringVar(&c.Bind, "bind", c.Bind,
		"`address` the Kafka and HTTP listeners bind to (0.0.0.0 = all interfaces)")
	fs.StringVar(&c.AdvertisedHost, "advertised-host", c.AdvertisedHost,
		"`host` name clients are told to connect to (Metadata responses)")
	fs.IntVar(&c.AdvertisedPort, "advertised-port", c.AdvertisedPort,
		"`port` clients are told to connect to (0 = the --kafka-port)")
	fs.IntVar(&c.HTTPPort, "http-port", c.HTTPPort,
		"TCP `port` serving /metrics (Prometheus) and /health (0 picks a free port, -1 disables the HTTP listener; raft-cluster nodes default to 9643 + node id)")
	fs.StringVar(&c.Rack, "rack", c.Rack,
		"`rack` id of this node, for clients fetching from the nearest replica (KIP-392); empty = no rack")
	fs.Int32Var(&c.MaxRequestBytes, "max-request-bytes", c.MaxRequestBytes,
		"largest Kafka request accepted, and the most request memory one connection holds in flight, in `bytes` (104857600 = 100 MiB)")
	fs.BoolVar(&c.AutoCreateTopics, "auto-create-topics", c.AutoCreateTopics,
		"create a topic when a Metadata or Produce request names one that does not exist (--auto-create-topics=false turns it off)")
	fs.Int32Var(&c.DefaultPartitions, "default-partitions", c.DefaultPartitions,
		"partition `count` of auto-created topics and of CreateTopics requests that leave it at -1")
	fs.Int16Var(&c.DefaultReplicationFactor, "default-replication-factor", c.DefaultReplicationFactor,
		"replication `factor` of auto-created topics and of CreateTopics requests that leave it at -1 (0 = min(3, number of nodes))")
	fs.Int64Var(&c.SegmentBytes, "segment-bytes", c.SegmentBytes,
		"default size in `bytes` at which a partition log starts a new segment (1073741824 = 1 GiB; topic config segment.bytes)")
	fs.Int64Var(&c.PageCacheBytes, "page-cache-bytes", c.PageCacheBytes,
		"`bytes` of each partition's newest data kept in the page cache once synced; older data is dropped from it so that writes reuse memory (0 = 64 MiB, -1 = keep everything cached)")
	fs.Int64Var(&c.RetentionMs, "retention-ms", c.RetentionMs,
		"default time to keep records, in `milliseconds` (604800000 = 7 days; -1 = forever; topic config retention.ms)")
	fs.Int64Var(&c.RetentionBytes, "retention-bytes", c.RetentionBytes,
		"default size limit of one partition's log in `bytes`; older segments are deleted beyond it (-1 = no limit; topic config retention.bytes)")
	fs.Int32Var(&c.MaxMessageBytes, "max-message-bytes", c.MaxMessageBytes,
		"default largest record batch a topic accepts, in `bytes` (topic config max.message.bytes)")
	fs.DurationVar(&c.RaftTick, "raft-tick", c.RaftTick,
		"`period` of the one ticker that drives every raft group, e.g. 100ms or 1s; the raft timeouts count these ticks")
	fs.IntVar(&c.ElectionTicks, "election-ticks", c.ElectionTicks,
		"raft election timeout in `ticks` of --raft-tick (must exceed --heartbeat-ticks)")
	fs.IntVar(&c.HeartbeatTicks, "heartbeat-ticks", c.HeartbeatTicks,
		"raft heartbeat interval in `ticks` of --raft-tick")
	fs.IntVar(&c.Workers, "workers", c.Workers,
		"`number` of raft worker goroutines (0 = GOMAXPROCS, the number of usable CPUs)")
	fs.Var(&o.level, "log-level", "log `level`: debug, info, warn or error")
	fs.StringVar(&o.configFile, "config", "",
		"read settings from `FILE`: lines \"name = value\" using the flag names, # comments (also CHRONIK_CONFIG)")
}

// logLevel is the --log-level value.
type logLevel slog.Level

func (l *logLevel) String() string { return strings.ToLower(slog.Level(*l).String()) }
func (l *logLevel) Type() string   { return "level" }
func (l *logLevel) Set(s string) error {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		*l = logLevel(slog.LevelDebug)
	case "info":
		*l = logLevel(slog.LevelInfo)
	case "warn", "warning":
		*l = logLevel(slog.LevelWarn)
	case "error":
		*l = logLevel(slog.LevelError)
	default:
		return fmt.Errorf("%q is not a log level (use debug, info, warn or error)", s)
	}
	return nil
}

// resolve fills the flags the command line left unset from the environment, then from
// the config file, checks every setting and returns the node configuration. Errors name
// where the bad value came from. Nothing here touches the data dir.
func (o *options) resolve(fs *pflag.FlagSet, env lookupEnv) (server.Config, slog.Level, error) {
	src := map[string]string{} // flag name -> where its value came from
	fs.Visit(func(f *pflag.Flag) { src[f.Name] = "flag --" + f.Name })

	path, pathSrc := o.configFile, "flag --config"
	if !fs.Changed("config") {
		path, _ = env(envName("config"))
		pathSrc = "environment variable " + envName("config")
	}
	var fileVals map[string]fileSetting
	if path != "" {
		settings, err := readConfigFile(path)
		if err != nil {
			return server.Config{}, 0, fmt.Errorf("%w (config file from %s)", err, pathSrc)
		}
		fileVals = map[string]fileSetting{}
		var errs []error
		for _, s := range settings {
			switch {
			case s.name == "config":
				errs = append(errs, fmt.Errorf("%s: a config file cannot name another config file", s.where(path)))
			case fs.Lookup(s.name) == nil || notSettable[s.name]:
				if clusterOnly[s.name] {
					errs = append(errs, fmt.Errorf("%s: %s only applies to raft-cluster, not standalone", s.where(path), s.name))
				} else {
					errs = append(errs, fmt.Errorf("%s: unknown setting %q (settings are the flag names; see --help)", s.where(path), s.name))
				}
			default:
				fileVals[s.name] = s
			}
		}
		if err := errors.Join(errs...); err != nil {
			return server.Config{}, 0, err
		}
	}

	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || notSettable[f.Name] {
			return
		}
		if v, ok := env(envName(f.Name)); ok {
			where := "environment variable " + envName(f.Name)
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %s", where, describeSetError(f, v, err)))
			}
			src[f.Name] = where
			return
		}
		if s, ok := fileVals[f.Name]; ok {
			where := fmt.Sprintf("%s (%s)", s.where(path), f.Name)
			if err := f.Value.Set(s.value); err != nil {
				errs = append(errs, fmt.Errorf("%s: %s", where, describeSetError(f, s.value, err)))
			}
			src[f.Name] = where
		}
	})
	if err := errors.Join(errs...); err != nil {
		return server.Config{}, 0, err
	}
	where := func(name string) string {
		if s, ok := src[name]; ok {
			return s
		}
		return "--" + name // the default
	}

	cfg := o.cfg
	if o.cluster {
		if _, set := src["http-port"]; !set && cfg.HTTPPort == server.DefaultConfig().HTTPPort {
			// Several nodes often share a host: node N serves HTTP on 9643+N by default.
			cfg.HTTPPort = server.DefaultConfig().HTTPPort - 1 + int(cfg.NodeID)
		}
		cfg.Peers = nil
		if o.peers != "" {
			peers, err := parsePeers(o.peers, cfg.NodeID)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", where("peers"), err))
			}
			cfg.Peers = peers
		}
	} else {
		cfg.NodeID, cfg.Peers, cfg.RaftAddr = 1, nil, ""
		cfg.Bootstrap = true // a single node always creates its own cluster
	}
	for _, e := range checkConfig(cfg, o.cluster) {
		errs = append(errs, fmt.Errorf("%s: %s", where(e.flag), e.msg))
	}
	if err := errors.Join(errs...); err != nil {
		return server.Config{}, 0, err
	}
	// Backstop: whatever the server itself refuses.
	if err := cfg.Validate(); err != nil {
		return server.Config{}, 0, err
	}
	return cfg, slog.Level(o.level), nil
}

// describeSetError turns a flag value parse error into a sentence.
func describeSetError(f *pflag.Flag, value string, err error) string {
	switch t := f.Value.Type(); t {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		if errors.Is(err, strconv.ErrRange) {
			return fmt.Sprintf("%q is out of range for a %s", value, t)
		}
		if strings.HasPrefix(t, "uint") {
			return fmt.Sprintf("%q is not a positive integer", value)
		}
		return fmt.Sprintf("%q is not an integer", value)
	case "bool":
		return fmt.Sprintf("%q is not a boolean (use true or false)", value)
	case "duration":
		return fmt.Sprintf("%q is not a duration (use a number with a unit, e.g. 100ms or 2s)", value)
	default:
		return err.Error()
	}
}

// flagError is a bad value of one setting, found after all sources were applied.
type flagError struct {
	flag string
	msg  string
}

// checkConfig checks each setting on its own, so that errors can say where the bad value
// came from.
func checkConfig(c server.Config, cluster bool) []flagError {
	var errs []flagError
	bad := func(flag, format string, a ...any) {
		errs = append(errs, flagError{flag, fmt.Sprintf(format, a...)})
	}
	port := func(flag string, p, min int) {
		if p < min || p > 65535 {
			bad(flag, "%d is not a TCP port (%d-65535)", p, min)
		}
	}
	if cluster {
		if c.NodeID == 0 {
			bad("node-id", "a node id (a positive integer) is required")
		}
		if c.RaftAddr == "" {
			bad("raft-addr", "the raft listen address (HOST:PORT) is required")
		} else if err := checkHostPort(c.RaftAddr, true); err != nil {
			bad("raft-addr", "%v", err)
		}
	}
	port("kafka-port", c.KafkaPort, 0)
	port("advertised-port", c.AdvertisedPort, 0)
	port("http-port", c.HTTPPort, -1)
	if strings.TrimSpace(c.DataDir) == "" {
		bad("data-dir", "the data directory must not be empty")
	}
	if strings.TrimSpace(c.Bind) == "" {
		bad("bind", "the bind address must not be empty (0.0.0.0 = all interfaces)")
	}
	if strings.TrimSpace(c.AdvertisedHost) == "" {
		bad("advertised-host", "the advertised host must not be empty")
	}
	if c.MaxRequestBytes < 1024 {
		bad("max-request-bytes", "%d is below the minimum of 1024 bytes", c.MaxRequestBytes)
	}
	if c.DefaultPartitions < 1 {
		bad("default-partitions", "%d: a topic needs at least 1 partition", c.DefaultPartitions)
	}
	if c.DefaultReplicationFactor < 0 {
		bad("default-replication-factor", "%d must not be negative (0 = min(3, number of nodes))", c.DefaultReplicationFactor)
	}
	if c.PageCacheBytes < -1 {
		bad("page-cache-bytes", "%d must be -1 (keep everything) or a size in bytes", c.PageCacheBytes)
	}
	if c.SegmentBytes < 1024 {
		bad("segment-bytes", "%d is below the minimum of 1024 bytes", c.SegmentBytes)
	}
	if c.RetentionMs < -1 {
		bad("retention-ms", "%d must be -1 (forever) or at least 0", c.RetentionMs)
	}
	if c.RetentionBytes < -1 {
		bad("retention-bytes", "%d must be -1 (no limit) or at least 0", c.RetentionBytes)
	}
	if c.MaxMessageBytes < 1 {
		bad("max-message-bytes", "%d must be positive", c.MaxMessageBytes)
	}
	if c.RaftTick <= 0 {
		bad("raft-tick", "%v must be positive", c.RaftTick)
	}
	if c.HeartbeatTicks < 1 {
		bad("heartbeat-ticks", "%d must be at least 1", c.HeartbeatTicks)
	}
	if c.ElectionTicks <= c.HeartbeatTicks {
		bad("election-ticks", "%d must exceed --heartbeat-ticks (%d)", c.ElectionTicks, c.HeartbeatTicks)
	}
	if c.Workers < 0 {
		bad("workers", "%d must not be negative (0 = GOMAXPROCS)", c.Workers)
	}
	return errs
}

// checkHostPort checks a HOST:PORT address; the host may be empty only if emptyHostOK.
func checkHostPort(addr string, emptyHostOK bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		if strings.Contains(err.Error(), "missing port") {
			return fmt.Errorf("address %q has no port (want HOST:PORT)", addr)
		}
		return fmt.Errorf("address %q is not HOST:PORT", addr)
	}
	if host == "" && !emptyHostOK {
		return fmt.Errorf("address %q has no host (want HOST:PORT)", addr)
	}
	if port == "" {
		return fmt.Errorf("address %q has no port (want HOST:PORT)", addr)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return fmt.Errorf("address %q: port %q is not a TCP port (1-65535)", addr, port)
	}
	return nil
}

// parsePeers parses --peers: comma-separated ID@HOST:PORT entries naming the other nodes
// of the cluster and their raft addresses. self is this node's id, which must not appear.
// Blank entries (a trailing comma) are ignored; an empty list gives an empty map.
func parsePeers(s string, self uint64) (map[uint64]string, error) {
	peers := map[uint64]string{}
	for _, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		idStr, addr, ok := strings.Cut(entry, "@")
		idStr, addr = strings.TrimSpace(idStr), strings.TrimSpace(addr)
		if !ok || idStr == "" || addr == "" {
			return nil, fmt.Errorf("peer %q is not ID@HOST:PORT (e.g. 2@node2:5001)", entry)
		}
		id, err := strconv.ParseUint(idStr, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("peer %q: node id %q is not a positive integer", entry, idStr)
		}
		if id == 0 {
			return nil, fmt.Errorf("peer %q: node id 0 is not valid (ids start at 1)", entry)
		}
		if err := checkHostPort(addr, false); err != nil {
			return nil, fmt.Errorf("peer %q: %w", entry, err)
		}
		if id == self {
			return nil, fmt.Errorf("peer %q has this node's own id %d (list only the other nodes)", entry, id)
		}
		if prev, dup := peers[id]; dup {
			return nil, fmt.Errorf("peer id %d is listed twice (%s and %s)", id, prev, addr)
		}
		peers[id] = addr
	}
	return peers, nil
}

// formatPeers is the inverse of parsePeers, in id order (logs).
func formatPeers(peers map[uint64]string) string {
	ids := make([]uint64, 0, len(peers))
	for id := range peers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("%d@%s", id, peers[id])
	}
	return strings.Join(parts, ",")
}
