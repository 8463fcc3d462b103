// Package group is the broker's group coordinator for modern Kafka clients
// (kcat -G, kafka-go readers with a GroupID, franz-go, the Java consumer):
// JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch,
// DescribeGroups, ListGroups, DeleteGroups and OffsetDelete, with Kafka
// 2.4's semantics and error codes.
//
// # Model
//
// state.go is Kafka 2.4's GroupMetadata/MemberMetadata together with the
// decisions of GroupCoordinator, DelayedJoin, InitialDelayedJoin and
// DelayedHeartbeat, as a pure state machine: group states Empty,
// PreparingRebalance, CompletingRebalance, Stable and Dead; members,
// generation, protocol selection (the protocol all members support that
// most prefer), the leader, MEMBER_ID_REQUIRED (JoinGroup v4+), static
// membership (group.instance.id, KIP-345: a restarted instance takes over
// its member without a rebalance, the old member id is fenced with
// FENCED_INSTANCE_ID), group.max.size, and batched LeaveGroup (v3+). It reads
// no clock and does no I/O: every event carries the time, timers (session
// timeouts, the rebalance timeout, group.initial.rebalance.delay.ms, the
// expiry of MEMBER_ID_REQUIRED members and NewMemberJoinTimeout) are
// deadlines read with nextDeadline and fired with tick, and answers to
// parked JoinGroup/SyncGroup requests are outputs addressed to request
// tokens. The table tests in state_test.go drive it with a logical clock.
//
// coordinator.go is the driver: one goroutine (an actor) per group owns its
// state machine; requests become events on its inbox and wait for the
// answer to their token (a JoinGroup parks there until the rebalance
// completes, bounded by the request's ctx), and a timer set to the state
// machine's next deadline fires tick. Offsets are written and read outside
// the actor, after it has accepted the member and generation, so slow
// ZooKeeper writes never hold back heartbeats.
//
// # Placement
//
// As in Kafka, a group belongs to partition
// abs(javaStringHashCode(groupId)) % offsets.topic.num.partitions (default
// 50) of the internal topic __consumer_offsets (PartitionFor), and the
// group's coordinator is that partition's leader. The topic is created on
// the first FindCoordinator through the broker's ordinary topic-creation
// path (offsets.topic.replication.factor replicas, default 3 — while fewer
// brokers are alive FindCoordinator answers COORDINATOR_NOT_AVAILABLE, as
// Kafka does — and /config/topics/__consumer_offsets with
// cleanup.policy=compact, segment.bytes=104857600 and
// compression.type=producer, as Kafka writes it). The controller elects its
// partition leaders like any other topic's, so no election of coordinators
// exists beyond partition leadership. The topic's log itself stays empty:
// nothing is written to it (see below).
//
// # Failover
//
// A broker answers group requests only while its replica manager says it
// leads the group's partition (the Ownership callback, checked on every
// request), and NOT_COORDINATOR otherwise. The leader epoch of the partition
// is remembered with each group: a group found under another epoch, or
// whose partition this broker no longer leads (checked on every request and
// every OwnershipCheckInterval, default 1 s), is unloaded — parked
// JoinGroup/SyncGroup requests are answered NOT_COORDINATOR (Kafka's
// onGroupUnloaded) and the in-memory state is dropped. When a coordinator
// broker dies, the controller moves leadership of its __consumer_offsets
// partitions to other replicas after its ZooKeeper session expires; clients
// get NOT_COORDINATOR or a connection error, look the coordinator up again
// with FindCoordinator, and find the new leader.
//
// # Where state lives, and what a failover loses
//
// Committed offsets live in ZooKeeper at /consumers/<g>/offsets/<t>/<p>
// (decimal text, one ZooKeeper multi per OffsetCommit), exactly where Kafka
// kept them for offsets.storage=zookeeper and where the classic ZooKeeper
// consumer (package consumergroup) reads and writes them, so zkCli,
// `zkafka consumer-groups` and both kinds of consumer see one truth. Commit
// metadata strings are checked against offset.metadata.max.bytes but not
// stored (Kafka's ZooKeeper storage kept only the offset); OffsetFetch
// returns "" for them and leader epoch -1.
//
// Group membership (members, generation, assignment) lives only in the
// coordinator's memory; Kafka also writes it to __consumer_offsets, zkafka
// does not. A failover therefore loses the membership: the new coordinator
// answers the members' heartbeats, SyncGroups and commits with
// UNKNOWN_MEMBER_ID or ILLEGAL_GENERATION, and they rejoin and rebalance
// (generation numbering restarts). This is safe because the only state a
// consumer group must not lose is its committed offsets, which are in
// ZooKeeper and written synchronously before an OffsetCommit is answered;
// and no member can commit for a generation the new coordinator has not
// created, so a member that has lost its partitions cannot overwrite the
// offsets of their new owner. What it costs is one extra rebalance per
// failover (duplicates bounded by the uncommitted window, as for any
// rebalance). Groups with only committed offsets (simple consumers,
// classic ZooKeeper groups) appear in ListGroups and DescribeGroups as Empty.
//
// DeleteGroups deletes a group without members: its in-memory state and
// /consumers/<g>, unless classic consumers are registered under
// /consumers/<g>/ids (NON_EMPTY_GROUP). Offsets are kept forever
// (offsets.retention.minutes is not applied to ZooKeeper offsets, as Kafka
// did not expire them either).
package group
