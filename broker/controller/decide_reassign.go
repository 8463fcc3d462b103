package controller

// Reassignment is one partition being reassigned (2.4's ReplicaAssignment
// with its target): Original is ORS, the replicas before the reassignment
// began; Target is TRS.
type Reassignment struct {
	Original []int32
	Target   []int32
}
