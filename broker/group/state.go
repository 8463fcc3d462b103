package group

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// State is a group's state, as Kafka 2.4's GroupState.
type State int8

const (
	Empty State = iota
	PreparingRebalance
	CompletingRebalance
	Stable
	Dead
)

func (s State) String() string {
	switch s {
	case Empty:
		return "Empty"
	case PreparingRebalance:
		return "PreparingRebalance"
	case CompletingRebalance:
		return "CompletingRebalance"
	case Stable:
		return "Stable"
	case Dead:
		return "Dead"
	}
	return "Unknown"
}

// NewMemberJoinTimeout bounds how long a new member's parked JoinGroup keeps
// it in a rebalance (Kafka's GroupCoordinator.NewMemberJoinTimeoutMs).
const NewMemberJoinTimeout = 5 * time.Minute

// Protocol is one assignment protocol a member supports, with its metadata.
type Protocol struct {
	Name     string
	Metadata []byte
}

// JoinRequest is a JoinGroup request as the coordinator sees it.
type JoinRequest struct {
	MemberID             string  // "" = unknown member
	InstanceID           *string // group.instance.id (KIP-345), nil = dynamic member
	RequireKnownMemberID bool    // JoinGroup v4+: answer MEMBER_ID_REQUIRED first
	ClientID, ClientHost string
	RebalanceTimeout     time.Duration
	SessionTimeout       time.Duration
	ProtocolType         string
	Protocols            []Protocol
}

// JoinResult is a JoinGroup answer.
type JoinResult struct {
	Error        int16
	MemberID     string
	Generation   int32
	ProtocolType string
	Protocol     string
	LeaderID     string
	Members      []MemberMetadata // only for the leader
}

// MemberMetadata is a member's metadata for the selected protocol, sent to
// the leader in its JoinGroup answer.
type MemberMetadata struct {
	MemberID   string
	InstanceID *string
	Metadata   []byte
}

// SyncRequest is a SyncGroup request as the coordinator sees it.
type SyncRequest struct {
	MemberID    string
	InstanceID  *string
	Generation  int32
	Assignments map[string][]byte // from the leader; member id -> assignment
}

// SyncResult is a SyncGroup answer.
type SyncResult struct {
	Error      int16
	Assignment []byte
}

// MemberIdentity names a member leaving (LeaveGroup v3+ batches them).
type MemberIdentity struct {
	MemberID   string
	InstanceID *string
}

// Summary describes a group for DescribeGroups.
type Summary struct {
	State        string
	ProtocolType string
	Protocol     string
	Members      []MemberSummary
}

// MemberSummary is one member in a Summary; Metadata and Assignment are set
// only for Stable groups, as in Kafka.
type MemberSummary struct {
	MemberID   string
	InstanceID *string
	ClientID   string
	ClientHost string
	Metadata   []byte
	Assignment []byte
}

// output is a result for the request with the given token: the answer to a
// parked JoinGroup or SyncGroup, or an immediate answer.
type output struct {
	token int64
	value any
}

type member struct {
	id                   string
	instanceID           *string
	clientID, clientHost string
	rebalanceTimeout     time.Duration
	sessionTimeout       time.Duration
	protocolType         string
	protocols            []Protocol
	assignment           []byte

	joinToken    int64 // parked JoinGroup, 0 = none
	syncToken    int64 // parked SyncGroup, 0 = none
	isNew        bool
	isLeaving    bool
	hbDeadline   time.Time // next heartbeat expiration, zero = none scheduled
	lastHearbeat time.Time
}

func (m *member) awaitingJoin() bool { return m.joinToken != 0 }
func (m *member) awaitingSync() bool { return m.syncToken != 0 }
func (m *member) isStatic() bool     { return m.instanceID != nil }

// matches reports whether protocols are exactly the member's current ones.
func (m *member) matches(protocols []Protocol) bool {
	if len(protocols) != len(m.protocols) {
		return false
	}
	for i, p := range protocols {
		if p.Name != m.protocols[i].Name || string(p.Metadata) != string(m.protocols[i].Metadata) {
			return false
		}
	}
	return true
}

