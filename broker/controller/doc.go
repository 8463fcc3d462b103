// Package controller is the Kafka 2.4 controller (ZooKeeper mode): it runs
// on every broker, and the broker holding the ephemeral /controller znode is
// the cluster's controller. It decides partition leaders and ISRs, writes
// them to the state znodes, and tells brokers with LeaderAndIsr,
// UpdateMetadata and StopReplica requests (ZK-LAYOUT.md §2).
//
// # Usage
//
// After the broker registered /brokers/ids/N (the controller reads broker
// epochs from there, its own included):
//
//	c := controller.New(controller.DefaultConfig(id) /* + listener, flags */, session, log)
//	go c.Run(ctx) // returns when ctx ends or the session is closed
//
// # The event loop
//
// One goroutine (Run) owns all controller state, like Kafka's single
// controller-event thread. Everything else only pushes events on its
// unbounded queue:
//
//   - evControllerChange: startup, the /controller watch fired (created,
//     changed, deleted), a retry. The loop re-reads /controller (re-arming
//     the watch): none → elect; another broker while active → resign.
//   - evSession: Expired → resign; NewSession → re-arm and elect again.
//   - evBrokerChange, evTopicChange, evTopicModified, evDeleteTopics,
//     evIsrChange: child/data watches of the active controller on
//     /brokers/ids, /brokers/topics, /brokers/topics/T,
//     /admin/delete_topics and /isr_change_notification. Each handler
//     re-reads the znode with a new watch, then acts.
//   - evStopReplicaResponse: a broker answered StopReplica(delete=true)
//     (topic deletion progress).
//   - evPreferredElection, evReassign: /admin/preferred_replica_election
//     and /admin/reassign_partitions were created or changed (exists
//     watches); evReassignIsr: the state znode of a partition being
//     reassigned changed (data watch); evAutoRebalance: the leader
//     imbalance timer (5 s after election, then every
//     leader.imbalance.check.interval.seconds).
//   - evControlledShutdown, evElectLeaders, evAlterReassignments,
//     evListReassignments: requests of the broker's ControlledShutdown,
//     ElectLeaders, AlterPartitionReassignments and
//     ListPartitionReassignments handlers (and of the broker's own
//     shutdown); they carry a reply channel and are answered NOT_CONTROLLER
//     when this broker is not the controller. ElectLeaders is answered once
//     the states are written and the requests queued, with each elected
//     leader; the broker's handler then waits until its metadata cache
//     shows them (2.4's DelayedElectLeader) before answering the client.
//
// Events of an active term carry the term number; after a resignation they
// are ignored. Watch goroutines and request senders of a term stop when it
// ends; Run waits for all of them.
//
// # Decisions are pure, the loop does the I/O
//
// decide.go holds State (Kafka's ControllerContext) and the decisions:
// elections (ElectOffline), ISR removal of dead replicas (never to an empty
// ISR), new partitions, broker failure/startup/bounce, failover, topic
// deletion (decide.go); controlled shutdown (decide_shutdown.go: shutting-down
// brokers never lead or join a new ISR, their leaderships move to the next
// live ISR member, they leave the ISRs they follow in); preferred and
// unclean elections and the leader imbalance check (decide_election.go);
// reassignment (decide_reassign.go). Each returns a Plan: topic znodes to
// rewrite first, request batches to send before, state znode writes,
// batches to send after (built from State once the writes are applied),
// topic znodes to rewrite after, topic znodes to delete, markers to
// remove, finished reassignments to drop from /admin/reassign_partitions
// and state znodes to watch. They are table-tested without ZooKeeper
// (decide*_test.go). handlers*.go and admin.go execute plans; a conditional
// write that conflicts (BADVERSION: the leader changed the ISR; NODEEXISTS)
// is re-read and decided again by the rule that made it (Write.Replan, by
// default next()'s). Elections and controlled shutdowns re-read the state
// znodes they decide on first, as 2.4 does, since leaders change ISRs
// without the controller.
//
// # Failover reads
//
// A new controller reads /brokers/ids, every /brokers/topics/T (with its
// data watch), every /config/topics/T and every state znode with pipelined
// asynchronous reads on its one session (zkcoord.GetBrokers, GetTopicsW,
// GetTopicConfigs, GetPartitionStates: up to 32 outstanding), not one
// round trip per znode; ZooKeeper 3.4's protocol has no multi-read.
// Reassignments recorded in the topic znodes (adding/removing replicas)
// resume, /admin/reassign_partitions and /admin/preferred_replica_election
// are acted on, and the auto rebalance is scheduled.
//
// # Fencing
//
// An election is one ZooKeeper multi {create /controller EPHEMERAL,
// setData /controller_epoch epoch+1 at the version read}; the first
// controller has epoch 1. Every later controller write is a multi behind
// check(/controller_epoch, the version the election produced): once another
// broker was elected that check fails, the write is rejected as a whole,
// and the controller resigns (zkcoord.ErrControllerMoved). Brokers fence
// on the epoch value carried in every request (controller_epoch) and on
// broker_epoch (the czxid of their registration). Any other error of the
// active controller resigns and deletes /controller (fenced), so that an
// election runs and the winner reloads everything from ZooKeeper (2.4's
// triggerControllerMove).
//
// # Requests
//
// One sender goroutine and FIFO queue per live broker (ControllerChannelManager):
// requests to a broker go out in order, on a connection to its
// inter-broker listener (the controller talks to itself over the network
// too), at min(2.4's version, what the broker's ApiVersions advertises):
// LeaderAndIsr v4, UpdateMetadata v6, StopReplica v2. A failed send is
// retried with backoff while the broker lives; a dead (or bounced) broker's
// queue is dropped. Error codes in responses are logged.
//
// # Differences from 2.4 (on purpose or not yet done)
//
//   - A broker failure is one write per partition (election and ISR removal
//     together, leader_epoch+1 once) where 2.4 may write twice; likewise
//     a completing reassignment moves the leader and drops the removed
//     replicas from the ISR in one write.
//   - Several state znodes are written per multi (one fence check); 2.4
//     sends one multi per znode.
//   - A reassignment whose target is already in sync writes the topic
//     znode once (RS = TRS) instead of RS/AR/RR first. Changing the target
//     of a running reassignment by rewriting /admin/reassign_partitions is
//     honoured (2.4 only reacts to its creation). Replicas a replaced or
//     cancelled reassignment no longer needs leave the ISR in the same
//     state write as the phase's epoch bump (2.4 writes twice).
//     Reassignment throttles are not implemented.
//   - Not implemented: log dir failure events, broker endpoint changes
//     (data watch on /brokers/ids/N), topic config changes after a topic
//     was loaded (unclean.leader.election.enable is read from
//     /config/topics/T when the topic is loaded).
//   - Topic deletion waits while a replica's broker is down and resumes when
//     it returns; a replica that answered StopReplica with an error is asked
//     again on the next broker change or failover.
//
// # Reassignment through the API and through ZooKeeper
//
// AlterPartitionReassignments (KIP-455) and /admin/reassign_partitions are
// two triggers of one engine (decide_reassign.go), as in 2.4: the topic
// znode's adding_replicas/removing_replicas record every reassignment in
// progress, whoever started it, and a new controller resumes them from
// there. The latest request for a partition wins: the API takes the
// partition out of /admin/reassign_partitions before starting, and a new
// znode entry replaces an API reassignment. A completed reassignment leaves
// the znode only if the entry's target is what completed. Cancelling (a
// null replica list) reassigns to the original replicas: the added ones
// leave the ISR and are deleted. ListPartitionReassignments lists the
// partitions with adding or removing replicas, from either trigger.
package controller
