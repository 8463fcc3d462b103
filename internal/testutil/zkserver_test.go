package testutil

import (
	"net"
	"testing"
	"time"
)

func TestIntegration_ZooKeeperStartKillRestart(t *testing.T) {
	start := time.Now()
	z := StartZooKeeper(t)
	t.Logf("started in %v at %s", time.Since(start), z.Addr())
	if !z.serving() {
		t.Fatal("not answering")
	}
	z.Kill()
	if _, err := net.DialTimeout("tcp", z.Addr(), 200*time.Millisecond); err == nil {
		t.Fatal("still listening after Kill")
	}
	start = time.Now()
	z.Restart()
	t.Logf("restarted in %v", time.Since(start))
	if !z.serving() {
		t.Fatal("not answering after restart")
	}
	if tail := z.LogTail(5); tail == "" {
		t.Error("empty log")
	}
	z.Stop()
}
