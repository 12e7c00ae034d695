package assign_test

import (
	"fmt"

	"github.com/eddy-streams/eddy/internal/assign"
)

func ExampleBalancer_Tasks() {
	b := assign.NewBalancer([]assign.Subtopology{
		{ID: 0, Topics: []string{"clicks"}},
		{ID: 1, Topics: []string{"orders", "customers"}},
	}, assign.MemberInfo{ProcessID: "instance-a", Worker: 0}, nil)

	// What OnPartitionsAssigned hands over: partition p of co-partitioned topics together.
	fmt.Println(b.Tasks(map[string][]int32{
		"clicks":    {2},
		"orders":    {0, 3},
		"customers": {0, 3},
	}))
	// Output: [0_2 1_0 1_3]
}
