//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// server is one chronik-server process.
type server struct {
	t       *testing.T
	name    string
	args    []string // everything after the binary; reused by restart
	port    int      // Kafka port
	dataDir string
	logPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the process exited
	err  error         // its exit status
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startStandalone starts `chronik-server standalone` on a free port with a fresh data
// dir (or dataDir when not empty) and waits until it answers Kafka requests.
func startStandalone(t *testing.T, extra ...string) *server {
	t.Helper()
	for attempt := 1; ; attempt++ {
		port := freePort(t)
		dir := filepath.Join(t.TempDir(), "data")
		args := append([]string{"standalone", "--bind", "127.0.0.1", "--advertised-host", "localhost",
			"--kafka-port", strconv.Itoa(port), "--http-port", "-1", "--data-dir", dir}, extra...)
		s := newServer(t, "standalone", args, port, dir)
		s.start()
		err := s.waitReadyErr(1, 30*time.Second)
		if err == nil {
			return s
		}
		if attempt < 3 && s.exited() && s.portTaken() {
			t.Logf("port %d was taken by someone else; retrying with another", port)
			continue
		}
		t.Fatal(err)
	}
}

// portTaken reports whether the server log says its port was in use (another process
// took the free port between freePort and the server's bind).
func (s *server) portTaken() bool {
	b, _ := os.ReadFile(s.logPath)
	return bytes.Contains(b, []byte("address already in use"))
}

func newServer(t *testing.T, name string, args []string, port int, dataDir string) *server {
	s := &server{t: t, name: name, args: args, port: port, dataDir: dataDir,
		logPath: filepath.Join(t.TempDir(), name+".log")}
	t.Cleanup(func() {
		s.kill()
		if b, _ := os.ReadFile(s.logPath); bytes.Contains(b, []byte("WARNING: DATA RACE")) {
			i := bytes.Index(b, []byte("WARNING: DATA RACE"))
			t.Errorf("%s reported a data race (%s):\n%s", s.name, s.logPath, tail(b[i:min(len(b), i+6000)], 6000))
		}
		if t.Failed() {
			t.Logf("--- %s log (%s), last lines:\n%s", s.name, s.logPath, s.logTail(40))
		}
	})
	return s
}

func (s *server) addr() string { return "localhost:" + strconv.Itoa(s.port) }

// start launches the process (appending to its log file).
func (s *server) start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil && !s.exited() {
		s.t.Fatalf("%s: already running", s.name)
	}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	fmt.Fprintf(logf, "=== %s %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(s.args, " "))
	cmd := exec.Command(serverBin, s.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = cleanEnv()
	if err := cmd.Start(); err != nil {
		logf.Close()
		s.t.Fatalf("start %s: %v", s.name, err)
	}
	s.cmd, s.done, s.err = cmd, make(chan struct{}), nil
	done := s.done
	go func() {
		err := cmd.Wait()
		logf.Close()
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		close(done)
	}()
}

// cleanEnv is the test's environment without CHRONIK_* settings, so only the command
// line configures the server.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CHRONIK_") {
			env = append(env, kv)
		}
	}
	return env
}

func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// pid is the process id of the running process.
func (s *server) pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd.Process.Pid
}

// waitReady polls until the Kafka port answers ApiVersions and a Metadata listing at
// least brokers brokers and a controller, failing the test at the deadline or when the
// process exits.
func (s *server) waitReady(brokers int, timeout time.Duration) {
	s.t.Helper()
	if err := s.waitReadyErr(brokers, timeout); err != nil {
		s.t.Fatal(err)
	}
}

func (s *server) waitReadyErr(brokers int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if s.exited() {
			return fmt.Errorf("%s exited while starting (%v); log:\n%s", s.name, s.err, s.logTail(30))
		}
		last := probe(s.addr(), brokers)
		if last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v: %v; log:\n%s", s.name, timeout, last, s.logTail(30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// probe sends ApiVersions and Metadata directly to addr (no client retries).
func probe(addr string, brokers int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequestRetries(0),
		kgo.DialTimeout(time.Second), kgo.MetadataMinAge(10*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	// franz-go keeps seed brokers under ids from math.MinInt32; address the seed directly.
	br := cl.Broker(math.MinInt32)
	av, err := br.Request(ctx, kmsg.NewPtrApiVersionsRequest())
	if err != nil {
		return fmt.Errorf("ApiVersions: %w", err)
	}
	if ec := av.(*kmsg.ApiVersionsResponse).ErrorCode; ec != 0 {
		return fmt.Errorf("ApiVersions error code %d", ec)
	}
	mreq := kmsg.NewPtrMetadataRequest()
	mreq.Topics = []kmsg.MetadataRequestTopic{} // none: brokers and controller only
	mr, err := br.Request(ctx, mreq)
	if err != nil {
		return fmt.Errorf("Metadata: %w", err)
	}
	m := mr.(*kmsg.MetadataResponse)
	if len(m.Brokers) < brokers {
		return fmt.Errorf("metadata lists %d brokers, want %d", len(m.Brokers), brokers)
	}
	if m.ControllerID < 0 {
		return errors.New("metadata has no controller yet")
	}
	return nil
}

// stop sends SIGTERM and waits for a clean exit (SIGKILL after 20s, failing the test).
func (s *server) stop() {
	s.t.Helper()
	if s.cmd == nil || s.exited() {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		if s.err != nil {
			s.t.Errorf("%s exited with %v after SIGTERM; log:\n%s", s.name, s.err, s.logTail(20))
		}
	case <-time.After(20 * time.Second):
		s.kill()
		s.t.Errorf("%s did not exit within 20s of SIGTERM; killed", s.name)
	}
}

// kill sends SIGKILL and waits until the process is gone.
func (s *server) kill() {
	if s.cmd == nil || s.exited() {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// logTail is the last n lines of the server log.
func (s *server) logTail(n int) string {
	b, _ := os.ReadFile(s.logPath)
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// runCmd runs a command with a timeout and returns its stdout; a failure or timeout
// fails the test with stderr.
func runCmd(t *testing.T, timeout time.Duration, stdin *os.File, env []string, name string, args ...string) []byte {
	t.Helper()
	out, errOut, err := runCmdErr(timeout, stdin, env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\nstderr:\n%s\nstdout (tail):\n%s", name, strings.Join(args, " "), err, tail(errOut, 4000), tail(out, 2000))
	}
	return out
}

func runCmdErr(timeout time.Duration, stdin *os.File, env []string, name string, args ...string) (stdout, stderr []byte, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	if env != nil {
		cmd.Env = append(cleanEnv(), env...)
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v (%v)", timeout, err)
	}
	return o.Bytes(), e.Bytes(), err
}

func tail(b []byte, n int) string {
	if len(b) > n {
		return "..." + string(b[len(b)-n:])
	}
	return string(b)
}

// client is a franz-go client for s, closed at the end of the test.
func client(t *testing.T, addrs []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addrs...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}
