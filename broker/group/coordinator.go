package group

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/zkafka/zkafka/internal/goroutine"
)

// Config holds the broker settings of the group coordinator (Kafka 2.4's
// group.* and offsets.* keys).
type Config struct {
	OffsetsTopicNumPartitions int32         // offsets.topic.num.partitions, default 50
	MinSessionTimeout         time.Duration // group.min.session.timeout.ms, default 6000
	MaxSessionTimeout         time.Duration // group.max.session.timeout.ms, default 1800000
	MaxSize                   int           // group.max.size, default 2147483647
	InitialRebalanceDelay     time.Duration // group.initial.rebalance.delay.ms, default 3000
	OffsetMetadataMaxBytes    int           // offset.metadata.max.bytes, default 4096
	// OwnershipCheckInterval is how often groups of partitions this broker
	// no longer leads are unloaded (requests check on arrival too).
	OwnershipCheckInterval time.Duration // default 1s
}

// EnsureDefaults fills unset fields with Kafka 2.4's defaults.
func (c *Config) EnsureDefaults() {
	if c.OffsetsTopicNumPartitions <= 0 {
		c.OffsetsTopicNumPartitions = 50
	}
	if c.MinSessionTimeout == 0 {
		c.MinSessionTimeout = 6 * time.Second
	}
	if c.MaxSessionTimeout == 0 {
		c.MaxSessionTimeout = 30 * time.Minute
	}
	if c.MaxSize <= 0 {
		c.MaxSize = math.MaxInt32
	}
	if c.OffsetMetadataMaxBytes <= 0 {
		c.OffsetMetadataMaxBytes = 4096
	}
	if c.OwnershipCheckInterval <= 0 {
		c.OwnershipCheckInterval = time.Second
	}
}

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// OffsetStore keeps committed offsets (in ZooKeeper, /consumers/<g>/offsets).
type OffsetStore interface {
	// CommitOffsets writes all offsets at once.
	CommitOffsets(ctx context.Context, group string, offsets map[TopicPartition]int64) error
	// FetchOffsets reads the committed offsets of tps (nil = all the group
	// has); partitions without a committed offset are absent.
	FetchOffsets(ctx context.Context, group string, tps []TopicPartition) (map[TopicPartition]int64, error)
	// DeleteOffsets removes the committed offsets of tps.
	DeleteOffsets(ctx context.Context, group string, tps []TopicPartition) error
	// DeleteGroup removes everything stored for the group: ErrGroupNotFound
	// if there is nothing, ErrGroupNotEmpty if live consumers (classic
	// ZooKeeper consumers) are registered in it.
	DeleteGroup(ctx context.Context, group string) error
	// Groups lists the groups with stored state.
	Groups(ctx context.Context) ([]string, error)
}

// Errors of OffsetStore.DeleteGroup.
var (
	ErrGroupNotFound = errors.New("group not found")
	ErrGroupNotEmpty = errors.New("group has live members")
)

// Ownership reports whether this broker leads partition p of
// __consumer_offsets, and with which leader epoch.
type Ownership func(p int32) (leaderEpoch int32, leads bool)

// Coordinator is the group coordinator of one broker: it answers the group
// APIs for the groups whose __consumer_offsets partition this broker leads.
// Each group is owned by one goroutine (an actor) running the state machine
// of state.go; timers are deadlines of that state machine.
type Coordinator struct {
	cfg   Config
	owns  Ownership
	store OffsetStore
	log   logrus.FieldLogger

	goroutines goroutine.Group
	mu         sync.Mutex // guards groups (a leaf lock)
	groups     map[string]*actor
	closed     bool
}

// New returns a coordinator; call Run to serve.
func New(cfg Config, owns Ownership, store OffsetStore, log logrus.FieldLogger) *Coordinator {
	cfg.EnsureDefaults()
	return &Coordinator{cfg: cfg, owns: owns, store: store, log: log, groups: map[string]*actor{}}
}

// PartitionFor is the __consumer_offsets partition of a group:
// abs(groupId.hashCode) % partitions, with Java's String.hashCode and
// Kafka's Utils.abs.
func PartitionFor(groupID string, partitions int32) int32 {
	var h int32
	for _, u := range utf16Units(groupID) {
		h = 31*h + int32(u)
	}
	if h == math.MinInt32 {
		h = 0
	} else if h < 0 {
		h = -h
	}
	return h % partitions
}

