package zkcoord

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestAssignReplicasRackUnaware(t *testing.T) {
	cases := []struct {
		name             string
		parts            int32
		rf               int16
		brokers          []int32
		fixed, startPart int32
		want             map[int32][]int32
	}{
		{
			// Kafka's AdminTest.testReplicaAssignment expectation
			name: "5 brokers 10 partitions rf3", parts: 10, rf: 3, brokers: []int32{0, 1, 2, 3, 4}, fixed: 0,
			want: map[int32][]int32{0: {0, 1, 2}, 1: {1, 2, 3}, 2: {2, 3, 4}, 3: {3, 4, 0}, 4: {4, 0, 1},
				5: {0, 2, 3}, 6: {1, 3, 4}, 7: {2, 4, 0}, 8: {3, 0, 1}, 9: {4, 1, 2}},
		},
		{
			// what kafka-topics.sh wrote for t1 in the reference run
			name: "reference t1", parts: 3, rf: 2, brokers: []int32{1, 2}, fixed: 0,
			want: map[int32][]int32{0: {1, 2}, 1: {2, 1}, 2: {1, 2}},
		},
		{
			// adding partitions 3 and 4 (startPartitionId) with fixed index 1
			name: "start partition", parts: 2, rf: 2, brokers: []int32{0, 1, 2}, fixed: 1, startPart: 3,
			want: map[int32][]int32{3: {1, 2}, 4: {2, 0}},
		},
		{
			name: "single broker", parts: 3, rf: 1, brokers: []int32{5}, fixed: 0,
			want: map[int32][]int32{0: {5}, 1: {5}, 2: {5}},
		},
		{
			name: "fixed index 2 rf 3 on 3 brokers", parts: 4, rf: 3, brokers: []int32{10, 20, 30}, fixed: 2,
			// start=2 shift=2: p0 first idx2 →30, +1+(2%2)=1 →10, +1+(3%2)=2 →20; p3: shift 3
			want: map[int32][]int32{0: {30, 10, 20}, 1: {10, 20, 30}, 2: {20, 30, 10}, 3: {30, 20, 10}},
		},
	}
	for _, c := range cases {
		got, err := AssignReplicasRackUnaware(c.parts, c.rf, c.brokers, c.fixed, c.startPart)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %v\nwant %v", c.name, got, c.want)
		}
	}
}

