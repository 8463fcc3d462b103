// Package ownercheck is a test helper that checks the classic consumer
// group's ownership invariants from two sides:
//
//   - ZooKeeper: it watches /consumers/<g>/owners/... with its own
//     ZooKeeper client for the whole test, keeps the owner of every
//     partition as ZooKeeper shows it, and waits for a rebalance to settle
//     (every partition owned by a live member's thread).
//   - the members: each member reports its Claimed/Released/Lost events
//     (consumergroup.Config.OnOwnership, or the CLI's ownership log) and
//     the messages it delivered; a partition must never be held by two
//     members over overlapping intervals, and every delivery must fall
//     inside its member's interval.
package ownercheck

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// TP is a topic partition.
type TP struct {
	Topic     string
	Partition int32
}

func (tp TP) String() string { return fmt.Sprintf("%s-%d", tp.Topic, tp.Partition) }

// Checker watches one group's owners and collects member-side events.
type Checker struct {
	conn   *zk.Conn
	root   string // /<chroot>/consumers/<g>/owners
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex
	owners    map[TP]string // as ZooKeeper shows them
	changed   chan struct{} // closed and replaced on every change
	scans     int
	intervals map[TP][]*interval
	open      map[string]map[TP]*interval // member → partition → open interval
	delivered []delivery
	problems  []string
}

type interval struct {
	member     string
	start, end time.Time // end zero = still open
}

type delivery struct {
	member string
	tp     TP
	offset int64
	at     time.Time
}

// Start connects to zkAddr ("host:port") and watches
// <chroot>/consumers/<group>/owners until Stop.
func Start(zkAddr, chroot, group string) (*Checker, error) {
	conn, _, err := zk.Connect([]string{zkAddr}, 20*time.Second, zk.WithLogInfo(false), zk.WithLogger(nopLogger{}))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	k := &Checker{
		conn: conn, root: path.Join("/", chroot, "consumers", group, "owners"), cancel: cancel, done: make(chan struct{}),
		owners: map[TP]string{}, changed: make(chan struct{}),
		intervals: map[TP][]*interval{}, open: map[string]map[TP]*interval{},
	}
	go k.watchLoop(ctx)
	return k, nil
}