func utf16Units(s string) []uint16 {
	out := make([]uint16, 0, len(s))
	for _, r := range s {
		switch {
		case r >= 0x10000:
			r -= 0x10000
			out = append(out, uint16(0xD800+(r>>10)), uint16(0xDC00+(r&0x3FF)))
		default:
			out = append(out, uint16(r))
		}
	}
	return out
}

// Partition is PartitionFor with this coordinator's partition count.
func (c *Coordinator) Partition(groupID string) int32 {
	return PartitionFor(groupID, c.cfg.OffsetsTopicNumPartitions)
}

// Run unloads groups whose partition this broker stops leading, until ctx
// ends; then it unloads every group and waits for their goroutines.
func (c *Coordinator) Run(ctx context.Context) {
	t := time.NewTicker(c.cfg.OwnershipCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			c.mu.Lock()
			c.closed = true
			all := c.groups
			c.groups = map[string]*actor{}
			c.mu.Unlock()
			for _, a := range all {
				a.stop()
			}
			c.goroutines.Wait()
			return
		case <-t.C:
			c.CheckOwnership()
		}
	}
}

// CheckOwnership unloads the groups whose __consumer_offsets partition this
// broker no longer leads (or leads in a newer epoch). Run calls it every
// OwnershipCheckInterval; the broker also calls it as soon as leadership of
// such a partition changes.
func (c *Coordinator) CheckOwnership() {
	c.mu.Lock()
	var gone []*actor
	for id, a := range c.groups {
		if epoch, ok := c.owns(a.partition); !ok || epoch != a.epoch {
			delete(c.groups, id)
			gone = append(gone, a)
		}
	}
	c.mu.Unlock()
	for _, a := range gone {
		c.log.WithFields(logrus.Fields{"group": a.id, "partition": a.partition}).Info("no longer coordinator: unloading group")
		a.stop()
	}
}

// ValidGroupID reports whether a group id can be stored under
// /consumers/<g>: a ZooKeeper node name.
func ValidGroupID(id string) bool {
	if id == "" || id == "." || id == ".." || strings.ContainsRune(id, '/') {
		return false
	}
	for _, r := range id {
		if r == 0 || (r > 0 && r < 0x1f) || (r >= 0x7f && r <= 0x9f) || (r >= 0xd800 && r <= 0xf8ff) || (r >= 0xfff0 && r <= 0xffff) {
			return false
		}
	}
	return true
}

// lookup finds the group's actor, checking that this broker coordinates
// it; with create, a missing group is created. It returns a Kafka error
// code when there is no actor to talk to (0 with a nil actor: no group).
func (c *Coordinator) lookup(groupID string, create bool) (*actor, int16) {
	if !ValidGroupID(groupID) {
		return nil, kerr.InvalidGroupID.Code
	}
	p := c.Partition(groupID)
	epoch, ok := c.owns(p)
	c.mu.Lock()
	a := c.groups[groupID]
	if a != nil && (!ok || a.epoch != epoch) { // leadership changed under us
		delete(c.groups, groupID)
		defer a.stop()
		a = nil
	}
	switch {
	case c.closed:
		c.mu.Unlock()
		return nil, kerr.CoordinatorNotAvailable.Code
	case !ok:
		c.mu.Unlock()
		return nil, kerr.NotCoordinator.Code
	case a == nil && create:
		a = c.startActor(groupID, p, epoch)
	}
	c.mu.Unlock()
	return a, 0
}

// startActor starts a group's goroutine; c.mu is held.
func (c *Coordinator) startActor(groupID string, p, epoch int32) *actor {
	a := &actor{
		id: groupID, partition: p, epoch: epoch,
		g:       newGroup(groupID, limits{maxSize: c.cfg.MaxSize, initialRebalanceDelay: c.cfg.InitialRebalanceDelay}, newMemberID),
		inbox:   make(chan event),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		waiters: map[int64]waiter{},
		log:     c.log.WithField("group", groupID),
	}
	if !c.goroutines.Go("group", a.run) {
		close(a.done)
	}
	c.groups[groupID] = a
	return a
}

// newMemberID is Kafka's member id: client id (or group.instance.id) and a
// random UUID.
func newMemberID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	h := hex.EncodeToString(b[:])
	return fmt.Sprintf("%s-%s-%s-%s-%s-%s", prefix, h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
}

