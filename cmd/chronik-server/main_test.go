package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chronik-stream/chronik/internal/server"
)

type result struct {
	code           int
	stdout, stderr string
	cfg            *server.Config // what the node was started with; nil if it was not
	debug          bool           // the logger passes debug records
}

// runCLI runs the command line with a fake node that records its configuration.
func runCLI(t *testing.T, args []string, env map[string]string) result {
	t.Helper()
	var r result
	var stdout, stderr bytes.Buffer
	d := deps{env: mapEnv(env), run: func(ctx context.Context, cfg server.Config, log *slog.Logger) error {
		r.cfg = &cfg
		r.debug = log.Enabled(ctx, slog.LevelDebug)
		return nil
	}}
	r.code = execute(context.Background(), args, &stdout, &stderr, d)
	r.stdout, r.stderr = stdout.String(), stderr.String()
	return r
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNoArgsPrintsUsage(t *testing.T) {
	r := runCLI(t, nil, nil)
	if r.code != 0 {
		t.Fatalf("exit code %d, stderr %q", r.code, r.stderr)
	}
	for _, want := range []string{"Usage:", "standalone", "raft-cluster", "version", "CHRONIK_"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("usage lacks %q:\n%s", want, r.stdout)
		}
	}
	if r.cfg != nil {
		t.Error("a node was started")
	}
}

func TestHelpListsEveryFlag(t *testing.T) {
	r := runCLI(t, []string{"raft-cluster", "--help"}, nil)
	if r.code != 0 {
		t.Fatalf("exit code %d", r.code)
	}
	for _, f := range []string{"kafka-port", "data-dir", "bind", "advertised-host", "advertised-port", "http-port",
		"rack", "max-request-bytes", "auto-create-topics", "default-partitions", "default-replication-factor",
		"segment-bytes", "page-cache-bytes", "retention-ms", "retention-bytes", "max-message-bytes", "raft-tick", "election-ticks",
		"heartbeat-ticks", "workers", "log-level", "config", "node-id", "raft-addr", "peers", "bootstrap"} {
		if !strings.Contains(r.stdout, "--"+f+" ") {
			t.Errorf("help lacks --%s", f)
		}
	}
	if !strings.Contains(r.stdout, "start order does not matter") {
		t.Error("--bootstrap help is missing its explanation")
	}
}

func TestVersion(t *testing.T) {
	r := runCLI(t, []string{"version"}, nil)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "chronik-server ") {
		t.Fatalf("code %d, stdout %q", r.code, r.stdout)
	}
}

func TestStandaloneDefaults(t *testing.T) {
	r := runCLI(t, []string{"standalone"}, nil)
	if r.code != 0 || r.cfg == nil {
		t.Fatalf("code %d, stderr %s", r.code, r.stderr)
	}
	want := server.DefaultConfig()
	want.Bootstrap = true
	if !reflect.DeepEqual(*r.cfg, want) {
		t.Errorf("config\n got %+v\nwant %+v", *r.cfg, want)
	}
	if r.debug {
		t.Error("default log level passes debug records")
	}
}

