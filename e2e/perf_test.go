package e2e

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// zkafka perf produce and consume against one broker: the produce total
// line counts every record, and the consumer reads exactly that many back.
func TestIntegration_PerfTools(t *testing.T) {
	e := newEnv(t, 1, nil)
	boot := e.c.Bootstrap()
	e.run("", "topics", "--bootstrap-server", boot, "--create", "--topic", "perf", "--partitions", "3", "--replication-factor", "1")

	out := e.run("", "perf", "produce", "--bootstrap-server", boot, "--topic", "perf", "--num-records", "20000",
		"--record-size", "100", "--throughput", "-1", "--producer-props", "acks=all", "linger.ms=5", "--producer-props", "compression.type=lz4")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	total := lines[len(lines)-1]
	want := regexp.MustCompile(`^20000 records sent, [0-9.]+ records/sec \([0-9.]+ MB/sec\), [0-9.]+ ms avg latency, [0-9.]+ ms max latency, \d+ ms 50th, \d+ ms 95th, \d+ ms 99th, \d+ ms 99.9th\.$`)
	if !want.MatchString(total) {
		t.Fatalf("perf produce total line %q does not match %v", total, want)
	}

	out = e.run("", "perf", "consume", "--bootstrap-server", boot, "--topic", "perf", "--messages", "20000", "--timeout", "20000")
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "start.time, end.time, data.consumed.in.MB") {
		t.Fatalf("perf consume printed %q", out)
	}
	fields := strings.Split(lines[1], ", ")
	if len(fields) != 10 {
		t.Fatalf("perf consume result %q: %d fields, want 10", lines[1], len(fields))
	}
	if n, _ := strconv.Atoi(fields[4]); n != 20000 {
		t.Fatalf("perf consume read %s records, want 20000", fields[4])
	}
	if mb, _ := strconv.ParseFloat(fields[2], 64); mb*(1<<20) < 20000*100-0.0001*(1<<20) { // printed with 4 decimals
		t.Fatalf("perf consume read %s MB, want at least the 20000 x 100 B produced", fields[2])
	}

	// Asking for more than there is ends after --timeout with an error and the partial count.
	_, errOut, err := e.tryRun("", "perf", "consume", "--bootstrap-server", boot, "--topic", "perf", "--messages", "20001", "--timeout", "1500")
	if err == nil || !strings.Contains(errOut, "20000 of 20001 read") {
		t.Fatalf("perf consume of more records than stored: err %v, stderr %q", err, errOut)
	}
}