// checkSession validates a JoinGroup's session timeout.
func (c *Coordinator) checkSession(d time.Duration) bool {
	return d >= c.cfg.MinSessionTimeout && d <= c.cfg.MaxSessionTimeout
}

// Join handles a JoinGroup; it blocks until the rebalance completes (or
// ctx ends).
func (c *Coordinator) Join(ctx context.Context, groupID string, req JoinRequest) (JoinResult, error) {
	if !c.checkSession(req.SessionTimeout) {
		if !ValidGroupID(groupID) {
			return joinError(req.MemberID, kerr.InvalidGroupID.Code), nil
		}
		return joinError(req.MemberID, kerr.InvalidSessionTimeout.Code), nil
	}
	a, code := c.lookup(groupID, req.MemberID == "")
	if code != 0 {
		return joinError(req.MemberID, code), nil
	}
	if a == nil {
		return joinError(req.MemberID, kerr.UnknownMemberID.Code), nil
	}
	v, err := a.call(ctx, joinError(req.MemberID, kerr.NotCoordinator.Code), func(g *group, now time.Time, tok int64) []output {
		return g.join(now, req, tok)
	})
	if err != nil {
		return JoinResult{}, err
	}
	return v.(JoinResult), nil
}

// Sync handles a SyncGroup; a member's SyncGroup blocks until the leader's
// assignment arrives (or ctx ends).
func (c *Coordinator) Sync(ctx context.Context, groupID string, req SyncRequest) (SyncResult, error) {
	a, code := c.lookup(groupID, false)
	if code != 0 {
		return SyncResult{Error: code}, nil
	}
	if a == nil {
		return SyncResult{Error: kerr.UnknownMemberID.Code}, nil
	}
	v, err := a.call(ctx, SyncResult{Error: kerr.NotCoordinator.Code}, func(g *group, now time.Time, tok int64) []output {
		return g.sync(now, req, tok)
	})
	if err != nil {
		return SyncResult{}, err
	}
	return v.(SyncResult), nil
}

// Heartbeat handles a Heartbeat and returns its error code.
func (c *Coordinator) Heartbeat(ctx context.Context, groupID, memberID string, inst *string, generation int32) (int16, error) {
	a, code := c.lookup(groupID, false)
	if code != 0 {
		return code, nil
	}
	if a == nil {
		return kerr.UnknownMemberID.Code, nil
	}
	v, err := a.call(ctx, kerr.NotCoordinator.Code, func(g *group, now time.Time, tok int64) []output {
		return []output{{tok, g.heartbeat(now, memberID, inst, generation)}}
	})
	if err != nil {
		return 0, err
	}
	return v.(int16), nil
}

type leaveResult struct {
	code  int16
	codes []int16
}

// Leave handles a LeaveGroup: a top-level code and one per member.
func (c *Coordinator) Leave(ctx context.Context, groupID string, members []MemberIdentity) (int16, []int16, error) {
	a, code := c.lookup(groupID, false)
	if code != 0 {
		return code, nil, nil
	}
	if a == nil {
		codes := make([]int16, len(members))
		for i := range codes {
			codes[i] = kerr.UnknownMemberID.Code
		}
		return 0, codes, nil
	}
	v, err := a.call(ctx, leaveResult{code: kerr.NotCoordinator.Code}, func(g *group, now time.Time, tok int64) []output {
		code, codes, outs := g.leave(now, members)
		return append(outs, output{tok, leaveResult{code, codes}})
	})
	if err != nil {
		return 0, nil, err
	}
	r := v.(leaveResult)
	return r.code, r.codes, nil
}

// OffsetCommit is one partition's commit.
type OffsetCommit struct {
	Offset   int64
	Metadata *string // checked against offset.metadata.max.bytes, not stored
}

// CommitOffsets handles an OffsetCommit (v1+) and returns a code per
// partition. Offsets are written to the store only once the group state
// machine accepts the member and generation.
func (c *Coordinator) CommitOffsets(ctx context.Context, groupID, memberID string, inst *string, generation int32, offsets map[TopicPartition]OffsetCommit) (map[TopicPartition]int16, error) {
	all := func(code int16) map[TopicPartition]int16 {
		out := make(map[TopicPartition]int16, len(offsets))
		for tp := range offsets {
			out[tp] = code
		}
		return out
	}
	a, code := c.lookup(groupID, generation < 0)
	if code != 0 {
		return all(code), nil
	}
	if a == nil {
		return all(kerr.IllegalGeneration.Code), nil // an older generation, or a group we no longer know
	}
	v, err := a.call(ctx, kerr.NotCoordinator.Code, func(g *group, now time.Time, tok int64) []output {
		return []output{{tok, g.commitAllowed(now, memberID, inst, generation)}}
	})
	if err != nil {
		return nil, err
	}
	if code := v.(int16); code != 0 {
		return all(code), nil
	}
	return c.storeOffsets(ctx, groupID, offsets), nil
}

