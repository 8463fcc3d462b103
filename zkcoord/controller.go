package zkcoord

import (
	"context"
	"errors"
	"fmt"
)

// Controller election and fencing (ZK-LAYOUT.md §2.1), as Kafka 2.4's
// KafkaZkClient.registerControllerAndIncrementControllerEpoch and
// checkedEphemeral/multi-with-check do it.

var (
	// ErrControllerMoved: this broker is not (or no longer) the controller:
	// the /controller_epoch version check of a fenced write failed, or an
	// election lost a race (Kafka's ControllerMovedException).
	ErrControllerMoved = errors.New("controller moved")
	// ErrControllerExists: /controller names another broker (or another
	// session of this one); no election was attempted.
	ErrControllerExists = errors.New("controller already exists")
)

// ControllerEpoch is what an elected controller holds: the epoch value
// (sent to brokers, written into state znodes) and the zkVersion of
// /controller_epoch (the ZooKeeper-side fence of every controller write).
type ControllerEpoch struct {
	Epoch     int32
	ZkVersion int32
}

// GetController returns the id of the current controller, -1 if none.
func GetController(ctx context.Context, s *Session) (int32, error) {
	id, ok, err := s.GetControllerID(ctx)
	if err != nil || !ok {
		return -1, err
	}
	return id, nil
}

// WatchController reads /controller with an exists watch, which fires on
// creation, data change and deletion. id is -1 when there is no controller.
func WatchController(ctx context.Context, s *Session) (id int32, watch <-chan Event, err error) {
	ok, _, ch, err := s.ExistsW(ctx, ControllerPath)
	if err != nil {
		return -1, nil, err
	}
	if !ok {
		return -1, ch, nil
	}
	data, _, err := s.Get(ctx, ControllerPath)
	if errors.Is(err, ErrNoNode) {
		return -1, ch, nil // deleted meanwhile: the watch fires
	}
	if err != nil {
		return -1, nil, err
	}
	c, err := DecodeControllerInfo(data)
	if err != nil {
		return -1, nil, err
	}
	return c.BrokerID, ch, nil
}

// readControllerEpoch reads /controller_epoch, creating it with "0" if it is
// absent (a concurrent creation is fine: it is read again).
func readControllerEpoch(ctx context.Context, s *Session) (ControllerEpoch, error) {
	for range 3 {
		epoch, version, err := s.GetControllerEpoch(ctx)
		if err == nil {
			return ControllerEpoch{Epoch: epoch, ZkVersion: version}, nil
		}
		if !errors.Is(err, ErrNoNode) {
			return ControllerEpoch{}, err
		}
		_, err = s.Create(ctx, ControllerEpochPath, EncodeControllerEpoch(InitialControllerEpoch), FlagPersistent)
		if err == nil {
			return ControllerEpoch{Epoch: InitialControllerEpoch, ZkVersion: 0}, nil
		}
		if !errors.Is(err, ErrNodeExists) {
			return ControllerEpoch{}, err
		}
	}
	return ControllerEpoch{}, fmt.Errorf("zkcoord: %s keeps disappearing", ControllerEpochPath)
}

// ElectController tries to make brokerID the controller: if /controller
// exists it fails with ErrControllerExists; otherwise it reads (or creates)
// /controller_epoch and runs one multi {create /controller EPHEMERAL
// {"version":1,"brokerid":N,"timestamp":"ms"}; setData /controller_epoch
// epoch+1 at the version read}. On NODEEXISTS or BADVERSION it re-reads: if
// /controller is ours (this session) and the epoch is epoch+1, a retried
// multi had succeeded and its response was lost: success. Otherwise
// ErrControllerMoved. The first controller of a cluster gets epoch 1.
func ElectController(ctx context.Context, s *Session, brokerID int32) (ControllerEpoch, error) {
	if id, err := GetController(ctx, s); err != nil {
		return ControllerEpoch{}, err
	} else if id != -1 {
		return ControllerEpoch{}, fmt.Errorf("%w: broker %d", ErrControllerExists, id)
	}
	cur, err := readControllerEpoch(ctx, s)
	if err != nil {
		return ControllerEpoch{}, err
	}
	next := cur.Epoch + 1
	res, err := s.Multi(ctx,
		CreateOp(ControllerPath, EncodeControllerInfo(ControllerInfo{BrokerID: brokerID}), FlagEphemeral),
		SetDataOp(ControllerEpochPath, EncodeControllerEpoch(next), cur.ZkVersion),
	)
	if err == nil {
		if len(res) == 2 && res[1].Stat != nil {
			return ControllerEpoch{Epoch: next, ZkVersion: res[1].Stat.Version}, nil
		}
		return controllerAndEpochAre(ctx, s, brokerID, next)
	}
	if errors.Is(err, ErrNodeExists) || errors.Is(err, ErrBadVersion) {
		return controllerAndEpochAre(ctx, s, brokerID, next)
	}
	return ControllerEpoch{}, fmt.Errorf("zkcoord: elect controller: %w", err)
}

