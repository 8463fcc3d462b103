package zkcoord

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// CreateTopLevelPaths makes sure Kafka's persistent top-level paths exist
// (KafkaZkClient.createTopLevelPaths, ZK-LAYOUT.md §1.0), in Kafka's order.
// Existing paths are left untouched.
func (s *Session) CreateTopLevelPaths(ctx context.Context) error {
	for _, p := range PersistentPaths {
		if err := s.EnsurePath(ctx, p); err != nil {
			return fmt.Errorf("zkcoord: create top-level path %s: %w", p, err)
		}
	}
	return nil
}

// NewClusterID returns a random UUID (v4) as 22 characters of URL-safe
// base64 without padding (Kafka's CoreUtils.generateUuidAsBase64).
func NewClusterID() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // crypto/rand.Read never fails (Go ≥1.24)
	u[6] = (u[6] & 0x0f) | 0x40
	u[8] = (u[8] & 0x3f) | 0x80
	return base64.RawURLEncoding.EncodeToString(u[:])
}

// GetClusterID reads /cluster/id (ErrNoNode if absent).
func (s *Session) GetClusterID(ctx context.Context) (string, error) {
	data, _, err := s.Get(ctx, ClusterIDPath)
	if err != nil {
		return "", err
	}
	return DecodeClusterID(data)
}

// GetOrCreateClusterID returns the cluster id, creating /cluster/id with a
// new random id if it does not exist (on NODEEXISTS it reads the winner's).
func (s *Session) GetOrCreateClusterID(ctx context.Context) (string, error) {
	id, err := s.GetClusterID(ctx)
	if !errors.Is(err, ErrNoNode) {
		return id, err
	}
	id = NewClusterID()
	_, err = s.CreateRecursive(ctx, ClusterIDPath, EncodeClusterID(id), FlagPersistent)
	if errors.Is(err, ErrNodeExists) {
		return s.GetClusterID(ctx)
	}
	if err != nil {
		return "", err
	}
	return id, nil
}

// GetControllerID reads /controller; ok is false when there is no controller.
func (s *Session) GetControllerID(ctx context.Context) (id int32, ok bool, err error) {
	data, _, err := s.Get(ctx, ControllerPath)
	if errors.Is(err, ErrNoNode) {
		return -1, false, nil
	}
	if err != nil {
		return -1, false, err
	}
	c, err := DecodeControllerInfo(data)
	if err != nil {
		return -1, false, err
	}
	return c.BrokerID, true, nil
}

// GetControllerEpoch reads /controller_epoch: the epoch and its zkVersion
// (the controller's fencing token). ErrNoNode if absent.
func (s *Session) GetControllerEpoch(ctx context.Context) (epoch int32, zkVersion int32, err error) {
	data, st, err := s.Get(ctx, ControllerEpochPath)
	if err != nil {
		return 0, 0, err
	}
	epoch, err = DecodeControllerEpoch(data)
	if err != nil {
		return 0, 0, err
	}
	return epoch, st.Version, nil
}