// StoreOffsets writes offsets without any group check (OffsetCommit v0,
// which Kafka always wrote to ZooKeeper directly).
func (c *Coordinator) StoreOffsets(ctx context.Context, groupID string, offsets map[TopicPartition]OffsetCommit) map[TopicPartition]int16 {
	if !ValidGroupID(groupID) {
		out := map[TopicPartition]int16{}
		for tp := range offsets {
			out[tp] = kerr.InvalidGroupID.Code
		}
		return out
	}
	return c.storeOffsets(ctx, groupID, offsets)
}

func (c *Coordinator) storeOffsets(ctx context.Context, groupID string, offsets map[TopicPartition]OffsetCommit) map[TopicPartition]int16 {
	out := make(map[TopicPartition]int16, len(offsets))
	toStore := make(map[TopicPartition]int64, len(offsets))
	for tp, oc := range offsets {
		if oc.Metadata != nil && len(*oc.Metadata) > c.cfg.OffsetMetadataMaxBytes {
			out[tp] = kerr.OffsetMetadataTooLarge.Code
			continue
		}
		toStore[tp] = oc.Offset
	}
	if len(toStore) == 0 {
		return out
	}
	code := int16(0)
	if err := c.store.CommitOffsets(ctx, groupID, toStore); err != nil {
		code = storeErrorCode(err)
		c.log.WithError(err).WithField("group", groupID).Warn("cannot store offsets")
	}
	for tp := range toStore {
		out[tp] = code
	}
	return out
}

func storeErrorCode(err error) int16 {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return kerr.RequestTimedOut.Code
	}
	return kerr.CoordinatorNotAvailable.Code // ZooKeeper unreachable: retriable
}

// FetchOffsets handles an OffsetFetch: tps nil = all of the group's
// partitions. Offsets are read from the store whatever the group's state.
func (c *Coordinator) FetchOffsets(ctx context.Context, groupID string, tps []TopicPartition) (int16, map[TopicPartition]int64) {
	if _, code := c.lookup(groupID, false); code != 0 {
		return code, nil
	}
	return c.LoadOffsets(ctx, groupID, tps)
}

// LoadOffsets reads offsets without a coordinator check (OffsetFetch v0).
func (c *Coordinator) LoadOffsets(ctx context.Context, groupID string, tps []TopicPartition) (int16, map[TopicPartition]int64) {
	if !ValidGroupID(groupID) {
		return kerr.InvalidGroupID.Code, nil
	}
	offs, err := c.store.FetchOffsets(ctx, groupID, tps)
	if err != nil {
		c.log.WithError(err).WithField("group", groupID).Warn("cannot read offsets")
		return storeErrorCode(err), nil
	}
	return 0, offs
}

// Describe handles one group of DescribeGroups. A group unknown in memory
// is Empty if the store has offsets for it, else Dead.
func (c *Coordinator) Describe(ctx context.Context, groupID string) (int16, Summary, error) {
	a, code := c.lookup(groupID, false)
	if code != 0 {
		return code, Summary{}, nil
	}
	if a == nil {
		offs, err := c.store.FetchOffsets(ctx, groupID, nil)
		if err != nil {
			return storeErrorCode(err), Summary{}, nil
		}
		if len(offs) > 0 {
			return 0, Summary{State: Empty.String()}, nil
		}
		return 0, Summary{State: Dead.String()}, nil
	}
	v, err := a.call(ctx, Summary{State: Dead.String()}, func(g *group, now time.Time, tok int64) []output {
		return []output{{tok, g.summary()}}
	})
	if err != nil {
		return 0, Summary{}, err
	}
	return 0, v.(Summary), nil
}

// Overview is one group in ListGroups.
type Overview struct {
	GroupID      string
	ProtocolType string
	State        string
}