func TestAllFlags(t *testing.T) {
	r := runCLI(t, []string{"raft-cluster", "--node-id", "2", "--raft-addr", "0.0.0.0:5001",
		"--peers", "1@node1:5001, 3@node3:5001,", "--bootstrap",
		"--kafka-port", "9093", "--data-dir", "/d", "--bind", "127.0.0.1", "--advertised-host", "h",
		"--advertised-port", "19093", "--http-port", "-1", "--rack", "r1", "--max-request-bytes", "2048",
		"--auto-create-topics=false", "--default-partitions", "6", "--default-replication-factor", "2",
		"--segment-bytes", "4096", "--retention-ms", "-1", "--retention-bytes", "1000", "--max-message-bytes", "500",
		"--raft-tick", "50ms", "--election-ticks", "20", "--heartbeat-ticks", "2", "--workers", "4", "--log-level", "debug"}, nil)
	if r.code != 0 || r.cfg == nil {
		t.Fatalf("code %d, stderr %s", r.code, r.stderr)
	}
	want := server.DefaultConfig() // for fields that have no flag
	want.NodeID, want.DataDir, want.Bind, want.KafkaPort, want.AdvertisedHost = 2, "/d", "127.0.0.1", 9093, "h"
	want.AdvertisedPort, want.HTTPPort, want.Rack, want.RaftAddr = 19093, -1, "r1", "0.0.0.0:5001"
	want.Peers, want.Bootstrap, want.MaxRequestBytes = map[uint64]string{1: "node1:5001", 3: "node3:5001"}, true, 2048
	want.AutoCreateTopics, want.DefaultPartitions, want.DefaultReplicationFactor, want.SegmentBytes = false, 6, 2, 4096
	want.RetentionMs, want.RetentionBytes, want.MaxMessageBytes, want.RaftTick = -1, 1000, 500, 50*time.Millisecond
	want.ElectionTicks, want.HeartbeatTicks, want.Workers = 20, 2, 4
	if !reflect.DeepEqual(*r.cfg, want) {
		t.Errorf("config\n got %+v\nwant %+v", *r.cfg, want)
	}
	if !r.debug {
		t.Error("--log-level debug does not pass debug records")
	}
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "chronik.conf", `
# every source sets kafka-port; file and env set data-dir; only the file sets rack
kafka-port = 1001
data-dir: /from-file
rack = "file rack"   # quoted
http-port = 7001
log-level: warn
peers = 2@file:5001
node-id = 1
raft-addr = 0.0.0.0:5001
`)
	env := map[string]string{
		"CHRONIK_KAFKA_PORT": "1002",
		"CHRONIK_DATA_DIR":   "/from-env",
		"CHRONIK_PEERS":      "2@env:5001,3@env:5001",
		"CHRONIK_HTTP_PORT":  "", // empty counts as unset
	}
	r := runCLI(t, []string{"raft-cluster", "--config", file, "--kafka-port", "1003"}, env)
	if r.code != 0 || r.cfg == nil {
		t.Fatalf("code %d, stderr %s", r.code, r.stderr)
	}
	c := r.cfg
	if c.KafkaPort != 1003 {
		t.Errorf("kafka port %d, want the flag's 1003", c.KafkaPort)
	}
	if c.DataDir != "/from-env" {
		t.Errorf("data dir %q, want the environment's", c.DataDir)
	}
	if c.Rack != "file rack" || c.HTTPPort != 7001 || c.NodeID != 1 || c.RaftAddr != "0.0.0.0:5001" {
		t.Errorf("file settings not applied: %+v", c)
	}
	if !reflect.DeepEqual(c.Peers, map[uint64]string{2: "env:5001", 3: "env:5001"}) {
		t.Errorf("peers %v, want the environment's", c.Peers)
	}
	if c.SegmentBytes != server.DefaultConfig().SegmentBytes {
		t.Errorf("segment bytes %d, want the default", c.SegmentBytes)
	}
	if r.debug {
		t.Error("log level warn from the file passes debug records")
	}

	// CHRONIK_CONFIG names the file when --config is not given; --config wins over it.
	other := writeFile(t, dir, "other.conf", "kafka-port = 2001\n")
	r = runCLI(t, []string{"standalone"}, map[string]string{"CHRONIK_CONFIG": other})
	if r.code != 0 || r.cfg.KafkaPort != 2001 {
		t.Errorf("CHRONIK_CONFIG: code %d, stderr %s", r.code, r.stderr)
	}
	r = runCLI(t, []string{"standalone", "--config", other}, map[string]string{"CHRONIK_CONFIG": "/nonexistent"})
	if r.code != 0 || r.cfg.KafkaPort != 2001 {
		t.Errorf("--config over CHRONIK_CONFIG: code %d, stderr %s", r.code, r.stderr)
	}
	// A flag set to its default value still wins over the environment.
	r = runCLI(t, []string{"standalone", "--kafka-port", "9092"}, map[string]string{"CHRONIK_KAFKA_PORT": "1"})
	if r.code != 0 || r.cfg.KafkaPort != 9092 {
		t.Errorf("explicit default flag: code %d, port %v", r.code, r.cfg)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	conf := func(name, content string) string { return writeFile(t, dir, name, content) }
	unknownKey := conf("unknown.conf", "kafka-port = 1\n\nkafka-prot = 2\n")
	badLine := conf("badline.conf", "# ok\nkafka-port 9092\n")
	badValue := conf("badvalue.conf", "kafka-port = 9092\nhttp-port = lots\n")
	dupKey := conf("dup.conf", "rack = a\nrack = b\n")
	clusterKey := conf("cluster.conf", "node-id = 3\n")
	nested := conf("nested.conf", "config = other.conf\n")
	badRange := conf("range.conf", "\n\nkafka-port = 70000\n")

	cases := []struct {
		name string
		args []string
		env  map[string]string
		want []string // substrings of stderr
	}{
		{"unknown subcommand", []string{"serve"}, nil, []string{`unknown command "serve"`}},
		{"extra argument", []string{"standalone", "extra"}, nil, []string{`unknown command "extra"`}},
		{"unknown flag", []string{"standalone", "--kafka-prot", "1"}, nil, []string{"unknown flag: --kafka-prot"}},
		{"cluster flag in standalone", []string{"standalone", "--node-id", "2"}, nil, []string{"unknown flag: --node-id"}},
		{"flag not a number", []string{"standalone", "--kafka-port", "abc"}, nil, []string{"flag --kafka-port", `"abc" is not an integer`}},
		{"flag port out of range", []string{"standalone", "--kafka-port", "70000"}, nil, []string{"flag --kafka-port", "70000 is not a TCP port"}},
		{"http port below -1", []string{"standalone", "--http-port", "-2"}, nil, []string{"flag --http-port", "-2 is not a TCP port"}},
		{"advertised port", []string{"standalone", "--advertised-port", "-1"}, nil, []string{"flag --advertised-port"}},
		{"int16 out of range", []string{"standalone", "--default-replication-factor", "40000"}, nil, []string{"flag --default-replication-factor", "out of range"}},
		{"negative replication factor", []string{"standalone", "--default-replication-factor", "-1"}, nil, []string{"flag --default-replication-factor", "must not be negative"}},
		{"bad bool", []string{"standalone", "--auto-create-topics=maybe"}, nil, []string{"flag --auto-create-topics", "not a boolean"}},
		{"bad duration", []string{"standalone", "--raft-tick", "5"}, nil, []string{"flag --raft-tick", "not a duration"}},
		{"zero raft tick", []string{"standalone", "--raft-tick", "0s"}, nil, []string{"flag --raft-tick", "must be positive"}},
		{"bad log level", []string{"standalone", "--log-level", "loud"}, nil, []string{"flag --log-level", `"loud" is not a log level`}},
		{"election not above heartbeat", []string{"standalone", "--election-ticks", "2", "--heartbeat-ticks", "2"}, nil, []string{"flag --election-ticks", "must exceed --heartbeat-ticks"}},
		{"zero heartbeat", []string{"standalone", "--heartbeat-ticks", "0"}, nil, []string{"flag --heartbeat-ticks"}},
		{"zero partitions", []string{"standalone", "--default-partitions", "0"}, nil, []string{"flag --default-partitions"}},
		{"tiny request size", []string{"standalone", "--max-request-bytes", "10"}, nil, []string{"flag --max-request-bytes", "below the minimum"}},
		{"tiny segment", []string{"standalone", "--segment-bytes", "10"}, nil, []string{"flag --segment-bytes"}},
		{"retention ms", []string{"standalone", "--retention-ms", "-2"}, nil, []string{"flag --retention-ms"}},
		{"retention bytes", []string{"standalone", "--retention-bytes", "-5"}, nil, []string{"flag --retention-bytes"}},
		{"max message bytes", []string{"standalone", "--max-message-bytes", "0"}, nil, []string{"flag --max-message-bytes"}},
		{"negative workers", []string{"standalone", "--workers", "-1"}, nil, []string{"flag --workers"}},
		{"empty data dir", []string{"standalone", "--data-dir", ""}, nil, []string{"flag --data-dir", "must not be empty"}},
		{"empty advertised host", []string{"standalone", "--advertised-host", " "}, nil, []string{"flag --advertised-host"}},
		{"empty bind", []string{"standalone", "--bind", ""}, nil, []string{"flag --bind"}},
		{"two problems at once", []string{"standalone", "--workers", "-1", "--kafka-port", "-1"}, nil, []string{"invalid configuration:", "flag --workers", "flag --kafka-port"}},

		{"env not a number", []string{"standalone"}, map[string]string{"CHRONIK_KAFKA_PORT": "abc"}, []string{"environment variable CHRONIK_KAFKA_PORT", `"abc" is not an integer`}},
		{"env out of range", []string{"standalone"}, map[string]string{"CHRONIK_HTTP_PORT": "65536"}, []string{"environment variable CHRONIK_HTTP_PORT", "not a TCP port"}},
		{"env log level", []string{"standalone"}, map[string]string{"CHRONIK_LOG_LEVEL": "verbose"}, []string{"environment variable CHRONIK_LOG_LEVEL"}},
		{"env bool", []string{"raft-cluster", "--node-id", "1", "--raft-addr", ":5001"}, map[string]string{"CHRONIK_BOOTSTRAP": "yes please"}, []string{"environment variable CHRONIK_BOOTSTRAP", "not a boolean"}},
		{"env peers", []string{"raft-cluster", "--node-id", "1", "--raft-addr", ":5001"}, map[string]string{"CHRONIK_PEERS": "2@node2"}, []string{"environment variable CHRONIK_PEERS", "has no port"}},
		{"env config missing", []string{"standalone"}, map[string]string{"CHRONIK_CONFIG": filepath.Join(dir, "missing.conf")}, []string{"missing.conf", "environment variable CHRONIK_CONFIG"}},

		{"config missing", []string{"standalone", "--config", filepath.Join(dir, "missing.conf")}, nil, []string{"missing.conf", "no such file"}},
		{"file unknown key", []string{"standalone", "--config", unknownKey}, nil, []string{"unknown.conf:3", `unknown setting "kafka-prot"`}},
		{"file bad line", []string{"standalone", "--config", badLine}, nil, []string{"badline.conf:2", "expected `name = value`"}},
		{"file bad value", []string{"standalone", "--config", badValue}, nil, []string{"badvalue.conf:2 (http-port)", `"lots" is not an integer`}},
		{"file duplicate key", []string{"standalone", "--config", dupKey}, nil, []string{"dup.conf:2", "already set on line 1"}},
		{"file cluster key in standalone", []string{"standalone", "--config", clusterKey}, nil, []string{"cluster.conf:1", "only applies to raft-cluster"}},
		{"file names a file", []string{"standalone", "--config", nested}, nil, []string{"nested.conf:1", "cannot name another config file"}},
		{"file value out of range", []string{"standalone", "--config", badRange}, nil, []string{"range.conf:3 (kafka-port)", "70000 is not a TCP port"}},

		{"cluster without node id", []string{"raft-cluster", "--raft-addr", ":5001"}, nil, []string{"--node-id: a node id", "required"}},
		{"cluster node id 0", []string{"raft-cluster", "--node-id", "0", "--raft-addr", ":5001"}, nil, []string{"flag --node-id", "required"}},
		{"cluster negative node id", []string{"raft-cluster", "--node-id", "-1", "--raft-addr", ":5001"}, nil, []string{"flag --node-id", "not a positive integer"}},
		{"cluster without raft addr", []string{"raft-cluster", "--node-id", "1"}, nil, []string{"--raft-addr: the raft listen address"}},
		{"cluster raft addr without port", []string{"raft-cluster", "--node-id", "1", "--raft-addr", "0.0.0.0"}, nil, []string{"flag --raft-addr", "has no port"}},
		{"cluster raft addr bad port", []string{"raft-cluster", "--node-id", "1", "--raft-addr", "0.0.0.0:http"}, nil, []string{"flag --raft-addr", "not a TCP port"}},
		{"cluster peers own id", []string{"raft-cluster", "--node-id", "2", "--raft-addr", ":5001", "--peers", "1@a:5001,2@b:5001"}, nil, []string{"flag --peers", "own id 2"}},
		{"cluster peers malformed", []string{"raft-cluster", "--node-id", "1", "--raft-addr", ":5001", "--peers", "node2:5001"}, nil, []string{"flag --peers", "is not ID@HOST:PORT"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := filepath.Join(t.TempDir(), "data")
			args := tc.args
			if tc.name != "empty data dir" {
				args = append(append([]string{}, args...), "--data-dir", dataDir)
			}
			r := runCLI(t, args, tc.env)
			if r.code != 2 {
				t.Errorf("exit code %d, want 2 (stderr %q)", r.code, r.stderr)
			}
			if r.cfg != nil {
				t.Error("the node was started")
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
				t.Errorf("data dir was touched: %v", err)
			}
		})
	}
}

