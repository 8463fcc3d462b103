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
// deletion. Each returns a Plan: request batches to send before, state
// znode writes, batches to send after (built from State once the writes are
// applied), topic znodes to delete and markers to remove. They are
// table-tested without ZooKeeper (decide_test.go). handlers.go executes
// plans; a conditional write that conflicts (BADVERSION: the leader changed
// the ISR; NODEEXISTS) is re-read and decided again.
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
//     together, leader_epoch+1 once) where 2.4 may write twice.
//   - Several state znodes are written per multi (one fence check); 2.4
//     sends one multi per znode.
//   - Not implemented: partition reassignment, preferred-replica election
//     (/admin/preferred_replica_election, ElectLeaders, auto leader
//     rebalance), controlled shutdown, log dir failure events, broker
//     endpoint changes (data watch on /brokers/ids/N), topic config changes
//     after a topic was loaded (unclean.leader.election.enable is read from
//     /config/topics/T when the topic is loaded).
//   - Topic deletion waits while a replica's broker is down and resumes when
//     it returns; a replica that answered StopReplica with an error is asked
//     again on the next broker change or failover.
package controller
