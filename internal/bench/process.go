package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultProcessArgs is the argument template for a standalone chronik-server process:
// {dir} is replaced by a fresh data directory, {port} and {http-port} by free loopback
// ports. When the template has {http-port}, the bench reads the server's metrics there.
const DefaultProcessArgs = "standalone --data-dir {dir} --kafka-port {port} --bind 127.0.0.1 --advertised-host 127.0.0.1 --http-port {http-port} --log-level warn"

// Process runs a standalone chronik-server binary as a separate process, so that the
// server's CPU is not in the benchmark's process (the fairer setup: the client's work
// is then not charged to the server's runtime, and `perf record -p PID` can profile the
// server alone). The process gets a fresh data directory and is sent SIGTERM, then
// SIGKILL after 10 s, when stopped.
type Process struct {
	Binary string
	// Args is the argument template (DefaultProcessArgs when empty), split on spaces.
	Args string
	// DataDir is where the data directory is made ("" = the system temp dir).
	DataDir string
	// OnStart, if set, is called with the server's pid once it serves Kafka requests.
	OnStart func(pid int)

	metrics []string // the running server's /metrics address, if its args have one
}

func (t *Process) Name() string { return "chronik" }

// MetricsURLs implements metricsTarget.
func (t *Process) MetricsURLs() []string { return t.metrics }

// argsTemplate is the argument template to use: tmpl, or DefaultProcessArgs when empty.
func argsTemplate(tmpl string) string {
	if strings.TrimSpace(tmpl) == "" {
		return DefaultProcessArgs
	}
	return tmpl
}

// ExpandArgs fills an argument template.
func ExpandArgs(tmpl, dir string, port, httpPort int) []string {
	var args []string
	for _, f := range strings.Fields(argsTemplate(tmpl)) {
		f = strings.ReplaceAll(f, "{dir}", dir)
		f = strings.ReplaceAll(f, "{port}", strconv.Itoa(port))
		f = strings.ReplaceAll(f, "{http-port}", strconv.Itoa(httpPort))
		args = append(args, f)
	}
	return args
}

// metricsURL is the /metrics address of a server on loopback.
func metricsURL(port int) string { return fmt.Sprintf("http://127.0.0.1:%d/metrics", port) }

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (t *Process) Start(ctx context.Context) ([]string, func(), error) {
	if _, err := os.Stat(t.Binary); err != nil {
		return nil, nil, fmt.Errorf("chronik-server binary: %w", err)
	}
	dir, err := os.MkdirTemp(t.DataDir, "chronik-bench-")
	if err != nil {
		return nil, nil, err
	}
	ports, err := FreePorts(2)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	port, httpPort := ports[0], ports[1]
	t.metrics = nil
	if strings.Contains(argsTemplate(t.Args), "{http-port}") {
		t.metrics = []string{metricsURL(httpPort)}
	}
	logPath := filepath.Join(dir, "server.log")
	logf, err := os.Create(logPath)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	cmd := exec.Command(t.Binary, ExpandArgs(t.Args, filepath.Join(dir, "data"), port, httpPort)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("start %s: %w", t.Binary, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		logf.Close()
		os.RemoveAll(dir)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := waitKafka(ctx, addr, exited, 60*time.Second); err != nil {
		select {
		case <-exited:
			err = fmt.Errorf("%w (%v); server log:\n%s", err, waitErr, TailFile(logPath, 2000))
		default:
		}
		stop()
		return nil, nil, fmt.Errorf("%s %v: %w", t.Binary, cmd.Args[1:], err)
	}
	if t.OnStart != nil {
		t.OnStart(cmd.Process.Pid)
	}
	return []string{addr}, stop, nil
}

// waitKafka waits until addr answers a Metadata request that lists at least one broker.
func waitKafka(ctx context.Context, addr string, exited <-chan struct{}, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
		if err == nil {
			pctx, pcancel := context.WithTimeout(ctx, time.Second)
			err = cl.Ping(pctx)
			pcancel()
			cl.Close()
			if err == nil {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("server exited before serving")
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// tail returns the last n bytes of a file.
// TailFile returns the last n bytes of a file (its error text if it cannot be read).
func TailFile(path string, n int64) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if int64(len(b)) > n {
		b = b[int64(len(b))-n:]
	}
	return string(b)
}
