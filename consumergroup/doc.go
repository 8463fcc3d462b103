// Package consumergroup is Kafka 0.8-0.10's classic consumer group, the
// one coordinated by ZooKeeper alone (ZookeeperConsumerConnector): members
// register under /consumers/<g>/ids, watch the group and the topics, and
// on every change rebalance so that each partition of the subscribed
// topics is owned by exactly one member, which records its claim in
// /consumers/<g>/owners/<t>/<p> and its progress in
// /consumers/<g>/offsets/<t>/<p> (ZK-LAYOUT.md §4).
//
// # Use
//
//	c, err := consumergroup.Join(ctx, consumergroup.Config{
//		ZooKeeper: "127.0.0.1:2181/zkafka", Group: "g", Topics: []string{"logs"},
//	})
//	for {
//		m, err := c.Fetch(ctx)
//		...process m...
//		c.MarkOffset(m) // committed every AutoCommitInterval, or by Commit
//	}
//	c.Close(ctx) // commit, release owners, delete the registration
//
// # Delivery and ownership loss
//
// Delivery is at least once: a commit writes, for each owned partition,
// the offset after the last message passed to MarkOffset. Each message
// carries the fetch generation it belongs to. A generation ends whenever
// the fetchers stop: at every rebalance (before the commit and release),
// when the ZooKeeper connection drops (ownership may be lost if the
// session then expires), and on session expiry. From that moment Fetch
// drops the old generation's messages and MarkOffset refuses them with
// ErrNotOwned, so an application learns that its partition was taken from
// the error, from Config.OnOwnership (Claimed/Released/Lost events,
// called on the member's goroutine), or from Assignment(). Messages whose
// marks were not committed are delivered again by the next owner: those
// are the only duplicates.
//
// # Rebalance (Kafka's syncedRebalance)
//
// Stop fetching → commit the marks (the partitions are still ours) →
// delete our owner znodes → read the members (/consumers/<g>/ids, sorted),
// their subscriptions (wildcards resolved against /brokers/topics) and the
// partitions of every subscribed topic → assign with the pure range or
// roundrobin assignor (assign.go; Kafka's exact orderings) → create our
// owner znodes as EPHEMERAL, in order. A partition still owned by a member
// that has not released it yet is waited for with an exists watch on its
// owner znode (not a sleep), up to rebalance.backoff.ms per attempt; a
// change in the group cuts the wait short and restarts the attempt with
// fresh state. A failed attempt deletes what it created; after
// rebalance.max.retries attempts the member logs an error and tries again
// after the back-off or on the next change (Kafka gave up until the next
// change). After claiming, the committed offsets are read (the previous
// owner committed before releasing) and a fetcher per partition starts
// there, or at auto.offset.reset (smallest/largest) if none was committed.
//
// Watches, re-armed after they fire: children of /consumers/<g>/ids; the
// data (exists) of each topic this member subscribes to (partition
// count); children of /brokers/topics for wildcard subscriptions; children
// of /brokers/ids (brokers changes only refresh the fetchers' bootstrap
// list, as in Kafka 0.10, unless there were no brokers at all). Several
// changes coalesce into one rebalance.
//
// # ZooKeeper session
//
// Disconnected: the fetchers stop at once (a new generation), ownership is
// kept. Reconnected with the same session: fetching resumes after the last
// marks. Expired: the owner znodes died with the session; they are
// forgotten without committing (another member may own the partitions
// already) and, in the new session, the member registers again (a checked
// ephemeral that waits for a stale node of the old session to disappear)
// and rebalances. Commits are refused unless the session that claimed the
// partitions is connected.
//
// # Concurrency
//
// One goroutine (run.go) owns the registration, watches, owned
// partitions, fetchers and committed offsets; the pure decide function
// (state.go) maps session and watch events to steps it performs. Fetch and
// MarkOffset share only the generation, the owned set and the marks with
// it, under one small mutex. Each owned partition has a fetcher goroutine
// with a segmentio/kafka-go Reader (no GroupID) that finds and follows the
// partition's leader through metadata.
package consumergroup