// Stop ends the watching.
func (k *Checker) Stop() {
	k.cancel()
	<-k.done
	k.conn.Close()
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// watchLoop re-reads the owners subtree with watches on every node each
// time one of them fires.
func (k *Checker) watchLoop(ctx context.Context) {
	defer close(k.done)
	for ctx.Err() == nil {
		fired := make(chan struct{}, 1)
		notify := func(w <-chan zk.Event) {
			go func() {
				select {
				case <-w:
					select {
					case fired <- struct{}{}:
					default:
					}
				case <-ctx.Done():
				}
			}()
		}
		owners, err := k.scan(notify)
		if err != nil {
			select {
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
			}
			continue
		}
		k.mu.Lock()
		k.owners = owners
		k.scans++
		close(k.changed)
		k.changed = make(chan struct{})
		k.mu.Unlock()
		select {
		case <-fired:
		case <-ctx.Done():
		}
	}
}

func (k *Checker) scan(notify func(<-chan zk.Event)) (map[TP]string, error) {
	owners := map[TP]string{}
	ok, _, w, err := k.conn.ExistsW(k.root)
	if err != nil {
		return nil, err
	}
	notify(w)
	if !ok {
		return owners, nil
	}
	topics, _, w, err := k.conn.ChildrenW(k.root)
	if err == zk.ErrNoNode {
		return owners, nil
	}
	if err != nil {
		return nil, err
	}
	notify(w)
	for _, t := range topics {
		parts, _, w, err := k.conn.ChildrenW(path.Join(k.root, t))
		if err == zk.ErrNoNode {
			continue
		}
		if err != nil {
			return nil, err
		}
		notify(w)
		for _, p := range parts {
			n, err := strconv.Atoi(p)
			if err != nil {
				k.problem("owner znode %s/%s/%s is not named by a partition id", k.root, t, p)
				continue
			}
			data, _, w, err := k.conn.GetW(path.Join(k.root, t, p))
			if err == zk.ErrNoNode {
				continue
			}
			if err != nil {
				return nil, err
			}
			notify(w)
			owners[TP{t, int32(n)}] = string(data)
		}
	}
	return owners, nil
}

func (k *Checker) problem(format string, args ...any) {
	k.mu.Lock()
	k.problems = append(k.problems, fmt.Sprintf(format, args...))
	k.mu.Unlock()
}

// Owners is the latest ownership ZooKeeper showed: partition → thread id.
func (k *Checker) Owners() map[TP]string {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make(map[TP]string, len(k.owners))
	for tp, o := range k.owners {
		out[tp] = o
	}
	return out
}

// WaitSettled waits until ZooKeeper shows every partition of topics
// (topic → partition count) owned by a thread of one of members (consumer
// ids), and no owner outside them. It returns the ownership and when it
// was first seen.
func (k *Checker) WaitSettled(ctx context.Context, topics map[string]int32, members []string) (map[TP]string, time.Time, error) {
	live := map[string]bool{}
	for _, m := range members {
		live[m] = true
	}
	for {
		k.mu.Lock()
		owners, changed := k.owners, k.changed
		k.mu.Unlock()
		err := settled(owners, topics, live)
		if err == nil {
			return k.Owners(), time.Now(), nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, time.Time{}, fmt.Errorf("ownership did not settle: %v (owners %v)", err, owners)
		}
	}
}

func settled(owners map[TP]string, topics map[string]int32, live map[string]bool) error {
	want := 0
	for t, n := range topics {
		want += int(n)
		for p := int32(0); p < n; p++ {
			o, ok := owners[TP{t, p}]
			if !ok {
				return fmt.Errorf("%s-%d has no owner", t, p)
			}
			if !live[consumerOfThread(o)] {
				return fmt.Errorf("%s-%d is owned by %s, not a live member", t, p, o)
			}
		}
	}
	if len(owners) != want {
		return fmt.Errorf("%d owner znodes, want %d", len(owners), want)
	}
	return nil
}

func consumerOfThread(th string) string {
	if i := strings.LastIndexByte(th, '-'); i > 0 {
		return th[:i]
	}
	return th
}

// Claimed, Released and Lost record a member's own view of its ownership.
// Lost and Killed end an interval like Released.
func (k *Checker) Claimed(member string, tp TP, at time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.open[member] == nil {
		k.open[member] = map[TP]*interval{}
	}
	if k.open[member][tp] != nil {
		k.problems = append(k.problems, fmt.Sprintf("%s claimed %s twice", member, tp))
		return
	}
	iv := &interval{member: member, start: at}
	k.open[member][tp] = iv
	k.intervals[tp] = append(k.intervals[tp], iv)
}

// Released ends member's interval on tp.
func (k *Checker) Released(member string, tp TP, at time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	iv := k.open[member][tp]
	if iv == nil {
		k.problems = append(k.problems, fmt.Sprintf("%s released %s without holding it", member, tp))
		return
	}
	iv.end = at
	delete(k.open[member], tp)
}

// Killed ends every open interval of member (a process killed at at).
func (k *Checker) Killed(member string, at time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for tp, iv := range k.open[member] {
		iv.end = at
		delete(k.open[member], tp)
	}
}

// Delivered records that member handed out tp's message at offset.
func (k *Checker) Delivered(member string, tp TP, offset int64, at time.Time) {
	k.mu.Lock()
	k.delivered = append(k.delivered, delivery{member, tp, offset, at})
	k.mu.Unlock()
}

// Check reports every violation: two members' intervals on one partition
// overlapping, deliveries outside the member's intervals, and problems
// seen while watching.
func (k *Checker) Check() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	probs := append([]string(nil), k.problems...)
	far := time.Now().Add(time.Hour)
	end := func(iv *interval) time.Time {
		if iv.end.IsZero() {
			return far
		}
		return iv.end
	}
	for tp, ivs := range k.intervals {
		s := append([]*interval(nil), ivs...)
		sort.Slice(s, func(i, j int) bool { return s[i].start.Before(s[j].start) })
		for i := 1; i < len(s); i++ {
			for j := 0; j < i; j++ {
				if s[j].member != s[i].member && s[i].start.Before(end(s[j])) {
					probs = append(probs, fmt.Sprintf("%s held by %s [%s, %s] and %s from %s", tp,
						s[j].member, s[j].start.Format("15:04:05.000000"), end(s[j]).Format("15:04:05.000000"),
						s[i].member, s[i].start.Format("15:04:05.000000")))
				}
			}
		}
	}
	for _, d := range k.delivered {
		ok := false
		for _, iv := range k.intervals[d.tp] {
			if iv.member == d.member && !d.at.Before(iv.start) && !d.at.After(end(iv)) {
				ok = true
				break
			}
		}
		if !ok {
			probs = append(probs, fmt.Sprintf("%s delivered %s@%d at %s outside its ownership", d.member, d.tp, d.offset, d.at.Format("15:04:05.000000")))
		}
	}
	if len(probs) > 0 {
		if len(probs) > 20 {
			probs = append(probs[:20], fmt.Sprintf("... and %d more", len(probs)-20))
		}
		return fmt.Errorf("ownership invariant violated:\n  %s", strings.Join(probs, "\n  "))
	}
	return nil
}

// Intervals is the number of ownership intervals recorded (for reports).
func (k *Checker) Intervals() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := 0
	for _, ivs := range k.intervals {
		n += len(ivs)
	}
	return n
}
