package main

import (
	"strings"
	"testing"
	"time"
)

func TestPercentiles(t *testing.T) {
	var s []time.Duration
	for i := 1000; i >= 1; i-- {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	got := percentiles(s, 0.5, 0.95, 0.99, 0.999)
	want := []time.Duration{501 * time.Millisecond, 951 * time.Millisecond, 991 * time.Millisecond, 1000 * time.Millisecond}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("percentile %d: got %v, want %v", i, got[i], want[i])
		}
	}
	if got := percentiles(nil, 0.5); got[0] != 0 {
		t.Errorf("no samples: got %v", got)
	}
}

func TestPerfStatsLines(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := newPerfStats(4, t0)
	for i, ms := range []int{10, 20, 30, 40} {
		s.record(int64(i), time.Duration(ms)*time.Millisecond, 1<<20)
	}
	if got, want := s.window(t0.Add(2*time.Second)), "4 records sent, 2.0 records/sec (2.00 MB/sec), 25.0 ms avg latency, 40.0 ms max latency."; got != want {
		t.Errorf("window: got %q, want %q", got, want)
	}
	s.record(4, 50*time.Millisecond, 1<<20)
	if got, want := s.window(t0.Add(3*time.Second)), "1 records sent, 1.0 records/sec (1.00 MB/sec), 50.0 ms avg latency, 50.0 ms max latency."; got != want {
		t.Errorf("second window: got %q, want %q", got, want)
	}
	want := "5 records sent, 1.7 records/sec (1.67 MB/sec), 30.0 ms avg latency, 50.0 ms max latency, 30 ms 50th, 50 ms 95th, 50 ms 99th, 50 ms 99.9th."
	if got := s.total(t0.Add(3 * time.Second)); got != want {
		t.Errorf("total: got %q, want %q", got, want)
	}
}

func TestPerfSampling(t *testing.T) {
	s := newPerfStats(2_000_000, time.Now())
	for i := int64(0); i < 2_000_000; i++ {
		s.record(i, time.Millisecond, 1)
	}
	if len(s.samples) > 500_000 || len(s.samples) < 400_000 {
		t.Errorf("kept %d latency samples of 2M records, want about 500k", len(s.samples))
	}
}

func TestPerfProducerOptions(t *testing.T) {
	for _, tc := range []struct {
		props   []string
		boot    string
		wantErr string
	}{
		{props: []string{"acks=all linger.ms=5", "batch.size=1048576", "compression.type=zstd"}, boot: "b:9092"},
		{props: []string{"bootstrap.servers=x:1"}, boot: "x:1"},
		{props: []string{"acks=1", "enable.idempotence=false"}, boot: "b:9092"},
		{props: []string{"acks=2"}, wantErr: "acks"},
		{props: []string{"acks=1 enable.idempotence=true"}, wantErr: "needs acks=all"},
		{props: []string{"linger"}, wantErr: "expected name=value"},
		{props: []string{"compression.type=brotli"}, wantErr: "compression.type"},
		{props: []string{"buffer.memory=1"}, wantErr: "not a producer setting"},
		{props: []string{"enable.idempotence=yes"}, wantErr: "not true or false"},
	} {
		_, boot, err := perfProducerOptions(tc.props, "b:9092")
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%v: %v", tc.props, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%v: error %v, want one containing %q", tc.props, err, tc.wantErr)
		case tc.wantErr == "" && boot != tc.boot:
			t.Errorf("%v: bootstrap %q, want %q", tc.props, boot, tc.boot)
		}
	}
}

func TestPerfUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"perf", "produce", "--topic", "t", "--num-records", "1", "--record-size", "1"},
		{"perf", "produce", "--bootstrap-server", "b:1", "--num-records", "1", "--record-size", "1"},
		{"perf", "produce", "--bootstrap-server", "b:1", "--topic", "t", "--record-size", "1"},
		{"perf", "produce", "--bootstrap-server", "b:1", "--topic", "t", "--num-records", "1"},
		{"perf", "consume", "--bootstrap-server", "b:1", "--topic", "t"},
		{"perf", "consume", "--bootstrap-server", "b:1", "--messages", "1"},
	} {
		code, _, stderr := runCLI(t, "", args...)
		if code != exitUsage || !strings.Contains(stderr, "zkafka") {
			t.Errorf("%v: exit %d, stderr %q; want a usage error", args, code, stderr)
		}
	}
}
