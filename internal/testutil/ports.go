package testutil

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Ports for brokers and ZooKeeper servers that tests kill and restart on the
// same port. A port the kernel handed out from its ephemeral range (":0")
// can be taken, while its server is down, as the source port of any outgoing
// connection (a client reconnecting to ZooKeeper, another test package), and
// the restart then fails with "address already in use". So ports are chosen
// below the ephemeral range, where connect never picks, and reserved across
// the test processes `go test ./...` runs in parallel with a lock file per
// port, held until the test ends.

// portLockDir holds one lock file per reserved port.
var portLockDir = filepath.Join(os.TempDir(), "zkafka-test-ports")

// reservablePorts is the range ports are chosen from: [10000, start of the
// ephemeral range), at most [10000, 32768).
func reservablePorts() (lo, hi int) {
	lo, hi = 10000, 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > lo+1000 {
				hi = n
			}
		}
	}
	return lo, hi
}

// FreePort reserves a TCP port on 127.0.0.1 for the rest of the test: no
// other test process is given it, and no outgoing connection takes it while
// its server is down.
func FreePort(t testing.TB) int {
	t.Helper()
	port, release, err := reservePort()
	if err != nil {
		t.Fatalf("testutil: %v", err)
	}
	t.Cleanup(release)
	return port
}

func reservePort() (int, func(), error) {
	if err := os.MkdirAll(portLockDir, 0o777); err != nil {
		return 0, nil, fmt.Errorf("port lock dir: %w", err)
	}
	lo, hi := reservablePorts()
	for range 1000 {
		port := lo + rand.IntN(hi-lo)
		f, err := os.OpenFile(filepath.Join(portLockDir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			return 0, nil, fmt.Errorf("port lock: %w", err)
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
			f.Close() // another test process holds it
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			f.Close() // in use by something else
			continue
		}
		ln.Close()
		return port, func() { f.Close() }, nil
	}
	return 0, nil, fmt.Errorf("no free port in [%d, %d) after 1000 tries", lo, hi)
}
