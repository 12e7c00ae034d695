package assign

import (
	"slices"
	"testing"
)

func TestTaskIDString(t *testing.T) {
	tests := []struct {
		task TaskID
		want string
	}{
		{TaskID{0, 0}, "0_0"},
		{TaskID{0, 3}, "0_3"},
		{TaskID{12, 345}, "12_345"},
		{TaskID{7, 2147483647}, "7_2147483647"},
	}
	for _, tt := range tests {
		if got := tt.task.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.task, got, tt.want)
		}
	}
}

func TestTasks(t *testing.T) {
	b := NewBalancer([]Subtopology{
		{ID: 1, Topics: []string{"orders", "customers"}},
		{ID: 0, Topics: []string{"clicks"}},
	}, MemberInfo{}, nil)
	tests := []struct {
		name     string
		assigned map[string][]int32
		want     []TaskID
	}{
		{"nil", nil, nil},
		{"unknown topic ignored", map[string][]int32{"other": {0, 1}}, nil},
		{
			"co-partitioned topics give one task each",
			map[string][]int32{"orders": {2, 0}, "customers": {0, 2}},
			[]TaskID{{1, 0}, {1, 2}},
		},
		{
			"sorted across sub-topologies",
			map[string][]int32{"orders": {1}, "customers": {1}, "clicks": {5, 3}},
			[]TaskID{{0, 3}, {0, 5}, {1, 1}},
		},
		{
			"any partition of a task counts",
			map[string][]int32{"orders": {4}},
			[]TaskID{{1, 4}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := b.Tasks(tt.assigned); !slices.Equal(got, tt.want) {
				t.Errorf("Tasks(%v) = %v, want %v", tt.assigned, got, tt.want)
			}
		})
	}
}