// List handles ListGroups: the groups this broker coordinates, in memory
// and in the store (groups with only committed offsets, including classic
// ZooKeeper consumer groups, are listed with an empty protocol type).
func (c *Coordinator) List(ctx context.Context) (int16, []Overview) {
	names, err := c.store.Groups(ctx)
	if err != nil {
		return storeErrorCode(err), nil
	}
	seen := map[string]bool{}
	var out []Overview
	c.mu.Lock()
	actors := make([]*actor, 0, len(c.groups))
	for _, a := range c.groups {
		actors = append(actors, a)
	}
	c.mu.Unlock()
	for _, a := range actors {
		if _, ok := c.owns(a.partition); !ok {
			continue
		}
		v, err := a.call(ctx, nil, func(g *group, now time.Time, tok int64) []output {
			return []output{{tok, Overview{GroupID: g.id, ProtocolType: g.protocolType, State: g.state.String()}}}
		})
		if err != nil {
			return kerr.RequestTimedOut.Code, nil
		}
		if o, ok := v.(Overview); ok && o.State != Dead.String() {
			out = append(out, o)
			seen[o.GroupID] = true
		}
	}
	for _, n := range names {
		if seen[n] || !ValidGroupID(n) {
			continue
		}
		if _, ok := c.owns(c.Partition(n)); ok {
			out = append(out, Overview{GroupID: n, State: Empty.String()})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GroupID < out[j].GroupID })
	return 0, out
}

// DeleteGroup handles one group of DeleteGroups: only a group without
// members can be deleted; its stored state goes with it.
func (c *Coordinator) DeleteGroup(ctx context.Context, groupID string) int16 {
	a, code := c.lookup(groupID, false)
	if code != 0 {
		return code
	}
	if a != nil {
		v, err := a.call(ctx, kerr.NotCoordinator.Code, func(g *group, now time.Time, tok int64) []output {
			if g.state != Empty && g.state != Dead {
				return []output{{tok, kerr.NonEmptyGroup.Code}}
			}
			g.state = Dead
			return []output{{tok, int16(0)}}
		})
		if err != nil {
			return kerr.RequestTimedOut.Code
		}
		if code := v.(int16); code != 0 {
			return code
		}
		c.mu.Lock()
		if c.groups[groupID] == a {
			delete(c.groups, groupID)
		}
		c.mu.Unlock()
		a.stop()
	}
	switch err := c.store.DeleteGroup(ctx, groupID); {
	case err == nil:
		return 0
	case errors.Is(err, ErrGroupNotEmpty):
		return kerr.NonEmptyGroup.Code
	case errors.Is(err, ErrGroupNotFound):
		if a != nil {
			return 0 // the group existed in memory only
		}
		return kerr.GroupIDNotFound.Code
	default:
		c.log.WithError(err).WithField("group", groupID).Warn("cannot delete group")
		return storeErrorCode(err)
	}
}

// DeleteOffsets handles OffsetDelete (KIP-496): a top-level code and one
// per partition. Offsets of topics an active consumer group subscribes to
// cannot be deleted (GROUP_SUBSCRIBED_TO_TOPIC).
func (c *Coordinator) DeleteOffsets(ctx context.Context, groupID string, tps []TopicPartition) (int16, map[TopicPartition]int16) {
	a, code := c.lookup(groupID, false)
	if code != 0 {
		return code, nil
	}
	subscribed := map[string]bool{}
	if a != nil {
		v, err := a.call(ctx, nil, func(g *group, now time.Time, tok int64) []output {
			if g.state == Dead {
				return []output{{tok, kerr.GroupIDNotFound.Code}}
			}
			if g.state != Empty && g.protocolType != "consumer" {
				return []output{{tok, kerr.NonEmptyGroup.Code}}
			}
			return []output{{tok, g.subscribedTopics()}}
		})
		if err != nil {
			return kerr.RequestTimedOut.Code, nil
		}
		switch x := v.(type) {
		case int16:
			return x, nil
		case map[string]bool:
			subscribed = x
		default:
			return kerr.NotCoordinator.Code, nil
		}
	} else {
		offs, err := c.store.FetchOffsets(ctx, groupID, nil)
		if err != nil {
			return storeErrorCode(err), nil
		}
		if len(offs) == 0 {
			return kerr.GroupIDNotFound.Code, nil
		}
	}
	out := make(map[TopicPartition]int16, len(tps))
	var del []TopicPartition
	for _, tp := range tps {
		if subscribed[tp.Topic] {
			out[tp] = kerr.GroupSubscribedToTopic.Code
			continue
		}
		out[tp] = 0
		del = append(del, tp)
	}
	if len(del) > 0 {
		if err := c.store.DeleteOffsets(ctx, groupID, del); err != nil {
			return storeErrorCode(err), nil
		}
	}
	return 0, out
}

