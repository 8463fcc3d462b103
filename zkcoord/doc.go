// Package zkcoord is zkafka's only door to ZooKeeper: the session, every
// znode path and JSON codec of Apache Kafka 2.4's ZooKeeper layout
// (docs/ZK-LAYOUT.md), broker registration, cluster id, and the topic admin
// operations Kafka's AdminZkClient performs. It knows no broker internals
// and no storage. Controller election and fenced partition-state writes
// (controller.go, partition_state.go) are built on Session by the controller
// owner.
//
// # Model
//
// ZooKeeper is the source of truth. Everything zkcoord writes is byte-for-
// byte what Kafka 2.4 writes (modulo JSON key order), in the same order and
// with the same create modes (see the golden files under
// /work/shared/reference), so zkCli users and ZooKeeper-reading tools see a
// Kafka cluster. Paths are constants/functions in paths.go; codecs
// (Encode*/Decode*) in codec.go are pure and table-tested against the
// reference dump.
//
// # Session contract
//
// Connect(ctx, "host:port[,host:port...][/chroot]", timeout, log) returns
// once a live session exists (bounded only by ctx; give it a deadline) and
// after creating the chroot if missing. Every path passed to or returned by
// a Session method (including created sequential paths, Multi results and
// watch event paths) is relative to the chroot. Methods mirror go-zookeeper
// (Get, GetW, Set, Create, CreateRecursive, EnsurePath, Delete,
// DeleteRecursive, Children, ChildrenW, Exists, ExistsW, Multi) and take a
// ctx: if ctx ends first they return ctx.Err() and the request keeps running
// in go-zookeeper, so a cancelled write has an unknown outcome (retry with
// an idempotent check, as RegisterBroker does). Errors wrap go-zookeeper's
// sentinels, re-exported as ErrNoNode, ErrNodeExists, ErrBadVersion...;
// branch with errors.Is. Multi returns an error wrapping the failing op's
// error (e.g. ErrBadVersion from a CheckVersionOp fence).
//
// go-zookeeper reconnects transparently within a session; after the server
// expires the session it silently creates a NEW session: ephemerals
// (/brokers/ids/N, /controller, consumer ids/owners) are gone and every
// watch has fired with EventNotWatching. zkcoord turns this into:
//
//   - Subscribe() (<-chan SessionEvent, cancel): an unbounded, never-dropping
//     stream of Connected (first session, or same session after a
//     disconnection), Disconnected, Expired (old session id) and NewSession
//     (new session id). Closed by cancel or Close.
//   - OnNewSession(fn): after every NewSession, all registered callbacks run
//     one after another, in registration order, on one goroutine owned by
//     the Session, with a ctx cancelled if that session expires too (a new
//     round then starts) or on Close. Use them to re-create ephemerals and
//     re-arm watches: register the broker first, then re-elect (Kafka's
//     RegisterBrokerAndReelect). Never for the first session.
//   - EnsureBrokerRegistered: RegisterBroker now plus an OnNewSession hook
//     that re-registers (new czxid = new broker epoch, reported through a
//     callback).
//
// Close closes the ZooKeeper session (the server deletes its ephemerals
// immediately), cancels hook contexts, closes subscriber streams and waits
// for the Session's goroutines. Do not call Close from a hook.
//
// go-zookeeper's own log output is redirected to the injected
// logrus.FieldLogger (component=go-zookeeper; failures at Warn, chatter at
// Debug). No package-level logging.
//
// # Paths owned
//
// All of ZK-LAYOUT.md §1: /brokers/ids/N (RegisterBroker), /brokers/topics/T
// (CreateTopic), /config/topics/T and /config/changes/config_change_N
// (CreateTopic, SetTopicConfig, SetEntityConfig), /admin/delete_topics/T
// (MarkTopicForDeletion), /cluster/id (GetOrCreateClusterID), the persistent
// top-level paths (CreateTopLevelPaths), /latest_producer_id_block
// (AllocateProducerIDBlock), /consumers/G/offsets/T/P
// (Get/SetConsumerOffset). Read helpers exist for /controller,
// /controller_epoch and partition state znodes; writes to those belong to
// controller.go and partition_state.go, which must go through Session.Multi
// with CheckVersionOp(ControllerEpochPath, epochZkVersion) fences.
package zkcoord
