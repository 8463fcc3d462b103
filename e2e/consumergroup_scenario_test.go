package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zkafka/zkafka/internal/testutil"
)

// TestIntegration_RebalanceScenario runs testdata/scenarios/rebalance.sh
// against a private ZooKeeper and three brokers, so the documented scenario
// keeps working: three consumers settle, kill -9 moves partitions after the
// session timeout, a clean close moves them at once, and added partitions
// are picked up.
func TestIntegration_RebalanceScenario(t *testing.T) {
	e := newEnv(t, 3, nil)
	zkcli := "/usr/share/zookeeper/bin/zkCli.sh"
	if _, err := os.Stat(zkcli); err != nil {
		t.Skipf("zkCli.sh not installed: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	root := testutil.RepoRoot()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "testdata/scenarios/rebalance.sh"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "ZK="+e.c.ZK, "BOOTSTRAP="+e.c.Bootstrap(), "ZKAFKA="+testutil.Binary(t))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("rebalance.sh output:\n%s", out.String())
	if err != nil {
		t.Fatalf("rebalance.sh: %v", err)
	}
	text := out.String()
	settles := regexp.MustCompile(`settled in (\S+) \((\d+) partitions over ([^)]*)\)`).FindAllStringSubmatch(text, -1)
	if len(settles) != 4 {
		t.Fatalf("want 4 settle lines, got %d", len(settles))
	}
	want := []struct{ parts, members string }{{"6", "c1, c2, c3"}, {"6", "c2, c3"}, {"6", "c3"}, {"9", "c3"}}
	for i, s := range settles {
		if s[2] != want[i].parts || !membersMatch(s[3], want[i].members) {
			t.Errorf("step %d: %s partitions over %s, want %s over %s", i+1, s[2], s[3], want[i].parts, want[i].members)
		}
	}
	// ZooKeeper expires a session 6 s after its last ping, which the client
	// sends every 2 s: the move comes 4-6 s after the kill, never at once
	if d, err := time.ParseDuration(settles[1][1]); err != nil || d < 4*time.Second {
		t.Errorf("after kill -9 the group settled in %s, before the session could time out", settles[1][1])
	}
	for _, s := range []string{"Adding partitions succeeded", "get /zkafka/consumers/", "_c3-0"} {
		if !strings.Contains(text, s) {
			t.Errorf("output lacks %q", s)
		}
	}
}

// membersMatch compares "g_c1, g_c2" with "c1, c2".
func membersMatch(got, want string) bool {
	g := strings.Split(got, ", ")
	w := strings.Split(want, ", ")
	if len(g) != len(w) {
		return false
	}
	for i := range g {
		if !strings.HasSuffix(g[i], "_"+w[i]) {
			return false
		}
	}
	return true
}
