package testutil

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// RepoRoot returns the repository root (the directory holding go.mod).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Binary builds bin/zkafka once per test process (into a temp dir, so tests
// never use a stale binary) and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "zkafka-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "zkafka")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/zkafka")
		cmd.Dir = RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/zkafka: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// Broker is one zkafka broker process started by a test.
type Broker struct {
	t       testing.TB
	ID      int
	Port    int
	Dir     string // log dir
	Config  string // properties file
	LogFile string
	cmd     *exec.Cmd
	done    chan struct{}
	exitErr error
}

// Addr is the broker's listener address.
func (b *Broker) Addr() string { return fmt.Sprintf("127.0.0.1:%d", b.Port) }

// Cluster is a set of broker processes on one ZooKeeper chroot.
type Cluster struct {
	t       testing.TB
	ZK      string // zookeeper.connect with chroot
	Brokers []*Broker
}

// StartCluster starts n brokers (ids 1..n) against zkConnect (which may carry
// a chroot) with the given extra properties, and waits until each listens.
func StartCluster(t testing.TB, zkConnect string, n int, props map[string]string) *Cluster {
	t.Helper()
	c := &Cluster{t: t, ZK: zkConnect}
	base := t.TempDir()
	for i := 1; i <= n; i++ {
		b := &Broker{t: t, ID: i, Port: FreePort(t), Dir: filepath.Join(base, fmt.Sprintf("broker-%d", i))}
		b.Config = filepath.Join(base, fmt.Sprintf("broker-%d.properties", i))
		b.LogFile = filepath.Join(base, fmt.Sprintf("broker-%d.log", i))
		var sb strings.Builder
		fmt.Fprintf(&sb, "broker.id=%d\nlisteners=PLAINTEXT://127.0.0.1:%d\nlog.dirs=%s\nzookeeper.connect=%s\nzookeeper.session.timeout.ms=6000\n", i, b.Port, b.Dir, zkConnect)
		for k, v := range props {
			fmt.Fprintf(&sb, "%s=%s\n", k, v)
		}
		if err := os.WriteFile(b.Config, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		c.Brokers = append(c.Brokers, b)
	}
	for _, b := range c.Brokers {
		b.Start()
	}
	for _, b := range c.Brokers {
		b.WaitListening(30 * time.Second)
	}
	t.Cleanup(func() {
		for _, b := range c.Brokers {
			if b.Running() {
				if err := b.Stop(); err != nil {
					t.Errorf("broker %d did not shut down cleanly on SIGTERM: %v", b.ID, err)
				}
			}
		}
		if t.Failed() {
			for _, b := range c.Brokers {
				b.dumpLog()
			}
		}
		if dir := os.Getenv("ZKAFKA_TEST_KEEP_LOGS"); dir != "" {
			c.keepLogs(dir)
		}
	})
	return c
}

// keepLogs copies the brokers' logs into dir (ZKAFKA_TEST_KEEP_LOGS), named
// after the test, for reading after a passing run.
func (c *Cluster) keepLogs(dir string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.t.Logf("keep logs: %v", err)
		return
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(c.t.Name())
	for _, b := range c.Brokers {
		data, err := os.ReadFile(b.LogFile)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-broker-%d.log", name, b.ID)), data, 0o644)
		}
		if err != nil {
			c.t.Logf("keep logs: %v", err)
		}
	}
}

// Bootstrap is a comma-separated list of the brokers' addresses.
func (c *Cluster) Bootstrap() string {
	var addrs []string
	for _, b := range c.Brokers {
		addrs = append(addrs, b.Addr())
	}
	return strings.Join(addrs, ",")
}

// Start starts the broker process.
func (b *Broker) Start(extraArgs ...string) {
	b.t.Helper()
	f, err := os.OpenFile(b.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		b.t.Fatal(err)
	}
	args := append([]string{"broker", b.Config}, extraArgs...)
	b.cmd = exec.Command(Binary(b.t), args...)
	b.cmd.Stdout, b.cmd.Stderr = f, f
	if err := b.cmd.Start(); err != nil {
		f.Close()
		b.t.Fatal(err)
	}
	b.done = make(chan struct{})
	go func() {
		b.exitErr = b.cmd.Wait()
		f.Close()
		close(b.done)
	}()
}

// WaitListening waits until the broker accepts connections.
func (b *Broker) WaitListening(timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-b.done:
			b.dumpLog()
			b.t.Fatalf("broker %d exited during start-up: %v", b.ID, b.exitErr)
		default:
		}
		if c, err := net.DialTimeout("tcp", b.Addr(), time.Second); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.dumpLog()
	b.t.Fatalf("broker %d did not listen on %s within %s", b.ID, b.Addr(), timeout)
}

// Running reports whether the process is alive.
func (b *Broker) Running() bool {
	if b.done == nil {
		return false
	}
	select {
	case <-b.done:
		return false
	default:
		return true
	}
}

// Stop sends SIGTERM and waits for a clean exit (SIGKILL after 30 s).
func (b *Broker) Stop() error {
	if !b.Running() {
		return b.exitErr
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(30 * time.Second):
		b.t.Errorf("broker %d did not exit within 30s of SIGTERM", b.ID)
		b.cmd.Process.Kill()
		<-b.done
	}
	return b.exitErr
}

// Kill sends SIGKILL and waits for the process to be gone.
func (b *Broker) Kill() {
	if !b.Running() {
		return
	}
	b.cmd.Process.Kill()
	<-b.done
}

// Wait waits for the process to exit by itself and returns its error.
func (b *Broker) Wait(ctx context.Context) error {
	select {
	case <-b.done:
		return b.exitErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Log returns what the broker process printed.
func (b *Broker) Log() string {
	data, _ := os.ReadFile(b.LogFile)
	return string(data)
}

func (b *Broker) dumpLog() {
	data, _ := os.ReadFile(b.LogFile)
	if len(data) > 20000 {
		data = append([]byte("...\n"), data[len(data)-20000:]...)
	}
	b.t.Logf("---- broker %d log (%s) ----\n%s", b.ID, b.LogFile, bytes.TrimSpace(data))
}

// Signal sends sig to the broker process (e.g. SIGSTOP/SIGCONT to pause it
// past its ZooKeeper session timeout).
func (b *Broker) Signal(sig os.Signal) error {
	if !b.Running() {
		return fmt.Errorf("broker %d is not running", b.ID)
	}
	return b.cmd.Process.Signal(sig)
}
