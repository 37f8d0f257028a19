//go:build e2e

// Package e2e runs the real chronik-server binary against real Kafka clients: kcat,
// kafka-python, confluent-kafka (librdkafka) and franz-go, plus crash/restart and the
// seed's 3-node scenarios.
//
//	go test -tags e2e -count=1 ./e2e/ -v
//
// CHRONIK_E2E_RACE=1 builds the server with -race (a data race reported in a server log
// fails the test that ran it).
//
// Needs kcat and, for the python tests, /usr/bin/python3 with the kafka (kafka-python)
// and confluent_kafka modules (Debian: apt-get install -y kcat python3-kafka
// python3-confluent-kafka python3-lz4 python3-snappy python3-zstandard). A missing
// tool skips its tests with a message saying what to install, except when CI is set in
// the environment: there a missing tool fails the test.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// serverBin is the chronik-server binary built once by TestMain.
var serverBin string

const python = "/usr/bin/python3"

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "chronik-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	serverBin = filepath.Join(dir, "chronik-server")
	args := []string{"build", "-o", serverBin}
	if os.Getenv("CHRONIK_E2E_RACE") != "" {
		// A race-detector binary: any race report in a server log fails its test.
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "./cmd/chronik-server")...)
	build.Dir = ".." // the module root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building chronik-server failed:", err)
		return 1
	}
	return m.Run()
}

// need skips the test when a tool is missing (fails it under CI, which installs them).
func need(t *testing.T, what, install string, ok bool) {
	t.Helper()
	if ok {
		return
	}
	msg := fmt.Sprintf("%s not available; install with: %s", what, install)
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (CI is set, so this is a failure)")
	}
	t.Skip(msg)
}

func needKcat(t *testing.T) {
	t.Helper()
	need(t, "kcat", "apt-get install -y kcat", hasKcat())
}

// needPython checks /usr/bin/python3 can import every module.
func needPython(t *testing.T, pkg string, modules ...string) {
	t.Helper()
	script := "import " + strings.Join(modules, ", ")
	err := exec.Command(python, "-c", script).Run()
	need(t, "python modules "+strings.Join(modules, ", ")+" for "+python, "apt-get install -y "+pkg, err == nil)
}

// pythonHas reports whether /usr/bin/python3 can import module.
func pythonHas(module string) bool {
	return exec.Command(python, "-c", "import "+module).Run() == nil
}

func hasKcat() bool {
	_, err := exec.LookPath("kcat")
	return err == nil
}
