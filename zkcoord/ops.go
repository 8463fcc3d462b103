package zkcoord

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/go-zookeeper/zk"
)

// await runs a blocking go-zookeeper call, returning early with ctx.Err()
// if ctx ends first. The call itself keeps running until ZooKeeper answers
// or the connection closes; for a write, an early return means the outcome
// is unknown.
func await[T any](ctx context.Context, f func() (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	if ctx.Done() == nil {
		return f()
	}
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// abs maps a chroot-relative path to the server path.
func (s *Session) abs(p string) (string, error) {
	if err := validatePath(p); err != nil {
		return "", err
	}
	if s.chroot == "" {
		return p, nil
	}
	if p == "/" {
		return s.chroot, nil
	}
	return s.chroot + p, nil
}

// rel maps a server path back into the chroot.
func (s *Session) rel(p string) string {
	if s.chroot == "" {
		return p
	}
	if p == s.chroot {
		return "/"
	}
	if strings.HasPrefix(p, s.chroot+"/") {
		return p[len(s.chroot):]
	}
	return p
}

func (s *Session) check() error {
	if s.closed.Load() {
		return ErrClosed
	}
	return nil
}

func opErr(op, p string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("zk %s %s: %w", op, p, err)
}

type getResult struct {
	data []byte
	stat *zk.Stat
	ch   <-chan zk.Event
}

// Get returns the data and stat of path.
func (s *Session) Get(ctx context.Context, p string) ([]byte, *Stat, error) {
	ap, err := s.abs(p)
	if err == nil {
		err = s.check()
	}
	if err != nil {
		return nil, nil, err
	}
	r, err := await(ctx, func() (getResult, error) {
		d, st, err := s.conn.Get(ap)
		return getResult{data: d, stat: st}, err
	})
	if err != nil {
		return nil, nil, opErr("get", p, err)
	}
	return r.data, r.stat, nil
}

// GetW is Get plus a one-shot data watch (fires on change or deletion).
func (s *Session) GetW(ctx context.Context, p string) ([]byte, *Stat, <-chan Event, error) {
	ap, err := s.abs(p)
	if err == nil {
		err = s.check()
	}
	if err != nil {
		return nil, nil, nil, err
	}
	r, err := await(ctx, func() (getResult, error) {
		d, st, ch, err := s.conn.GetW(ap)
		return getResult{data: d, stat: st, ch: ch}, err
	})
	if err != nil {
		return nil, nil, nil, opErr("getw", p, err)
	}
	return r.data, r.stat, s.wrapWatch(r.ch), nil
}

// Set writes data if the znode's version matches (AnyVersion: always).
func (s *Session) Set(ctx context.Context, p string, data []byte, version int32) (*Stat, error) {
	ap, err := s.abs(p)
	if err == nil {
		err = s.check()
	}
	if err != nil {
		return nil, err
	}
	st, err := await(ctx, func() (*zk.Stat, error) { return s.conn.Set(ap, data, version) })
	if err != nil {
		return nil, opErr("set", p, err)
	}
	return st, nil
}

// Create creates a znode with open ACLs and returns its (chroot-relative)
// path, which differs from p for sequential znodes.
func (s *Session) Create(ctx context.Context, p string, data []byte, flags int32) (string, error) {
	ap, err := s.abs(p)
	if err == nil {
		err = s.check()
	}
	if err != nil {
		return "", err
	}
	created, err := await(ctx, func() (string, error) {
		return s.conn.Create(ap, data, flags, zk.WorldACL(zk.PermAll))
	})
	if err != nil {
		return "", opErr("create", p, err)
	}
	return s.rel(created), nil
}

// CreateRecursive is Create that first creates missing parents (persistent,
// nil data), like Kafka's createRecursive: it tries the create, and only on
// NONODE creates the parents and retries. ErrNodeExists is returned if p
// itself exists.
func (s *Session) CreateRecursive(ctx context.Context, p string, data []byte, flags int32) (string, error) {
	created, err := s.Create(ctx, p, data, flags)
	if !errors.Is(err, zk.ErrNoNode) {
		return created, err
	}
	if err := s.ensurePath(ctx, path.Dir(p)); err != nil {
		return "", err
	}
	return s.Create(ctx, p, data, flags)
}

// ensurePath creates p and its parents (persistent, nil data) if missing.
func (s *Session) ensurePath(ctx context.Context, p string) error {
	if p == "/" {
		return nil
	}
	_, err := s.CreateRecursive(ctx, p, nil, FlagPersistent)
	if errors.Is(err, zk.ErrNodeExists) {
		return nil
	}
	return err
}

// EnsurePath makes sure the persistent path p exists (Kafka's
// makeSurePersistentPathExists): creates it and missing parents with nil
// data; an existing node is success.
func (s *Session) EnsurePath(ctx context.Context, p string) error { return s.ensurePath(ctx, p) }

// Delete deletes a znode if its version matches (AnyVersion: always).
func (s *Session) Delete(ctx context.Context, p string, version int32) error {
	ap, err := s.abs(p)
	if err == nil {
		err = s.check()
	}
	if err != nil {
		return err
	}
	_, err = await(ctx, func() (struct{}, error) { return struct{}{}, s.conn.Delete(ap, version) })
	return opErr("delete", p, err)
}

// DeleteRecursive deletes p and everything below it, depth first. A missing
// node (at any level) is not an error. Not atomic.
func (s *Session) DeleteRecursive(ctx context.Context, p string) error {
	for attempt := 0; ; attempt++ {
		children, _, err := s.Children(ctx, p)
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, c := range children {
			if err := s.DeleteRecursive(ctx, path.Join(p, c)); err != nil {
				return err
			}
		}
		err = s.Delete(ctx, p, AnyVersion)
		switch {
		case err == nil, errors.Is(err, zk.ErrNoNode):
			return nil
		case errors.Is(err, zk.ErrNotEmpty) && attempt < 10:
			continue // a child appeared meanwhile
		}
		return err
	}
}

type childrenResult struct {
	children []string
	stat     *zk.Stat
	ch       <-chan zk.Event
}

// Children lists the children names of p (unsorted, as ZooKeeper returns them).
func (s *Session) Children(ctx context.Context, p string) ([]string, *Stat, error) {
	ap, err := s.abs(p)
	if err == nil {
		err = s.check()
	}
	if err != nil {
		return nil, nil, err
	}
	r, err := await(ctx, func() (childrenResult, error) {
		c, st, err := s.conn.Children(ap)
		return childrenResult{children: c, stat: st}, err
	})
	if err != nil {
		return nil, nil, opErr("children", p, err)
	}
	return r.children, r.stat, nil
}

// ChildrenW is Children plus a one-shot child watch.
func (s *Session) ChildrenW(ctx context.Context, p string) ([]string, *Stat, <-chan Event, error) {
	ap, err := s.abs(p)
	if err == nil {
		err = s.check()
	}
	if err != nil {
		return nil, nil, nil, err
	}
	r, err := await(ctx, func() (childrenResult, error) {
		c, st, ch, err := s.conn.ChildrenW(ap)
		return childrenResult{children: c, stat: st, ch: ch}, err
	})
	if err != nil {
		return nil, nil, nil, opErr("childrenw", p, err)
	}
	return r.children, r.stat, s.wrapWatch(r.ch), nil
}

type existsResult struct {
	ok   bool
	stat *zk.Stat
	ch   <-chan zk.Event
}

// Exists reports whether p exists (stat is nil-safe only when true).
func (s *Session) Exists(ctx context.Context, p string) (bool, *Stat, error) {
	ap, err := s.abs(p)
	if err == nil {
		err = s.check()
	}
	if err != nil {
		return false, nil, err
	}
	r, err := await(ctx, func() (existsResult, error) {
		ok, st, err := s.conn.Exists(ap)
		return existsResult{ok: ok, stat: st}, err
	})
	if err != nil {
		return false, nil, opErr("exists", p, err)
	}
	return r.ok, r.stat, nil
}

// ExistsW is Exists plus a one-shot watch (creation, data change, deletion).
func (s *Session) ExistsW(ctx context.Context, p string) (bool, *Stat, <-chan Event, error) {
	ap, err := s.abs(p)
	if err == nil {
		err = s.check()
	}
	if err != nil {
		return false, nil, nil, err
	}
	r, err := await(ctx, func() (existsResult, error) {
		ok, st, ch, err := s.conn.ExistsW(ap)
		return existsResult{ok: ok, stat: st, ch: ch}, err
	})
	if err != nil {
		return false, nil, nil, opErr("existsw", p, err)
	}
	return r.ok, r.stat, s.wrapWatch(r.ch), nil
}

// wrapWatch strips the chroot from the watch event's path.
func (s *Session) wrapWatch(in <-chan zk.Event) <-chan Event {
	if s.chroot == "" || in == nil {
		return in
	}
	out := make(chan Event, 1)
	// Not in s.wg (Add could race Close's Wait); it ends when the watch fires,
	// when go-zookeeper invalidates watches on close, or when s.ctx ends.
	go func() {
		defer close(out)
		select {
		case ev, ok := <-in:
			if ok {
				ev.Path = s.rel(ev.Path)
				out <- ev
			}
		case <-s.ctx.Done():
			out <- Event{Type: zk.EventNotWatching, State: zk.StateDisconnected, Err: ErrClosed}
		}
	}()
	return out
}

// CreateOp, SetDataOp, DeleteOp and CheckVersionOp build Multi operations
// with chroot-relative paths (open ACLs for creates).
func CreateOp(p string, data []byte, flags int32) *zk.CreateRequest {
	return &zk.CreateRequest{Path: p, Data: data, Flags: flags, Acl: zk.WorldACL(zk.PermAll)}
}

// SetDataOp: see CreateOp.
func SetDataOp(p string, data []byte, version int32) *zk.SetDataRequest {
	return &zk.SetDataRequest{Path: p, Data: data, Version: version}
}

// DeleteOp: see CreateOp.
func DeleteOp(p string, version int32) *zk.DeleteRequest {
	return &zk.DeleteRequest{Path: p, Version: version}
}

// CheckVersionOp: see CreateOp.
func CheckVersionOp(p string, version int32) *zk.CheckVersionRequest {
	return &zk.CheckVersionRequest{Path: p, Version: version}
}

// MultiResponse is one op's result; String (created path) is chroot-relative.
type MultiResponse = zk.MultiResponse

// Multi runs ops atomically. ops are *zk.CreateRequest, *zk.SetDataRequest,
// *zk.DeleteRequest or *zk.CheckVersionRequest (see CreateOp...) with
// chroot-relative paths; the caller's values are not modified. On failure
// the returned error wraps the failing op's ZooKeeper error (e.g.
// ErrBadVersion from a fencing check) and the per-op errors are in the
// responses when ZooKeeper returned them.
func (s *Session) Multi(ctx context.Context, ops ...any) ([]MultiResponse, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	conv := make([]any, 0, len(ops))
	for _, op := range ops {
		var (
			p   string
			err error
		)
		switch o := op.(type) {
		case *zk.CreateRequest:
			c := *o
			if c.Path, err = s.abs(o.Path); err == nil && c.Acl == nil {
				c.Acl = zk.WorldACL(zk.PermAll)
			}
			p, op = o.Path, &c
		case *zk.SetDataRequest:
			c := *o
			c.Path, err = s.abs(o.Path)
			p, op = o.Path, &c
		case *zk.DeleteRequest:
			c := *o
			c.Path, err = s.abs(o.Path)
			p, op = o.Path, &c
		case *zk.CheckVersionRequest:
			c := *o
			c.Path, err = s.abs(o.Path)
			p, op = o.Path, &c
		default:
			return nil, fmt.Errorf("zkcoord: unsupported multi op %T", op)
		}
		if err != nil {
			return nil, fmt.Errorf("zkcoord: multi op %s: %w", p, err)
		}
		conv = append(conv, op)
	}
	res, err := await(ctx, func() ([]zk.MultiResponse, error) { return s.conn.Multi(conv...) })
	for i := range res {
		if res[i].String != "" {
			res[i].String = s.rel(res[i].String)
		}
	}
	if err != nil {
		return res, fmt.Errorf("zk multi: %w", firstMultiErr(res, err))
	}
	return res, nil
}

// firstMultiErr picks the op error that caused a failed multi.
func firstMultiErr(res []zk.MultiResponse, err error) error {
	for _, r := range res {
		// ops after the failing one report RUNTIMEINCONSISTENCY (-2), which
		// go-zookeeper has no sentinel for
		if r.Error != nil && r.Error.Error() != "unknown error: -2" {
			return r.Error
		}
	}
	return err
}