// subscribedTopics decodes the members' consumer-protocol subscriptions
// (version, topics...) for the selected protocol.
func (g *group) subscribedTopics() map[string]bool {
	out := map[string]bool{}
	if g.state == Empty || g.protocolType != "consumer" {
		return out
	}
	for _, m := range g.members {
		md := m.metadata(g.protocol)
		if md == nil && len(m.protocols) > 0 {
			md = m.protocols[0].Metadata
		}
		for _, t := range decodeSubscriptionTopics(md) {
			out[t] = true
		}
	}
	return out
}

// decodeSubscriptionTopics reads the topic list of a ConsumerProtocol
// subscription (int16 version, array of strings); malformed input gives
// what could be read.
func decodeSubscriptionTopics(b []byte) []string {
	if len(b) < 6 {
		return nil
	}
	n := int32(uint32(b[2])<<24 | uint32(b[3])<<16 | uint32(b[4])<<8 | uint32(b[5]))
	b = b[6:]
	var out []string
	for i := int32(0); i < n && len(b) >= 2; i++ {
		l := int(int16(uint16(b[0])<<8 | uint16(b[1])))
		b = b[2:]
		if l < 0 || l > len(b) {
			return out
		}
		out = append(out, string(b[:l]))
		b = b[l:]
	}
	return out
}

// actor owns one group's state machine: every event runs on its
// goroutine; answers are delivered to the waiting requests by token.
type actor struct {
	id               string
	partition, epoch int32
	log              logrus.FieldLogger

	g       *group // owned by run
	inbox   chan event
	quit    chan struct{}
	done    chan struct{}
	stopped sync.Once
	waiters map[int64]waiter // owned by run
	next    int64            // last token, owned by run
}

type event struct {
	fn       func(g *group, now time.Time, token int64) []output
	reply    chan any // buffered 1
	unloaded any      // the answer if the group is unloaded first
}

type waiter struct {
	reply    chan any
	unloaded any
}

// stop unloads the group: parked requests are answered NOT_COORDINATOR.
func (a *actor) stop() { a.stopped.Do(func() { close(a.quit) }) }

// call runs fn on the actor and waits for the answer addressed to its
// token. If the actor is gone first, the answer is unloaded.
func (a *actor) call(ctx context.Context, unloaded any, fn func(g *group, now time.Time, token int64) []output) (any, error) {
	ev := event{fn: fn, reply: make(chan any, 1), unloaded: unloaded}
	select {
	case a.inbox <- ev:
	case <-a.done:
		return unloaded, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case v := <-ev.reply:
		return v, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (a *actor) run() {
	defer close(a.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		if d, ok := a.g.nextDeadline(); ok {
			timer.Reset(time.Until(d))
		}
		select {
		case ev := <-a.inbox:
			a.next++
			a.waiters[a.next] = waiter{reply: ev.reply, unloaded: ev.unloaded}
			before := a.g.state
			a.deliver(ev.fn(a.g, time.Now(), a.next))
			a.logTransition(before)
		case <-timer.C:
			before := a.g.state
			a.deliver(a.g.tick(time.Now()))
			a.logTransition(before)
		case <-a.quit:
			a.deliver(a.g.unload())
			for t, w := range a.waiters {
				w.reply <- w.unloaded
				delete(a.waiters, t)
			}
			a.drain()
			return
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// drain answers requests that raced with the unload.
func (a *actor) drain() {
	for {
		select {
		case ev := <-a.inbox:
			ev.reply <- ev.unloaded
		default:
			return
		}
	}
}

func (a *actor) deliver(outs []output) {
	for _, o := range outs {
		if w, ok := a.waiters[o.token]; ok {
			w.reply <- o.value
			delete(a.waiters, o.token)
		}
	}
}

func (a *actor) logTransition(before State) {
	if a.g.state != before {
		a.log.WithFields(logrus.Fields{"from": before.String(), "to": a.g.state.String(), "generation": a.g.generation, "members": len(a.g.members)}).Info("group state change")
	}
}
