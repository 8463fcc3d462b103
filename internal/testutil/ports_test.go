package testutil

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// A reserved port is below the ephemeral range, bindable, and locked for
// other test processes until released.
func TestReservePort(t *testing.T) {
	lo, hi := reservablePorts()
	seen := map[int]bool{}
	var releases []func()
	for range 20 {
		port, release, err := reservePort()
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, release)
		if port < lo || port >= hi {
			t.Fatalf("port %d outside [%d, %d)", port, lo, hi)
		}
		if seen[port] {
			t.Fatalf("port %d reserved twice", port)
		}
		seen[port] = true
	}
	// Another process (another open file description) cannot lock it.
	for port := range seen {
		f, err := os.OpenFile(filepath.Join(portLockDir, strconv.Itoa(port)), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err == nil {
			t.Fatalf("port %d: lock taken while reserved", port)
		}
		f.Close()
		break
	}
	for _, r := range releases {
		r()
	}
}