func TestParsePeers(t *testing.T) {
	cases := []struct {
		in      string
		self    uint64
		want    map[uint64]string
		wantErr string
	}{
		{"", 1, map[uint64]string{}, ""},
		{"2@node2:5001", 1, map[uint64]string{2: "node2:5001"}, ""},
		{"2@node2:5001,3@node3:5001", 1, map[uint64]string{2: "node2:5001", 3: "node3:5001"}, ""},
		{" 2 @ node2:5001 , 3@10.0.0.3:5001 ,", 1, map[uint64]string{2: "node2:5001", 3: "10.0.0.3:5001"}, ""},
		{"1@[::1]:5001", 2, map[uint64]string{1: "[::1]:5001"}, ""},
		{"node2:5001", 1, nil, "is not ID@HOST:PORT"},
		{"2@", 1, nil, "is not ID@HOST:PORT"},
		{"@node2:5001", 1, nil, "is not ID@HOST:PORT"},
		{"0@node0:5001", 1, nil, "node id 0 is not valid"},
		{"two@node2:5001", 1, nil, `node id "two" is not a positive integer`},
		{"-2@node2:5001", 1, nil, "not a positive integer"},
		{"2@node2", 1, nil, "has no port"},
		{"2@node2:", 1, nil, "has no port"},
		{"2@:5001", 1, nil, "has no host"},
		{"2@node2:99999", 1, nil, "not a TCP port"},
		{"2@node2:x", 1, nil, "not a TCP port"},
		{"2@a:5001,2@b:5001", 1, nil, "peer id 2 is listed twice"},
		{"1@a:5001,2@b:5001", 1, nil, "this node's own id 1"},
	}
	for _, tc := range cases {
		got, err := parsePeers(tc.in, tc.self)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parsePeers(%q): error %v, want one containing %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parsePeers(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	if s := formatPeers(map[uint64]string{3: "c:1", 2: "b:1"}); s != "2@b:1,3@c:1" {
		t.Errorf("formatPeers = %q", s)
	}
}

func TestParseConfigLine(t *testing.T) {
	cases := []struct {
		line, name, value string
		skip              bool
		wantErr           string
	}{
		{line: "", skip: true},
		{line: "   ", skip: true},
		{line: "# kafka-port = 1", skip: true},
		{line: "kafka-port = 9092", name: "kafka-port", value: "9092"},
		{line: "kafka-port: 9092", name: "kafka-port", value: "9092"},
		{line: "  kafka-port=9092  ", name: "kafka-port", value: "9092"},
		{line: "raft-addr: 0.0.0.0:5001", name: "raft-addr", value: "0.0.0.0:5001"},
		{line: "raft-addr = host:5001", name: "raft-addr", value: "host:5001"},
		{line: "peers = 2@a:1,3@b:1 # the others", name: "peers", value: "2@a:1,3@b:1"},
		{line: `rack = "a # b"`, name: "rack", value: "a # b"},
		{line: `rack = 'r1'  # comment`, name: "rack", value: "r1"},
		{line: "rack =", name: "rack", value: ""},
		{line: "KAFKA_PORT = 1", name: "kafka-port", value: "1"},
		{line: "kafka-port 9092", wantErr: "expected `name = value`"},
		{line: "= 9092", wantErr: "missing setting name"},
		{line: "kafka port = 1", wantErr: "is not a setting name"},
		{line: `rack = "open`, wantErr: "unterminated quote"},
		{line: `rack = "a" b`, wantErr: "after the quoted value"},
	}
	for _, tc := range cases {
		s, ok, err := parseConfigLine(tc.line)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error %v, want %q", tc.line, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.line, err)
		case tc.skip:
			if ok {
				t.Errorf("%q: not skipped", tc.line)
			}
		case !ok || s.name != tc.name || s.value != tc.value:
			t.Errorf("%q: got %q = %q (ok %v), want %q = %q", tc.line, s.name, s.value, ok, tc.name, tc.value)
		}
	}
}

func TestEnvName(t *testing.T) {
	for flag, want := range map[string]string{"kafka-port": "CHRONIK_KAFKA_PORT", "data-dir": "CHRONIK_DATA_DIR",
		"peers": "CHRONIK_PEERS", "default-replication-factor": "CHRONIK_DEFAULT_REPLICATION_FACTOR"} {
		if got := envName(flag); got != want {
			t.Errorf("envName(%q) = %q, want %q", flag, got, want)
		}
	}
}

func TestExitCodes(t *testing.T) {
	var stderr bytes.Buffer
	failing := deps{env: mapEnv(nil), run: func(context.Context, server.Config, *slog.Logger) error {
		return errors.New("disk on fire")
	}}
	if code := execute(context.Background(), []string{"standalone"}, &bytes.Buffer{}, &stderr, failing); code != 1 {
		t.Errorf("failing node: exit code %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "chronik-server: disk on fire") {
		t.Errorf("error not printed: %q", stderr.String())
	}

	// Cancelling the context (SIGINT/SIGTERM) stops a running node cleanly.
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	serving := deps{env: mapEnv(nil), run: func(ctx context.Context, _ server.Config, _ *slog.Logger) error {
		close(started)
		<-ctx.Done()
		return nil
	}}
	done := make(chan int)
	go func() { done <- execute(ctx, []string{"standalone"}, &bytes.Buffer{}, &bytes.Buffer{}, serving) }()
	<-started
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("clean shutdown: exit code %d, want 0", code)
	}

	// Interrupted while still joining the cluster: not an error either.
	joining := deps{env: mapEnv(nil), run: func(ctx context.Context, _ server.Config, _ *slog.Logger) error {
		<-ctx.Done()
		return fmt.Errorf("joining the cluster: %w", ctx.Err())
	}}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if code := execute(ctx, []string{"standalone"}, &bytes.Buffer{}, &bytes.Buffer{}, joining); code != 0 {
		t.Errorf("interrupted start: exit code %d, want 0", code)
	}
}

// TestStandaloneServes starts a real standalone node through the command line and checks
// that its Kafka and HTTP listeners answer.
func TestStandaloneServes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	dataDir := t.TempDir()
	var checked bool
	d := deps{env: mapEnv(nil), run: func(ctx context.Context, cfg server.Config, log *slog.Logger) error {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		n, err := server.Start(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer n.Stop()
		c, err := net.DialTimeout("tcp", n.KafkaAddr(), 5*time.Second)
		if err != nil {
			return fmt.Errorf("kafka listener: %w", err)
		}
		c.Close()
		resp, err := http.Get("http://" + n.HTTPAddr() + "/health")
		if err != nil {
			return fmt.Errorf("health: %w", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("health: %s", resp.Status)
		}
		checked = true
		return nil
	}}
	var stderr bytes.Buffer
	code := execute(context.Background(), []string{"standalone", "--kafka-port", "0", "--http-port", "0",
		"--bind", "127.0.0.1", "--data-dir", dataDir, "--raft-tick", "10ms"}, &bytes.Buffer{}, &stderr, d)
	if code != 0 || !checked {
		t.Fatalf("exit code %d, checked %v, stderr:\n%s", code, checked, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dataDir, "node.json")); err != nil {
		t.Errorf("data dir not used: %v", err)
	}
}