func TestAssignReplicasRandomStart(t *testing.T) {
	// randN yields startIndex=2 then nextReplicaShift=1 (Kafka draws them in that order)
	seq := []int{2, 1}
	randN := func(n int) int { v := seq[0]; seq = seq[1:]; return v }
	got, err := assignReplicasRackUnaware(4, 3, []int32{0, 1, 2, 3}, -1, 0, randN)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32][]int32{0: {2, 0, 1}, 1: {3, 1, 2}, 2: {0, 2, 3}, 3: {1, 3, 0}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	// the exported, truly random form always yields a valid assignment
	for i := 0; i < 50; i++ {
		a, err := AssignReplicasRackUnaware(7, 3, []int32{1, 2, 3, 4}, -1, -1)
		if err != nil {
			t.Fatal(err)
		}
		if err := ValidateReplicaAssignment(a); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAssignReplicasReferenceConsumerOffsets(t *testing.T) {
	// __consumer_offsets in the reference run: 50 partitions, RF 1, brokers [1,2]
	got, err := AssignReplicasRackUnaware(50, 1, []int32{1, 2}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range loadGolden(t) {
		if g.path != "/brokers/topics/__consumer_offsets" {
			continue
		}
		a, err := DecodeTopicAssignment("__consumer_offsets", []byte(g.data))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a.Partitions, got) {
			t.Fatalf("got %v\nwant %v", got, a.Partitions)
		}
		return
	}
	t.Fatal("no golden __consumer_offsets assignment")
}

func TestAssignReplicasErrors(t *testing.T) {
	if _, err := AssignReplicasRackUnaware(3, 3, []int32{1, 2}, 0, 0); !errors.Is(err, ErrInvalidReplicationFactor) ||
		err.Error() != "Replication factor: 3 larger than available brokers: 2." {
		t.Errorf("rf > brokers: %v", err)
	}
	if _, err := AssignReplicasRackUnaware(3, 0, []int32{1, 2}, 0, 0); !errors.Is(err, ErrInvalidReplicationFactor) {
		t.Errorf("rf 0: %v", err)
	}
	if _, err := AssignReplicasRackUnaware(0, 1, []int32{1, 2}, 0, 0); !errors.Is(err, ErrInvalidPartitions) {
		t.Errorf("0 partitions: %v", err)
	}
	if _, err := AssignReplicasRackUnaware(1, 1, nil, -1, 0); !errors.Is(err, ErrInvalidReplicationFactor) {
		t.Errorf("no brokers: %v", err)
	}
}

func TestValidateTopicName(t *testing.T) {
	ok := []string{"a", "foo", "__consumer_offsets", "A-b.c_d", strings.Repeat("x", 249), "..."}
	bad := []string{"", ".", "..", strings.Repeat("x", 250), "a b", "a/b", "ä", "a\x00", "a:b", "a*"}
	for _, n := range ok {
		if err := ValidateTopicName(n); err != nil {
			t.Errorf("%q rejected: %v", n, err)
		}
	}
	for _, n := range bad {
		if err := ValidateTopicName(n); !errors.Is(err, ErrInvalidTopic) {
			t.Errorf("%q accepted: %v", n, err)
		}
	}
}

func TestValidateReplicaAssignment(t *testing.T) {
	bad := []map[int32][]int32{
		nil,
		{1: {1}},
		{0: {1}, 2: {1}},
		{0: {1, 1}},
		{0: {1, 2}, 1: {1}},
		{0: {}},
	}
	for _, a := range bad {
		if err := ValidateReplicaAssignment(a); !errors.Is(err, ErrInvalidReplicaAssignment) {
			t.Errorf("%v accepted: %v", a, err)
		}
	}
	if err := ValidateReplicaAssignment(map[int32][]int32{0: {1, 2}, 1: {2, 1}}); err != nil {
		t.Error(err)
	}
}

func TestParseConnectString(t *testing.T) {
	cases := []struct {
		in      string
		servers []string
		chroot  string
		err     bool
	}{
		{"127.0.0.1:2181", []string{"127.0.0.1:2181"}, "", false},
		{"a:1,b:2/kafka", []string{"a:1", "b:2"}, "/kafka", false},
		{"a:1,b:2/kafka/prod/", []string{"a:1", "b:2"}, "/kafka/prod", false},
		{"a:1/", []string{"a:1"}, "", false},
		{"/kafka", nil, "", true},
		{"", nil, "", true},
		{"a:1/ka//fka", nil, "", true},
		{"a:1/ka/../b", nil, "", true},
	}
	for _, c := range cases {
		s, ch, err := ParseConnectString(c.in)
		if (err != nil) != c.err || ch != c.chroot || !reflect.DeepEqual(s, c.servers) {
			t.Errorf("%q: got %v %q %v", c.in, s, ch, err)
		}
	}
}

func TestPaths(t *testing.T) {
	checks := map[string]string{
		BrokerIDPath(3):                      "/brokers/ids/3",
		TopicPath("t"):                       "/brokers/topics/t",
		TopicPartitionsPath("t"):             "/brokers/topics/t/partitions",
		PartitionStatePath("t", 2):           "/brokers/topics/t/partitions/2/state",
		ConfigTopicPath("t"):                 "/config/topics/t",
		ConfigBrokerPath(1):                  "/config/brokers/1",
		DeleteTopicPath("t"):                 "/admin/delete_topics/t",
		ConsumerGroupIDPath("g", "c"):        "/consumers/g/ids/c",
		ConsumerGroupOwnerPath("g", "t", 1):  "/consumers/g/owners/t/1",
		ConsumerGroupOffsetPath("g", "t", 1): "/consumers/g/offsets/t/1",
		IsrChangeSequentialPath:              "/isr_change_notification/isr_change_",
		ConfigChangeSequentialPath:           "/config/changes/config_change_",
		LogDirEventSequentialPath:            "/log_dir_event_notification/log_dir_event_",
	}
	for got, want := range checks {
		if got != want {
			t.Errorf("got %s want %s", got, want)
		}
	}
	if n, ok := SequenceNumber("isr_change_0000000042", IsrChangePrefix); !ok || n != 42 {
		t.Errorf("seq: %d %v", n, ok)
	}
	if _, ok := SequenceNumber("isr_change_x", IsrChangePrefix); ok {
		t.Error("bad seq accepted")
	}
	if id := NewClusterID(); len(id) != 22 || strings.ContainsAny(id, "+/=") {
		t.Errorf("cluster id %q", id)
	}
}