// controllerAndEpochAre succeeds if /controller is brokerID's, owned by this
// session, and /controller_epoch holds epoch (Kafka's checkControllerAndEpoch).
func controllerAndEpochAre(ctx context.Context, s *Session, brokerID, epoch int32) (ControllerEpoch, error) {
	data, st, err := s.Get(ctx, ControllerPath)
	if errors.Is(err, ErrNoNode) {
		return ControllerEpoch{}, ErrControllerMoved
	}
	if err != nil {
		return ControllerEpoch{}, err
	}
	c, err := DecodeControllerInfo(data)
	if err != nil {
		return ControllerEpoch{}, err
	}
	if c.BrokerID != brokerID || st.EphemeralOwner != s.SessionID() {
		return ControllerEpoch{}, fmt.Errorf("%w: to broker %d", ErrControllerMoved, c.BrokerID)
	}
	cur, version, err := s.GetControllerEpoch(ctx)
	if err != nil {
		return ControllerEpoch{}, err
	}
	if cur != epoch {
		return ControllerEpoch{}, fmt.Errorf("%w: epoch is %d, not %d", ErrControllerMoved, cur, epoch)
	}
	return ControllerEpoch{Epoch: epoch, ZkVersion: version}, nil
}

// FencedMulti runs ops atomically behind check(/controller_epoch,
// fence.ZkVersion), as every 2.4 controller write is. A failed check (the
// epoch moved, or the node is gone) returns an error wrapping
// ErrControllerMoved. Otherwise the responses are returned without the
// check's (res[i] belongs to ops[i]); on failure of an op the error wraps
// its ZooKeeper error and res (when ZooKeeper answered) tells which op
// failed: see FailedOp.
func FencedMulti(ctx context.Context, s *Session, fence ControllerEpoch, ops ...any) ([]MultiResponse, error) {
	all := make([]any, 0, len(ops)+1)
	all = append(all, CheckVersionOp(ControllerEpochPath, fence.ZkVersion))
	all = append(all, ops...)
	res, err := s.Multi(ctx, all...)
	if len(res) > 0 {
		if cerr := res[0].Error; cerr != nil && (errors.Is(cerr, ErrBadVersion) || errors.Is(cerr, ErrNoNode)) {
			return nil, fmt.Errorf("%w: %s is no longer at version %d", ErrControllerMoved, ControllerEpochPath, fence.ZkVersion)
		}
		res = res[1:]
	}
	return res, err
}

// FailedOp returns the index of the op that made a multi fail and its error
// (-1 if the responses do not say). ZooKeeper reports no error for the ops
// before the failing one and "runtime inconsistency" (-2) for those after.
func FailedOp(res []MultiResponse) (int, error) {
	for i, r := range res {
		if r.Error != nil {
			return i, r.Error
		}
	}
	return -1, nil
}

// DeleteController deletes /controller behind the fence (Kafka's
// triggerControllerMove / resignation by the active controller). A missing
// znode is not an error.
func DeleteController(ctx context.Context, s *Session, fence ControllerEpoch) error {
	_, err := FencedMulti(ctx, s, fence, DeleteOp(ControllerPath, AnyVersion))
	if errors.Is(err, ErrNoNode) && !errors.Is(err, ErrControllerMoved) {
		return nil
	}
	return err
}
