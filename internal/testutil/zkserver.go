// Package testutil holds helpers for zkafka's integration tests.
package testutil

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Where the Debian "zookeeper" package puts its files.
const (
	zkConfDir = "/etc/zookeeper/conf"
	zkJar     = "/usr/share/java/zookeeper.jar"
	// slf4j-simple makes ZooKeeper log to stderr (captured in the log file);
	// without a binding slf4j discards everything.
	slf4jSimpleJar = "/usr/share/java/slf4j-simple.jar"
	zkMainClass    = "org.apache.zookeeper.server.ZooKeeperServerMain"
)

// ZooKeeper is a private single-node ZooKeeper server for one test.
type ZooKeeper struct {
	t       testing.TB
	dir     string
	cfgPath string
	logPath string
	port    int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd exits
}

// StartZooKeeper starts ZooKeeper from the Debian package's jars on a free
// port (tickTime=500, so sessions can be as short as 1 s), with its data and
// log in t.TempDir(), waits until it serves requests, and registers cleanup
// that kills it (and prints the log tail if the test failed).
func StartZooKeeper(t testing.TB) *ZooKeeper {
	t.Helper()
	if _, err := exec.LookPath("java"); err != nil {
		t.Fatalf("testutil: java not found in PATH; run `make test` (it installs the Debian zookeeper package and a JRE)")
	}
	if _, err := os.Stat(zkJar); err != nil {
		t.Fatalf("testutil: ZooKeeper jars not found (%s): run `make test` (it installs the Debian zookeeper package)", zkJar)
	}
	dir := t.TempDir()
	z := &ZooKeeper{t: t, dir: dir, logPath: filepath.Join(dir, "zookeeper.log"), cfgPath: filepath.Join(dir, "zoo.cfg")}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("ZooKeeper log tail (%s):\n%s", z.logPath, z.LogTail(40))
		}
		z.Kill()
	})
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		z.port = FreePort(t)
		if err := z.writeConfig(); err != nil {
			t.Fatalf("testutil: %v", err)
		}
		if lastErr = z.start(); lastErr == nil {
			return z
		}
		z.Kill()
	}
	t.Fatalf("testutil: ZooKeeper did not start: %v\nlog tail:\n%s", lastErr, z.LogTail(40))
	return nil
}

func (z *ZooKeeper) writeConfig() error {
	data := filepath.Join(z.dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	cfg := fmt.Sprintf(`tickTime=500
dataDir=%s
clientPort=%d
clientPortAddress=127.0.0.1
admin.enableServer=false
maxSessionTimeout=60000
4lw.commands.whitelist=ruok,srvr,stat,cons,dump
maxClientCnxns=0
`, data, z.port)
	return os.WriteFile(z.cfgPath, []byte(cfg), 0o644)
}

func (z *ZooKeeper) start() error {
	logf, err := os.OpenFile(z.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cp := zkConfDir + ":" + zkJar
	if _, err := os.Stat(slf4jSimpleJar); err == nil {
		cp += ":" + slf4jSimpleJar
	}
	cmd := exec.Command("java",
		"-Xms32m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
		"-Dzookeeper.jmx.log4j.disable=true",
		"-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
		"-Dorg.slf4j.simpleLogger.showDateTime=true",
		"-Dzookeeper.admin.enableServer=false",
		"-cp", cp, zkMainClass, z.cfgPath)
	cmd.Dir = z.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	z.mu.Lock()
	z.cmd, z.done = cmd, done
	z.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("java exited: %v", cmd.ProcessState)
		default:
		}
		if z.serving() {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no answer to ruok on %s after 30s", z.Addr())
}

// fourLetter sends a four-letter-word command and returns the answer.
func (z *ZooKeeper) fourLetter(cmd string) string {
	c, err := net.DialTimeout("tcp", z.Addr(), 200*time.Millisecond)
	if err != nil {
		return ""
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte(cmd)); err != nil {
		return ""
	}
	out, _ := io.ReadAll(c)
	return string(out)
}

// serving reports whether the server accepts sessions. "ruok" answers
// "imok" before that, so ask "srvr", which reports the mode only once the
// server is serving requests.
func (z *ZooKeeper) serving() bool {
	return strings.Contains(z.fourLetter("srvr"), "Mode:")
}

// Addr is "127.0.0.1:port".
func (z *ZooKeeper) Addr() string { return fmt.Sprintf("127.0.0.1:%d", z.port) }

// Port is the client port.
func (z *ZooKeeper) Port() int { return z.port }

// Connect is Addr with a chroot appended ("127.0.0.1:port/chroot").
func (z *ZooKeeper) Connect(chroot string) string { return z.Addr() + chroot }

// DataDir is the server's dataDir.
func (z *ZooKeeper) DataDir() string { return filepath.Join(z.dir, "data") }

// LogPath is the server's log file.
func (z *ZooKeeper) LogPath() string { return z.logPath }

func (z *ZooKeeper) signal(sig syscall.Signal) {
	z.mu.Lock()
	cmd, done := z.cmd, z.done
	z.cmd = nil
	z.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Kill SIGKILLs the server (an outage: sessions survive on disk only as far
// as ZooKeeper's own recovery goes) and waits for it to exit.
func (z *ZooKeeper) Kill() { z.signal(syscall.SIGKILL) }

// Stop SIGTERMs the server and waits for it to exit.
func (z *ZooKeeper) Stop() { z.signal(syscall.SIGTERM) }

// Restart starts the server again on the same port and dataDir (stopping
// it first if it is running) and waits until it answers.
func (z *ZooKeeper) Restart() {
	z.t.Helper()
	z.Kill()
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		if err = z.start(); err == nil {
			return
		}
		z.Kill() // port may still be in TIME_WAIT/bound: retry
		time.Sleep(250 * time.Millisecond)
	}
	z.t.Fatalf("testutil: ZooKeeper restart failed: %v\nlog tail:\n%s", err, z.LogTail(40))
}

// LogTail returns the last n lines of the server log.
func (z *ZooKeeper) LogTail(n int) string {
	data, err := os.ReadFile(z.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
