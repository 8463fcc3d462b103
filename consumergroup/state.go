package consumergroup

// memberState is what the member's driver needs to decide how to react to
// an event; decide is a pure function of it and the event, and the driver
// (run.go) performs the steps.
type memberState struct {
	Registered bool // our /consumers/<g>/ids/<id> exists in the current session
	Paused     bool // disconnected from ZooKeeper: fetchers stopped, ownership kept
	Owning     bool // we hold owner znodes (the last rebalance claimed them)
	Dirty      bool // something changed since the last successful rebalance
}

type memberEvent int

const (
	evChange       memberEvent = iota + 1 // a watched znode changed (members, topics, partition counts)
	evDisconnected                        // TCP connection to ZooKeeper lost; the session may live on
	evReconnected                         // connected again with the same session
	evExpired                             // the session expired: its ephemerals and watches are gone
	evNewSession                          // a new session replaced the expired one
	evRetry                               // the back-off after a failed rebalance ended
)

type step int

const (
	stepStopFetching    step = iota + 1 // end the generation: no message is handed out any more
	stepResumeFetching                  // new generation on the same owned partitions
	stepForgetOwnership                 // the owner znodes died with the session: drop them without I/O
	stepRegister                        // create our ids znode in the new session
	stepRebalance                       // commit, release, assign, claim, fetch
)

// decide maps (state, event) to the next state and the steps to perform.
// The state after stepRebalance depends on its outcome: the driver sets
// Owning and clears Dirty when it succeeds.
func decide(st memberState, ev memberEvent) (memberState, []step) {
	switch ev {
	case evChange, evRetry:
		if ev == evChange {
			st.Dirty = true
		}
		if st.Dirty && st.Registered && !st.Paused {
			return st, []step{stepRebalance}
		}
		return st, nil // while disconnected, rebalance once reconnected
	case evDisconnected:
		if st.Paused {
			return st, nil
		}
		st.Paused = true
		// Stop handing out messages at once: if the disconnection lasts
		// past the session timeout, another member may own our partitions
		// before we hear about the expiry.
		return st, []step{stepStopFetching}
	case evReconnected:
		if !st.Paused {
			return st, nil
		}
		st.Paused = false
		switch {
		case st.Dirty && st.Registered:
			return st, []step{stepRebalance}
		case st.Owning:
			return st, []step{stepResumeFetching}
		}
		return st, nil
	case evExpired:
		steps := []step{stepStopFetching}
		if st.Owning {
			steps = append(steps, stepForgetOwnership)
		}
		return memberState{Paused: true, Dirty: true}, steps
	case evNewSession:
		return memberState{Dirty: true}, []step{stepRegister, stepRebalance}
	}
	return st, nil
}
