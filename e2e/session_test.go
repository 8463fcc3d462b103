package e2e

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// TestIntegration_SessionExpiryReregisters pauses a broker (SIGSTOP) past its
// ZooKeeper session timeout: its ephemeral registration disappears, and when
// it runs again it notices the expired session and registers itself again
// with a new broker epoch (czxid), and serves as before.
func TestIntegration_SessionExpiryReregisters(t *testing.T) {
	e := newEnv(t, 2, nil)
	conn, _, err := zk.Connect([]string{e.zk.Addr()}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const path = "/zkafka/brokers/ids/2"
	_, before, err := conn.Get(path)
	if err != nil {
		t.Fatal(err)
	}
	b := e.c.Brokers[1]
	if err := b.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Signal(syscall.SIGCONT) }) // never leave it stopped
	eventually(t, 30*time.Second, func() error {
		if ok, _, err := conn.Exists(path); err != nil || ok {
			return fmt.Errorf("%s still exists (%v)", path, err)
		}
		return nil
	})
	if err := b.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		_, st, err := conn.Get(path)
		if err != nil {
			return err
		}
		if st.Czxid == before.Czxid || st.EphemeralOwner == before.EphemeralOwner {
			return fmt.Errorf("registration not renewed")
		}
		return nil
	})
	e.waitBrokers(2)
	e.createTopic("after-expiry", 2, 2)
	e.waitTopic("after-expiry", 2)
	e.kcat("x\ny\n", "-b", b.Addr(), "-t", "after-expiry", "-P")
	if out := e.kcat("", "-b", b.Addr(), "-t", "after-expiry", "-C", "-o", "beginning", "-e", "-q"); len(out) != 4 {
		t.Fatalf("consumed %q after session expiry", out)
	}
}
