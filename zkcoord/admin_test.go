package zkcoord

import (
	"errors"
	"reflect"
	"testing"
)

func TestPlanPartitionIncrease(t *testing.T) {
	cur := map[int32][]int32{0: {1, 2}, 1: {2, 3}, 2: {3, 1}}
	tests := []struct {
		name    string
		cur     map[int32][]int32
		total   int32
		manual  [][]int32
		brokers []int32
		want    map[int32][]int32
		kind    error
		msg     string
	}{
		{name: "automatic, from partition 0's first replica", cur: cur, total: 5, brokers: []int32{1, 2, 3},
			want: map[int32][]int32{3: {1, 3}, 4: {2, 1}}},
		{name: "automatic, start index past smaller ids", cur: map[int32][]int32{0: {3, 1}}, total: 3, brokers: []int32{1, 2, 3},
			want: map[int32][]int32{1: {1, 2}, 2: {2, 3}}},
		{name: "manual", cur: cur, total: 4, manual: [][]int32{{3, 2}}, brokers: []int32{1, 2, 3},
			want: map[int32][]int32{3: {3, 2}}},
		{name: "not an increase", cur: cur, total: 3, brokers: []int32{1, 2, 3}, kind: ErrInvalidPartitions,
			msg: "The number of partitions for a topic can only be increased. Topic t currently has 3 partitions, 3 would not be an increase."},
		{name: "wrong number of manual lists", cur: cur, total: 5, manual: [][]int32{{1, 2}}, brokers: []int32{1, 2, 3}, kind: ErrInvalidReplicaAssignment,
			msg: "Increasing the number of partitions by 2 but 1 assignments provided."},
		{name: "inconsistent replication factor", cur: cur, total: 5, manual: [][]int32{{1, 2}, {1}}, brokers: []int32{1, 2, 3}, kind: ErrInvalidReplicaAssignment,
			msg: "Inconsistent replication factor between partitions, partition 0 has 2 while partitions [4] have replication factors [1], respectively."},
		{name: "unknown broker", cur: cur, total: 4, manual: [][]int32{{1, 7}}, brokers: []int32{1, 2, 3}, kind: ErrBrokerNotAvailable,
			msg: "Unknown broker(s) in replica assignment: 7."},
		{name: "duplicate broker", cur: cur, total: 4, manual: [][]int32{{2, 2}}, brokers: []int32{1, 2, 3}, kind: ErrInvalidReplicaAssignment},
		{name: "too few brokers for the replication factor", cur: map[int32][]int32{0: {1, 2, 3}}, total: 2, brokers: []int32{1, 2}, kind: ErrInvalidReplicationFactor},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PlanPartitionIncrease("t", tc.cur, tc.total, tc.manual, tc.brokers)
			if tc.kind != nil {
				if !errors.Is(err, tc.kind) || (tc.msg != "" && err.Error() != tc.msg) {
					t.Fatalf("error %v, want %v %q", err, tc.kind, tc.msg)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
