package zkcoord

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
)

// The classic (ZooKeeper) consumer group's znodes, written as Kafka
// 0.8-0.10's ZookeeperConsumerConnector writes them (ZK-LAYOUT.md §4):
// /consumers/<g>/ids/<id> (ephemeral registration JSON),
// /consumers/<g>/owners/<t>/<p> (ephemeral, the owning thread id) and
// /consumers/<g>/offsets/<t>/<p> (persistent, decimal text).

// RegisterConsumer creates the ephemeral /consumers/<g>/ids/<id> with the
// registration JSON, creating parents as needed. It is a checked ephemeral:
// a node already owned by this session is success (its data is rewritten
// if it differs); a node left by another session (our own previous,
// expired session, or a consumer using the same id) is waited for with a
// watch until ZooKeeper deletes it, bounded by ctx.
func (s *Session) RegisterConsumer(ctx context.Context, group, consumerID string, reg ConsumerRegistration) error {
	p := ConsumerGroupIDPath(group, consumerID)
	data := EncodeConsumerRegistration(reg)
	for {
		_, err := s.CreateRecursive(ctx, p, data, FlagEphemeral)
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrNodeExists) {
			return fmt.Errorf("zkcoord: register consumer %s in group %s: %w", consumerID, group, err)
		}
		ok, st, w, err := s.ExistsW(ctx, p)
		if err != nil {
			return fmt.Errorf("zkcoord: register consumer %s in group %s: %w", consumerID, group, err)
		}
		if !ok {
			continue
		}
		if st.EphemeralOwner == s.SessionID() {
			if _, err := s.Set(ctx, p, data, AnyVersion); err != nil {
				return fmt.Errorf("zkcoord: register consumer %s in group %s: %w", consumerID, group, err)
			}
			return nil
		}
		s.log.WithField("group", group).WithField("consumer_id", consumerID).
			Info("consumer registration left by another session; waiting for ZooKeeper to delete it")
		select {
		case <-w:
		case <-ctx.Done():
			return fmt.Errorf("zkcoord: register consumer %s in group %s: %s is held by session 0x%x: %w",
				consumerID, group, p, st.EphemeralOwner, ctx.Err())
		}
	}
}

// ConsumerMember is one registered member of a classic group.
type ConsumerMember struct {
	ID           string
	Registration ConsumerRegistration
}

// GetConsumerMembers lists /consumers/<g>/ids (sorted by id) with their
// registrations, and returns a one-shot child watch on the ids znode when
// watch is true. A member that vanishes between the listing and the read is
// left out; a missing ids znode is an empty group.
func (s *Session) GetConsumerMembers(ctx context.Context, group string, watch bool) ([]ConsumerMember, <-chan Event, error) {
	idsPath := ConsumerGroupIDsPath(group)
	var (
		ids []string
		w   <-chan Event
		err error
	)
	if watch {
		if err = s.EnsurePath(ctx, idsPath); err != nil {
			return nil, nil, err
		}
		ids, _, w, err = s.ChildrenW(ctx, idsPath)
	} else {
		ids, _, err = s.Children(ctx, idsPath)
		if errors.Is(err, ErrNoNode) {
			return nil, nil, nil
		}
	}
	if err != nil {
		return nil, nil, err
	}
	sort.Strings(ids)
	members := make([]ConsumerMember, 0, len(ids))
	for _, id := range ids {
		data, _, err := s.Get(ctx, path.Join(idsPath, id))
		if errors.Is(err, ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		reg, err := DecodeConsumerRegistration(data)
		if err != nil {
			return nil, nil, fmt.Errorf("group %s member %s: %w", group, id, err)
		}
		members = append(members, ConsumerMember{ID: id, Registration: reg})
	}
	return members, w, nil
}

// ClaimPartitionOwner creates the ephemeral /consumers/<g>/owners/<t>/<p>
// holding threadID (parents created as needed). If the node exists with our
// thread id and this session owns it (a retried create), that is a claim
// too. Otherwise claimed is false and owner is the current owner's thread
// id ("" if the node vanished meanwhile: just try again).
func (s *Session) ClaimPartitionOwner(ctx context.Context, group string, tp TopicPartition, threadID string) (claimed bool, owner string, err error) {
	p := ConsumerGroupOwnerPath(group, tp.Topic, tp.Partition)
	_, err = s.CreateRecursive(ctx, p, []byte(threadID), FlagEphemeral)
	if err == nil {
		return true, threadID, nil
	}
	if !errors.Is(err, ErrNodeExists) {
		return false, "", err
	}
	data, st, err := s.Get(ctx, p)
	if errors.Is(err, ErrNoNode) {
		return false, "", nil
	}
	if err != nil {
		return false, "", err
	}
	if string(data) == threadID && st.EphemeralOwner == s.SessionID() {
		return true, threadID, nil
	}
	return false, string(data), nil
}

// WatchPartitionOwner reports whether /consumers/<g>/owners/<t>/<p> exists
// and, if it does, returns a one-shot watch that fires when it changes or
// is deleted.
func (s *Session) WatchPartitionOwner(ctx context.Context, group string, tp TopicPartition) (exists bool, w <-chan Event, err error) {
	ok, _, w, err := s.ExistsW(ctx, ConsumerGroupOwnerPath(group, tp.Topic, tp.Partition))
	return ok, w, err
}

// ReleasePartitionOwner deletes /consumers/<g>/owners/<t>/<p> if it still
// holds threadID and belongs to this session (Kafka deletes blindly; the
// check makes sure a consumer never deletes another one's claim). A missing
// node is success.
func (s *Session) ReleasePartitionOwner(ctx context.Context, group string, tp TopicPartition, threadID string) error {
	p := ConsumerGroupOwnerPath(group, tp.Topic, tp.Partition)
	data, st, err := s.Get(ctx, p)
	if errors.Is(err, ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	if !bytes.Equal(data, []byte(threadID)) || st.EphemeralOwner != s.SessionID() {
		return nil
	}
	err = s.Delete(ctx, p, st.Version)
	if errors.Is(err, ErrNoNode) {
		return nil
	}
	return err
}

// GetPartitionOwner reads /consumers/<g>/owners/<t>/<p>; ok is false if the
// partition has no owner.
func (s *Session) GetPartitionOwner(ctx context.Context, group string, tp TopicPartition) (owner string, ok bool, err error) {
	data, _, err := s.Get(ctx, ConsumerGroupOwnerPath(group, tp.Topic, tp.Partition))
	if errors.Is(err, ErrNoNode) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return string(data), true, nil
}