func (m *member) metadata(protocol string) []byte {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

// vote is the member's preferred protocol among candidates.
func (m *member) vote(candidates map[string]bool) string {
	for _, p := range m.protocols {
		if candidates[p.Name] {
			return p.Name
		}
	}
	return ""
}

// limits are the broker's group settings the state machine enforces.
type limits struct {
	maxSize               int           // group.max.size
	initialRebalanceDelay time.Duration // group.initial.rebalance.delay.ms
}

// group is one consumer group's membership state machine: Kafka 2.4's
// GroupMetadata together with the decisions of GroupCoordinator,
// DelayedJoin, InitialDelayedJoin and DelayedHeartbeat. It does no I/O and
// reads no clock: every event carries the current time, timers are
// deadlines the driver asks for with nextDeadline and fires with tick, and
// answers are outputs addressed to request tokens. It is owned by one
// goroutine (the driver in coordinator.go).
type group struct {
	id     string
	limits limits
	newID  func(prefix string) string // member id generator

	state        State
	protocolType string
	protocol     string
	generation   int32
	leader       string
	members      map[string]*member
	order        []string             // member ids in join order
	pending      map[string]time.Time // MEMBER_ID_REQUIRED members -> expiry
	static       map[string]string    // group.instance.id -> member id
	supported    map[string]int       // protocol -> number of members supporting it
	numAwaiting  int                  // members with a parked JoinGroup

	// The rebalance in progress (PreparingRebalance): when it completes, and
	// whether it is still in its initial delay (InitialDelayedJoin).
	joinDeadline   time.Time
	initialDelay   bool
	delay          time.Duration
	remaining      time.Duration
	newMemberAdded bool
}

func newGroup(id string, l limits, newID func(string) string) *group {
	return &group{
		id: id, limits: l, newID: newID, state: Empty,
		members: map[string]*member{}, pending: map[string]time.Time{},
		static: map[string]string{}, supported: map[string]int{},
	}
}

func (g *group) size() int { return len(g.members) }

func (g *group) has(id string) bool { _, ok := g.members[id]; return ok }

func (g *group) hasStatic(inst *string) bool {
	if inst == nil {
		return false
	}
	_, ok := g.static[*inst]
	return ok
}

// fenced is Kafka's isStaticMemberFenced: the instance id belongs to
// another member id.
func (g *group) fenced(memberID string, inst *string) bool {
	return g.hasStatic(inst) && g.static[*inst] != memberID
}

func (g *group) canRebalance() bool {
	return g.state == Stable || g.state == CompletingRebalance || g.state == Empty
}

func (g *group) supportsProtocols(protocolType string, protocols []Protocol) bool {
	if g.state == Empty || len(g.members) == 0 {
		return protocolType != "" && len(protocols) > 0
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, p := range protocols {
		if g.supported[p.Name] == len(g.members) {
			return true
		}
	}
	return false
}

func (g *group) rebalanceTimeout() time.Duration {
	var max time.Duration
	for _, m := range g.members {
		if m.rebalanceTimeout > max {
			max = m.rebalanceTimeout
		}
	}
	return max
}

func (g *group) hasAllMembersJoined() bool {
	return len(g.members) == g.numAwaiting && len(g.pending) == 0
}

func (g *group) add(m *member, token int64) {
	if len(g.members) == 0 {
		g.protocolType = m.protocolType
	}
	if g.leader == "" {
		g.leader = m.id
	}
	g.members[m.id] = m
	g.order = append(g.order, m.id)
	for _, p := range m.protocols {
		g.supported[p.Name]++
	}
	m.joinToken = token
	if token != 0 {
		g.numAwaiting++
	}
}

func (g *group) remove(id string) {
	m := g.members[id]
	if m == nil {
		return
	}
	delete(g.members, id)
	for i, x := range g.order {
		if x == id {
			g.order = append(g.order[:i:i], g.order[i+1:]...)
			break
		}
	}
	for _, p := range m.protocols {
		g.supported[p.Name]--
	}
	if m.awaitingJoin() {
		g.numAwaiting--
	}
	if g.leader == id {
		g.leader = ""
		if len(g.order) > 0 {
			g.leader = g.order[0]
		}
	}
}

func (g *group) removeStatic(inst *string) {
	if inst != nil {
		delete(g.static, *inst)
	}
}

// updateMember replaces a member's protocols and parks its JoinGroup.
func (g *group) updateMember(m *member, protocols []Protocol, token int64) []output {
	var outs []output
	for _, p := range m.protocols {
		g.supported[p.Name]--
	}
	for _, p := range protocols {
		g.supported[p.Name]++
	}
	m.protocols = protocols
	if m.awaitingJoin() { // a second JoinGroup replaces the first, which is told to rejoin
		outs = append(outs, output{m.joinToken, joinError(m.id, kerr.RebalanceInProgress.Code)})
		g.numAwaiting--
	}
	m.joinToken = token
	if token != 0 {
		g.numAwaiting++
	}
	return outs
}

// answerJoin answers a member's parked JoinGroup, if any.
func (g *group) answerJoin(m *member, r JoinResult) []output {
	if !m.awaitingJoin() {
		return nil
	}
	t := m.joinToken
	m.joinToken = 0
	g.numAwaiting--
	return []output{{t, r}}
}

// answerSync answers a member's parked SyncGroup, if any.
func (g *group) answerSync(m *member, r SyncResult) []output {
	if !m.awaitingSync() {
		return nil
	}
	t := m.syncToken
	m.syncToken = 0
	return []output{{t, r}}
}

func joinError(memberID string, code int16) JoinResult {
	return JoinResult{Error: code, MemberID: memberID, Generation: -1}
}

// scheduleHeartbeat is Kafka's completeAndScheduleNextExpiration.
func (m *member) scheduleHeartbeat(now time.Time, timeout time.Duration) {
	m.lastHearbeat = now
	m.hbDeadline = now.Add(timeout)
}

func (g *group) currentResult(m *member) JoinResult {
	r := JoinResult{MemberID: m.id, Generation: g.generation, ProtocolType: g.protocolType, Protocol: g.protocol, LeaderID: g.leader}
	if m.id == g.leader {
		r.Members = g.currentMemberMetadata()
	}
	return r
}

func (g *group) currentMemberMetadata() []MemberMetadata {
	out := make([]MemberMetadata, 0, len(g.members))
	for _, id := range g.order {
		m := g.members[id]
		out = append(out, MemberMetadata{MemberID: id, InstanceID: m.instanceID, Metadata: m.metadata(g.protocol)})
	}
	return out
}

// join handles a JoinGroup for an existing group (Kafka's handleJoinGroup
// after the group lookup; the coordinator validated the session timeout).
func (g *group) join(now time.Time, req JoinRequest, token int64) []output {
	unknown := req.MemberID == ""
	var outs []output
	overCapacity := g.size() > g.limits.maxSize
	if cur := g.members[req.MemberID]; (overCapacity && cur != nil && !cur.awaitingJoin()) || (unknown && g.size() >= g.limits.maxSize) {
		if cur != nil {
			outs = append(outs, g.answerSync(cur, SyncResult{Error: kerr.GroupMaxSizeReached.Code})...)
			g.remove(req.MemberID)
			g.removeStatic(req.InstanceID)
		}
		outs = append(outs, output{token, joinError("", kerr.GroupMaxSizeReached.Code)})
	} else if unknown {
		outs = append(outs, g.joinUnknown(now, req, token)...)
	} else {
		outs = append(outs, g.joinKnown(now, req, token)...)
	}
	if g.state == PreparingRebalance {
		outs = append(outs, g.tryCompleteJoin(now)...)
	}
	return outs
}

func (g *group) joinUnknown(now time.Time, req JoinRequest, token int64) []output {
	switch {
	case g.state == Dead:
		return []output{{token, joinError("", kerr.CoordinatorNotAvailable.Code)}}
	case !g.supportsProtocols(req.ProtocolType, req.Protocols):
		return []output{{token, joinError("", kerr.InconsistentGroupProtocol.Code)}}
	}
	prefix := req.ClientID
	if req.InstanceID != nil {
		prefix = *req.InstanceID
	}
	newID := g.newID(prefix)
	switch {
	case g.hasStatic(req.InstanceID):
		// A static member rejoining with an unknown member id takes over
		// its old identity (KIP-345); the old member id is fenced.
		oldID := g.static[*req.InstanceID]
		currentLeader := g.leader
		outs, m := g.replaceInstance(oldID, newID, req.InstanceID)
		m.scheduleHeartbeat(now, m.sessionTimeout)
		outs = append(outs, g.updateMember(m, req.Protocols, token)...)
		if g.state == Stable || g.state == CompletingRebalance {
			// No rebalance: the member gets the current generation. The old
			// leader id is returned so that a rejoining leader does not
			// compute an assignment a Stable group would never distribute.
			r := JoinResult{MemberID: newID, Generation: g.generation, ProtocolType: g.protocolType, Protocol: g.protocol, LeaderID: currentLeader}
			outs = append(outs, g.answerJoin(m, r)...)
		}
		return outs
	case req.RequireKnownMemberID:
		g.pending[newID] = now.Add(req.SessionTimeout)
		return []output{{token, joinError(newID, kerr.MemberIDRequired.Code)}}
	default:
		return g.addMemberAndRebalance(now, req, newID, token)
	}
}

func (g *group) joinKnown(now time.Time, req JoinRequest, token int64) []output {
	switch {
	case g.state == Dead:
		return []output{{token, joinError(req.MemberID, kerr.CoordinatorNotAvailable.Code)}}
	case !g.supportsProtocols(req.ProtocolType, req.Protocols):
		return []output{{token, joinError(req.MemberID, kerr.InconsistentGroupProtocol.Code)}}
	}
	if _, ok := g.pending[req.MemberID]; ok {
		if req.InstanceID != nil { // pending members are always dynamic
			return []output{{token, joinError(req.MemberID, kerr.UnknownMemberID.Code)}}
		}
		return g.addMemberAndRebalance(now, req, req.MemberID, token)
	}
	if g.fenced(req.MemberID, req.InstanceID) {
		return []output{{token, joinError(req.MemberID, kerr.FencedInstanceID.Code)}}
	}
	m := g.members[req.MemberID]
	if m == nil || (req.InstanceID != nil && !g.hasStatic(req.InstanceID)) {
		return []output{{token, joinError(req.MemberID, kerr.UnknownMemberID.Code)}}
	}
	switch g.state {
	case PreparingRebalance:
		return g.updateMemberAndRebalance(now, m, req.Protocols, token)
	case CompletingRebalance:
		if m.matches(req.Protocols) { // it missed the JoinGroup answer: send it again
			return []output{{token, g.currentResult(m)}}
		}
		return g.updateMemberAndRebalance(now, m, req.Protocols, token)
	case Stable:
		if m.id == g.leader || !m.matches(req.Protocols) {
			// The leader rejoining forces a rebalance (it saw a metadata
			// change), as does a member with new metadata.
			return g.updateMemberAndRebalance(now, m, req.Protocols, token)
		}
		r := g.currentResult(m)
		r.Members = nil
		return []output{{token, r}}
	default:
		return []output{{token, joinError(req.MemberID, kerr.UnknownMemberID.Code)}}
	}
}

// replaceInstance gives a static member a new member id; requests parked
// under the old id are answered FENCED_INSTANCE_ID.
func (g *group) replaceInstance(oldID, newID string, inst *string) ([]output, *member) {
	m := g.members[oldID]
	var outs []output
	outs = append(outs, g.answerJoin(m, joinError(oldID, kerr.FencedInstanceID.Code))...)
	outs = append(outs, g.answerSync(m, SyncResult{Error: kerr.FencedInstanceID.Code})...)
	delete(g.members, oldID)
	for i, x := range g.order {
		if x == oldID {
			g.order[i] = newID
		}
	}
	if g.leader == oldID {
		g.leader = newID
	}
	m.id = newID
	g.members[newID] = m
	g.static[*inst] = newID
	return outs, m
}

func (g *group) addMemberAndRebalance(now time.Time, req JoinRequest, id string, token int64) []output {
	m := &member{
		id: id, instanceID: req.InstanceID, clientID: req.ClientID, clientHost: req.ClientHost,
		rebalanceTimeout: req.RebalanceTimeout, sessionTimeout: req.SessionTimeout,
		protocolType: req.ProtocolType, protocols: req.Protocols, isNew: true,
	}
	if g.state == PreparingRebalance && g.generation == 0 {
		g.newMemberAdded = true // lets the initial delay extend
	}
	g.add(m, token)
	// A new member cannot heartbeat before it knows its id, so its parked
	// JoinGroup is bounded by NewMemberJoinTimeout instead.
	m.scheduleHeartbeat(now, NewMemberJoinTimeout)
	if m.isStatic() {
		g.static[*m.instanceID] = id
	} else {
		delete(g.pending, id)
	}
	return g.maybePrepareRebalance(now)
}

func (g *group) updateMemberAndRebalance(now time.Time, m *member, protocols []Protocol, token int64) []output {
	outs := g.updateMember(m, protocols, token)
	return append(outs, g.maybePrepareRebalance(now)...)
}

func (g *group) maybePrepareRebalance(now time.Time) []output {
	if !g.canRebalance() {
		return nil
	}
	return g.prepareRebalance(now)
}

func (g *group) prepareRebalance(now time.Time) []output {
	var outs []output
	if g.state == CompletingRebalance { // members waiting in SyncGroup must rejoin
		outs = g.resetAndPropagate(kerr.RebalanceInProgress.Code)
	}
	if g.state == Empty {
		g.initialDelay = true
		g.delay = g.limits.initialRebalanceDelay
		g.remaining = g.rebalanceTimeout() - g.delay
		if g.remaining < 0 {
			g.remaining = 0
		}
		g.joinDeadline = now.Add(g.delay)
	} else {
		g.initialDelay = false
		g.joinDeadline = now.Add(g.rebalanceTimeout())
	}
	g.state = PreparingRebalance
	if !g.initialDelay {
		outs = append(outs, g.tryCompleteJoin(now)...)
	}
	return outs
}

// tryCompleteJoin completes the rebalance once every member has rejoined
// (DelayedJoin.tryComplete); never during the initial delay.
func (g *group) tryCompleteJoin(now time.Time) []output {
	if g.state != PreparingRebalance || g.initialDelay || !g.hasAllMembersJoined() {
		return nil
	}
	return g.completeJoin(now)
}

// completeJoin is Kafka's onCompleteJoin.
func (g *group) completeJoin(now time.Time) []output {
	var outs []output
	for _, id := range append([]string(nil), g.order...) {
		if m := g.members[id]; !m.awaitingJoin() && !m.isStatic() {
			m.isLeaving = true
			outs = append(outs, g.answerSync(m, SyncResult{Error: kerr.UnknownMemberID.Code})...)
			g.remove(id)
		}
	}
	g.joinDeadline = time.Time{}
	g.initialDelay = false
	if g.state == Dead {
		return outs
	}
	if !g.electJoinedLeader() && len(g.members) > 0 {
		// Only static members that have not rejoined are left: wait another
		// rebalance timeout for them (or for their sessions to expire).
		g.joinDeadline = now.Add(g.rebalanceTimeout())
		return outs
	}
	g.initNextGeneration()
	if g.state == Empty {
		return outs
	}
	for _, id := range g.order {
		m := g.members[id]
		outs = append(outs, g.answerJoin(m, g.currentResult(m))...)
		m.scheduleHeartbeat(now, m.sessionTimeout)
		m.isNew = false
	}
	return outs
}

// electJoinedLeader keeps the leader if it rejoined, else picks a member
// that did (Kafka's maybeElectNewJoinedLeader).
func (g *group) electJoinedLeader() bool {
	if g.leader == "" {
		return false
	}
	if g.members[g.leader].awaitingJoin() {
		return true
	}
	for _, id := range g.order {
		if g.members[id].awaitingJoin() {
			g.leader = id
			return true
		}
	}
	return false
}

func (g *group) initNextGeneration() {
	g.generation++
	if len(g.members) > 0 {
		g.protocol = g.selectProtocol()
		g.state = CompletingRebalance
	} else {
		g.protocol = ""
		g.state = Empty
	}
}

// selectProtocol picks, among the protocols every member supports, the one
// most members prefer; ties go to the earliest-joined member's preference.
func (g *group) selectProtocol() string {
	candidates := map[string]bool{}
	for p, n := range g.supported {
		if n == len(g.members) {
			candidates[p] = true
		}
	}
	votes := map[string]int{}
	for _, m := range g.members {
		votes[m.vote(candidates)]++
	}
	best, bestVotes := "", -1
	for _, p := range g.members[g.order[0]].protocols {
		if candidates[p.Name] && votes[p.Name] > bestVotes {
			best, bestVotes = p.Name, votes[p.Name]
		}
	}
	return best
}

func (g *group) resetAndPropagate(code int16) []output {
	var outs []output
	for _, id := range g.order {
		m := g.members[id]
		m.assignment = nil
		if o := g.answerSync(m, SyncResult{Error: code}); o != nil {
			outs = append(outs, o...)
		}
	}
	return outs
}

// sync handles a SyncGroup.
func (g *group) sync(now time.Time, req SyncRequest, token int64) []output {
	reply := func(code int16, a []byte) []output { return []output{{token, SyncResult{Error: code, Assignment: a}}} }
	switch {
	case g.state == Dead:
		return reply(kerr.CoordinatorNotAvailable.Code, nil)
	case g.fenced(req.MemberID, req.InstanceID):
		return reply(kerr.FencedInstanceID.Code, nil)
	case !g.has(req.MemberID):
		return reply(kerr.UnknownMemberID.Code, nil)
	case req.Generation != g.generation:
		return reply(kerr.IllegalGeneration.Code, nil)
	}
	m := g.members[req.MemberID]
	switch g.state {
	case Empty:
		return reply(kerr.UnknownMemberID.Code, nil)
	case PreparingRebalance:
		return reply(kerr.RebalanceInProgress.Code, nil)
	case Stable:
		m.scheduleHeartbeat(now, m.sessionTimeout)
		return reply(0, m.assignment)
	}
	// CompletingRebalance: park until the leader's assignment arrives.
	outs := g.answerSync(m, SyncResult{Error: kerr.RebalanceInProgress.Code}) // a repeated SyncGroup replaces the first
	m.syncToken = token
	if m.id != g.leader {
		return outs
	}
	for _, id := range g.order {
		mm := g.members[id]
		mm.assignment = req.Assignments[id] // missing members get an empty assignment
		if mm.assignment == nil {
			mm.assignment = []byte{}
		}
	}
	for _, id := range g.order {
		mm := g.members[id]
		if o := g.answerSync(mm, SyncResult{Assignment: mm.assignment}); o != nil {
			outs = append(outs, o...)
			mm.scheduleHeartbeat(now, mm.sessionTimeout)
		}
	}
	g.state = Stable
	return outs
}

// heartbeat handles a Heartbeat and returns its error code.
func (g *group) heartbeat(now time.Time, memberID string, inst *string, generation int32) int16 {
	switch {
	case g.state == Dead:
		return kerr.CoordinatorNotAvailable.Code
	case g.fenced(memberID, inst):
		return kerr.FencedInstanceID.Code
	case !g.has(memberID):
		return kerr.UnknownMemberID.Code
	case generation != g.generation:
		return kerr.IllegalGeneration.Code
	}
	m := g.members[memberID]
	switch g.state {
	case Empty:
		return kerr.UnknownMemberID.Code
	case CompletingRebalance:
		return kerr.RebalanceInProgress.Code
	case PreparingRebalance:
		m.scheduleHeartbeat(now, m.sessionTimeout)
		return kerr.RebalanceInProgress.Code
	}
	m.scheduleHeartbeat(now, m.sessionTimeout)
	return 0
}

// leave handles a LeaveGroup: a top-level error code and one per member.
func (g *group) leave(now time.Time, leaving []MemberIdentity) (int16, []int16, []output) {
	if g.state == Dead {
		return kerr.CoordinatorNotAvailable.Code, nil, nil
	}
	codes := make([]int16, len(leaving))
	var outs []output
	for i, l := range leaving {
		_, isPending := g.pending[l.MemberID]
		switch {
		case l.MemberID != "" && g.fenced(l.MemberID, l.InstanceID):
			codes[i] = kerr.FencedInstanceID.Code
		case isPending && l.InstanceID == nil:
			delete(g.pending, l.MemberID)
			outs = append(outs, g.tryCompleteJoin(now)...)
		case !g.has(l.MemberID) && !g.hasStatic(l.InstanceID):
			codes[i] = kerr.UnknownMemberID.Code
		default:
			id := l.MemberID
			if g.hasStatic(l.InstanceID) {
				id = g.static[*l.InstanceID]
			}
			m := g.members[id]
			m.isLeaving = true
			outs = append(outs, g.removeMemberAndUpdate(now, m)...)
		}
	}
	return 0, codes, outs
}

// removeMemberAndUpdate removes a member (left or expired) and moves the
// group on: a rebalance, or completing the one in progress.
func (g *group) removeMemberAndUpdate(now time.Time, m *member) []output {
	outs := g.answerJoin(m, joinError("", kerr.UnknownMemberID.Code))
	outs = append(outs, g.answerSync(m, SyncResult{Error: kerr.UnknownMemberID.Code})...)
	g.remove(m.id)
	g.removeStatic(m.instanceID)
	switch g.state {
	case Stable, CompletingRebalance:
		outs = append(outs, g.maybePrepareRebalance(now)...)
	case PreparingRebalance:
		outs = append(outs, g.tryCompleteJoin(now)...)
	}
	return outs
}

// commitAllowed decides an OffsetCommit (Kafka's doCommitOffsets): 0 means
// store the offsets.
func (g *group) commitAllowed(now time.Time, memberID string, inst *string, generation int32) int16 {
	switch {
	case g.state == Dead:
		return kerr.CoordinatorNotAvailable.Code
	case g.fenced(memberID, inst):
		return kerr.FencedInstanceID.Code
	case generation < 0 && g.state == Empty:
		return 0 // a group that only stores offsets
	case !g.has(memberID):
		return kerr.UnknownMemberID.Code
	case generation != g.generation:
		return kerr.IllegalGeneration.Code
	}
	switch g.state {
	case Stable, PreparingRebalance:
		m := g.members[memberID]
		m.scheduleHeartbeat(now, m.sessionTimeout)
		return 0
	case CompletingRebalance:
		return kerr.RebalanceInProgress.Code
	}
	return kerr.UnknownMemberID.Code // Empty with a generation: the member is gone
}

// shouldKeepAlive is Kafka's MemberMetadata.shouldKeepAlive at an expired
// heartbeat deadline: a member parked in JoinGroup (unless new and past
// NewMemberJoinTimeout) or SyncGroup cannot heartbeat and stays.
func (m *member) shouldKeepAlive(now time.Time) bool {
	if m.awaitingJoin() {
		return !m.isNew || now.Before(m.lastHearbeat.Add(NewMemberJoinTimeout))
	}
	return m.awaitingSync()
}

// tick fires every timer due at now: pending-member and heartbeat
// expirations, and the end of the rebalance's join phase.
func (g *group) tick(now time.Time) []output {
	var outs []output
	for id, deadline := range g.pending {
		if !now.Before(deadline) {
			delete(g.pending, id)
			outs = append(outs, g.tryCompleteJoin(now)...)
		}
	}
	for _, id := range append([]string(nil), g.order...) {
		m := g.members[id]
		if m == nil || m.hbDeadline.IsZero() || now.Before(m.hbDeadline) {
			continue
		}
		m.hbDeadline = time.Time{}
		if !m.shouldKeepAlive(now) {
			outs = append(outs, g.removeMemberAndUpdate(now, m)...)
		}
	}
	if g.state == PreparingRebalance && !g.joinDeadline.IsZero() && !now.Before(g.joinDeadline) {
		if g.initialDelay && g.newMemberAdded && g.remaining > 0 {
			// InitialDelayedJoin: members keep arriving, wait once more.
			g.newMemberAdded = false
			delay := g.limits.initialRebalanceDelay
			if delay > g.remaining {
				delay = g.remaining
			}
			g.remaining -= g.delay
			if g.remaining < 0 {
				g.remaining = 0
			}
			g.delay = delay
			g.joinDeadline = now.Add(delay)
		} else {
			outs = append(outs, g.completeJoin(now)...)
		}
	}
	return outs
}

// nextDeadline is the earliest timer the driver must fire tick for.
func (g *group) nextDeadline() (time.Time, bool) {
	var next time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, t := range g.pending {
		consider(t)
	}
	for _, m := range g.members {
		consider(m.hbDeadline)
	}
	if g.state == PreparingRebalance {
		consider(g.joinDeadline)
	}
	return next, !next.IsZero()
}

// unload is Kafka's onGroupUnloaded: this broker no longer coordinates the
// group; parked requests are answered NOT_COORDINATOR and the group is Dead.
func (g *group) unload() []output {
	var outs []output
	for _, id := range g.order {
		m := g.members[id]
		outs = append(outs, g.answerJoin(m, joinError(id, kerr.NotCoordinator.Code))...)
		outs = append(outs, g.answerSync(m, SyncResult{Error: kerr.NotCoordinator.Code})...)
	}
	g.state = Dead
	return outs
}

// summary describes the group (Kafka's GroupMetadata.summary).
func (g *group) summary() Summary {
	s := Summary{State: g.state.String(), ProtocolType: g.protocolType}
	if g.state == Stable {
		s.Protocol = g.protocol
	}
	for _, id := range g.order {
		m := g.members[id]
		ms := MemberSummary{MemberID: id, InstanceID: m.instanceID, ClientID: m.clientID, ClientHost: m.clientHost}
		if g.state == Stable {
			ms.Metadata, ms.Assignment = m.metadata(g.protocol), m.assignment
		}
		s.Members = append(s.Members, ms)
	}
	return s
}
