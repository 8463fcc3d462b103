package consumergroup

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/zkafka/zkafka/zkcoord"
)

func regMember(id string, pattern string, sub map[string]int32) zkcoord.ConsumerMember {
	return zkcoord.ConsumerMember{ID: id, Registration: zkcoord.ConsumerRegistration{Subscription: sub, Pattern: pattern}}
}

func static(id string, sub map[string]int32) zkcoord.ConsumerMember {
	return regMember(id, zkcoord.ConsumerPatternStatic, sub)
}

func parts(n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(i)
	}
	return out
}

// byThread turns partition → thread into thread → "t:p,..." strings for
// readable comparisons.
func byThread(a map[TopicPartition]string) map[string][]string {
	out := map[string][]string{}
	for _, tp := range sortedTPs(a) {
		out[a[tp]] = append(out[a[tp]], fmt.Sprintf("%s:%d", tp.Topic, tp.Partition))
	}
	return out
}

// TestAssign reproduces Kafka 0.10's RangeAssignor and RoundRobinAssignor,
// including the examples of ZK-LAYOUT.md §4.5 and PartitionAssignor.scala.
func TestAssign(t *testing.T) {
	tests := []struct {
		name     string
		strategy string
		members  []zkcoord.ConsumerMember
		topics   map[string][]int32
		want     map[string][]string
	}{
		{
			name: "range 8 partitions over 3 consumers", strategy: StrategyRange,
			members: []zkcoord.ConsumerMember{static("C3", map[string]int32{"t": 1}), static("C1", map[string]int32{"t": 1}), static("C2", map[string]int32{"t": 1})},
			topics:  map[string][]int32{"t": parts(8)},
			want:    map[string][]string{"C1-0": {"t:0", "t:1", "t:2"}, "C2-0": {"t:3", "t:4", "t:5"}, "C3-0": {"t:6", "t:7"}},
		},
		{
			name: "roundrobin 8 partitions over 3 consumers", strategy: StrategyRoundRobin,
			members: []zkcoord.ConsumerMember{static("C1", map[string]int32{"t": 1}), static("C2", map[string]int32{"t": 1}), static("C3", map[string]int32{"t": 1})},
			topics:  map[string][]int32{"t": parts(8)},
			want:    map[string][]string{"C1-0": {"t:0", "t:3", "t:6"}, "C2-0": {"t:1", "t:4", "t:7"}, "C3-0": {"t:2", "t:5"}},
		},
		{
			name: "range with 2 streams for C1", strategy: StrategyRange,
			members: []zkcoord.ConsumerMember{static("C1", map[string]int32{"t": 2}), static("C2", map[string]int32{"t": 1}), static("C3", map[string]int32{"t": 1})},
			topics:  map[string][]int32{"t": parts(8)},
			want:    map[string][]string{"C1-0": {"t:0", "t:1"}, "C1-1": {"t:2", "t:3"}, "C2-0": {"t:4", "t:5"}, "C3-0": {"t:6", "t:7"}},
		},
		{
			// PartitionAssignor.scala's RangeAssignor comment.
			name: "range 5 partitions over 2x2 streams", strategy: StrategyRange,
			members: []zkcoord.ConsumerMember{static("C1", map[string]int32{"t": 2}), static("C2", map[string]int32{"t": 2})},
			topics:  map[string][]int32{"t": parts(5)},
			want:    map[string][]string{"C1-0": {"t:0", "t:1"}, "C1-1": {"t:2"}, "C2-0": {"t:3"}, "C2-1": {"t:4"}},
		},
		{
			name: "range: more threads than partitions leaves the last idle", strategy: StrategyRange,
			members: []zkcoord.ConsumerMember{static("a", map[string]int32{"t": 1}), static("b", map[string]int32{"t": 1}), static("c", map[string]int32{"t": 1})},
			topics:  map[string][]int32{"t": parts(2)},
			want:    map[string][]string{"a-0": {"t:0"}, "b-0": {"t:1"}},
		},
		{
			// thread ids sort as strings: "x-10" < "x-2"
			name: "range sorts thread ids as text", strategy: StrategyRange,
			members: []zkcoord.ConsumerMember{static("x", map[string]int32{"t": 11})},
			topics:  map[string][]int32{"t": parts(12)},
			want: map[string][]string{"x-0": {"t:0", "t:1"}, "x-1": {"t:2"}, "x-10": {"t:3"}, "x-2": {"t:4"}, "x-3": {"t:5"}, "x-4": {"t:6"},
				"x-5": {"t:7"}, "x-6": {"t:8"}, "x-7": {"t:9"}, "x-8": {"t:10"}, "x-9": {"t:11"}},
		},
		{
			name: "range per topic, each topic on its own subscribers", strategy: StrategyRange,
			members: []zkcoord.ConsumerMember{static("A", map[string]int32{"t1": 1, "t2": 1}), static("B", map[string]int32{"t1": 1})},
			topics:  map[string][]int32{"t1": parts(3), "t2": parts(2)},
			want:    map[string][]string{"A-0": {"t1:0", "t1:1", "t2:0", "t2:1"}, "B-0": {"t1:2"}},
		},
		{
			// the circular iterator skips threads not subscribed to a
			// partition's topic (0.10's dropWhile)
			name: "roundrobin with different subscriptions", strategy: StrategyRoundRobin,
			members: []zkcoord.ConsumerMember{static("A", map[string]int32{"t1": 1, "t2": 1}), static("B", map[string]int32{"t1": 1})},
			topics:  map[string][]int32{"t1": parts(2), "t2": parts(2)},
			want:    map[string][]string{"A-0": {"t1:0", "t2:0", "t2:1"}, "B-0": {"t1:1"}},
		},
		{
			// hash order for 12 partitions is 10, 11, 0, 1, ..., 9
			name: "roundrobin 12 partitions over 2 consumers follows the hash order", strategy: StrategyRoundRobin,
			members: []zkcoord.ConsumerMember{static("a", map[string]int32{"t": 1}), static("b", map[string]int32{"t": 1})},
			topics:  map[string][]int32{"t": parts(12)},
			want:    map[string][]string{"a-0": {"t:0", "t:2", "t:4", "t:6", "t:8", "t:10"}, "b-0": {"t:1", "t:3", "t:5", "t:7", "t:9", "t:11"}},
		},
		{
			name: "roundrobin 12 partitions over 3 consumers", strategy: StrategyRoundRobin,
			members: []zkcoord.ConsumerMember{static("a", map[string]int32{"t": 1}), static("b", map[string]int32{"t": 1}), static("c", map[string]int32{"t": 1})},
			topics:  map[string][]int32{"t": parts(12)},
			// order 10,11,0,1,...,9 dealt to a,b,c,a,b,c,...
			want: map[string][]string{"a-0": {"t:1", "t:4", "t:7", "t:10"}, "b-0": {"t:2", "t:5", "t:8", "t:11"}, "c-0": {"t:0", "t:3", "t:6", "t:9"}},
		},
		{
			name: "whitelist resolves against the topic list and skips internal topics", strategy: StrategyRange,
			members: []zkcoord.ConsumerMember{regMember("w", zkcoord.ConsumerPatternWhiteList, map[string]int32{"log.*,__.*": 1})},
			topics:  map[string][]int32{"logs": parts(2), "other": parts(1), InternalTopic: parts(3)},
			want:    map[string][]string{"w-0": {"logs:0", "logs:1"}},
		},
		{
			name: "blacklist takes every other topic", strategy: StrategyRoundRobin,
			members: []zkcoord.ConsumerMember{regMember("w", zkcoord.ConsumerPatternBlackList, map[string]int32{"logs": 1})},
			topics:  map[string][]int32{"logs": parts(2), "other": parts(2), InternalTopic: parts(3)},
			want:    map[string][]string{"w-0": {"other:0", "other:1"}},
		},
		{
			name: "a topic that does not exist gets nothing", strategy: StrategyRange,
			members: []zkcoord.ConsumerMember{static("a", map[string]int32{"missing": 1})},
			topics:  map[string][]int32{},
			want:    map[string][]string{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// every member computes the same decision
			var first map[TopicPartition]string
			for _, m := range tc.members {
				ctx := NewAssignmentContext(m.ID, tc.members, slices.Collect(maps.Keys(tc.topics)), tc.topics, true)
				a := Assign(tc.strategy, ctx)
				if tc.strategy == StrategyRange {
					// range covers only my topics: merge what each member computes
					a = Mine(a, m.ID)
				}
				if first == nil {
					first = map[TopicPartition]string{}
				}
				for tp, th := range a {
					if prev, ok := first[tp]; ok && prev != th {
						t.Fatalf("members disagree on %v: %s vs %s", tp, prev, th)
					}
					first[tp] = th
				}
			}
			if got := byThread(first); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("assignment\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestRoundRobinOrder(t *testing.T) {
	var got []int32
	for _, tp := range RoundRobinOrder(map[string][]int32{"t": parts(12)}) {
		got = append(got, tp.Partition)
	}
	want := []int32{10, 11, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

func TestJavaStringHash(t *testing.T) {
	// values of java.lang.String.hashCode
	for s, want := range map[string]int32{
		"":                   0,
		"a":                  97,
		"[t,0]":              87540032,
		"[t,1]":              87540063,
		"hello":              99162322,
		"polygenelubricants": -2147483648,
		"é":                  233,
		"😀":                  1772899, // surrogate pair: 0xd83d*31 + 0xde00
	} {
		if got := JavaStringHash(s); got != want {
			t.Errorf("hash(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestWhitelistRegexp(t *testing.T) {
	for _, tc := range []struct {
		expr  string
		topic string
		match bool
	}{
		{"logs", "logs", true},
		{"logs", "logs2", false}, // whole-name match, as Java's matches()
		{"a.*, b.*", "beta", true},
		{`"c.*"`, "cat", true},
		{"x|y", "y", true},
	} {
		re, err := WhitelistRegexp(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := re.MatchString(tc.topic); got != tc.match {
			t.Errorf("%q matches %q = %v, want %v", tc.expr, tc.topic, got, tc.match)
		}
	}
	if _, err := WhitelistRegexp("("); err == nil {
		t.Error("bad regex accepted")
	}
}

func TestConsumerOfThread(t *testing.T) {
	if got := ConsumerOfThread("g_host-a-1575300000000-3f2a9b1c-10"); got != "g_host-a-1575300000000-3f2a9b1c" {
		t.Fatal(got)
	}
}

// BenchmarkAssign measures one member's assignment computation for a group
// of 100 members with 1 stream each on 10 topics × 100 partitions.
func BenchmarkAssign(b *testing.B) {
	var ms []zkcoord.ConsumerMember
	topics := map[string][]int32{}
	sub := map[string]int32{}
	for i := 0; i < 10; i++ {
		t := fmt.Sprintf("topic-%d", i)
		topics[t] = parts(100)
		sub[t] = 1
	}
	for i := 0; i < 100; i++ {
		ms = append(ms, static(fmt.Sprintf("g_host-%03d-1575300000000-3f2a9b1c", i), sub))
	}
	all := slices.Collect(maps.Keys(topics))
	for _, strategy := range []string{StrategyRange, StrategyRoundRobin} {
		b.Run(strategy, func(b *testing.B) {
			for b.Loop() {
				ctx := NewAssignmentContext(ms[0].ID, ms, all, topics, true)
				if len(Assign(strategy, ctx)) == 0 {
					b.Fatal("empty assignment")
				}
			}
		})
	}
}
