package zkcoord

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// ConfigChangeExpiration is how long a /config/changes notification is kept
// before a broker purges it (Kafka's changeExpirationMs, 15 minutes).
const ConfigChangeExpiration = 15 * time.Minute

// ChangeEntityConfig replaces the config of /config/<type>/<entity> and
// announces it with a sequential /config/changes/config_change_<seq>
// notification {"version":2,"entity_path":"<type>/<entity>"}, as Kafka's
// AdminZkClient.changeEntityConfig does, but in one multi: either both the
// config and its notification are written or neither. It retries when the
// config znode is created or deleted concurrently.
func (s *Session) ChangeEntityConfig(ctx context.Context, entityType, entity string, configs map[string]string) error {
	p := ConfigEntityPath(entityType, entity)
	data := EncodeEntityConfig(configs)
	note := EncodeConfigChangeNotification(entityType + "/" + entity)
	for attempt := 0; ; attempt++ {
		if err := s.EnsurePath(ctx, ConfigChangesPath); err != nil {
			return err
		}
		exists, _, err := s.Exists(ctx, p)
		if err != nil {
			return err
		}
		write := any(SetDataOp(p, data, AnyVersion))
		if !exists {
			if err := s.EnsurePath(ctx, ConfigEntityTypePath(entityType)); err != nil {
				return err
			}
			write = CreateOp(p, data, FlagPersistent)
		}
		_, err = s.Multi(ctx, write, CreateOp(ConfigChangeSequentialPath, note, FlagSequence))
		if err == nil {
			return nil
		}
		if attempt < 3 && (errors.Is(err, ErrNoNode) || errors.Is(err, ErrNodeExists)) {
			continue // the config znode appeared or vanished meanwhile
		}
		return fmt.Errorf("zkcoord: change config %s/%s: %w", entityType, entity, err)
	}
}

// GetAllEntityConfigs reads the config of every entity of a type
// (/config/<type>/*), sorted by entity name (AdminZkClient
// .fetchAllEntityConfigs).
func (s *Session) GetAllEntityConfigs(ctx context.Context, entityType string) ([]string, map[string]map[string]string, error) {
	names, err := s.sortedChildren(ctx, ConfigEntityTypePath(entityType))
	if err != nil {
		return nil, nil, err
	}
	out := make(map[string]map[string]string, len(names))
	for _, n := range names {
		if out[n], err = s.GetEntityConfig(ctx, entityType, n); err != nil {
			return nil, nil, err
		}
	}
	return names, out, nil
}

// ConfigChange is one /config/changes notification.
type ConfigChange struct {
	Name       string    // config_change_<10 digits>
	Seq        int64     // its sequence number
	EntityPath string    // "topics/foo", "brokers/1", "brokers/<default>", ...
	Created    time.Time // the znode's ctime
}

// EntityType and Entity split EntityPath at its first '/' (a user/client
// entity keeps its "/clients/..." tail in Entity).
func (c ConfigChange) EntityType() string { t, _, _ := strings.Cut(c.EntityPath, "/"); return t }

// Entity is the entity name part of EntityPath.
func (c ConfigChange) Entity() string { _, e, _ := strings.Cut(c.EntityPath, "/"); return e }

// ConfigChangeNamesW lists the notifications under /config/changes in
// sequence order, with a one-shot child watch (nil names if the znode is
// absent). Names that are not config_change_<n> are left out.
func (s *Session) ConfigChangeNamesW(ctx context.Context) ([]string, <-chan Event, error) {
	names, _, w, err := s.ChildrenW(ctx, ConfigChangesPath)
	if err != nil {
		return nil, nil, err
	}
	return SortConfigChanges(names), w, nil
}

// SortConfigChanges keeps the config_change_<n> names, ordered by n.
func SortConfigChanges(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if _, ok := SequenceNumber(n, ConfigChangePrefix); ok {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, _ := SequenceNumber(out[i], ConfigChangePrefix)
		b, _ := SequenceNumber(out[j], ConfigChangePrefix)
		return a < b
	})
	return out
}

// GetConfigChange reads one notification; ErrNoNode if it is gone. A
// notification whose data cannot be decoded is returned with an empty
// EntityPath and the decode error.
func (s *Session) GetConfigChange(ctx context.Context, name string) (ConfigChange, error) {
	seq, _ := SequenceNumber(name, ConfigChangePrefix)
	c := ConfigChange{Name: name, Seq: seq}
	data, st, err := s.Get(ctx, ConfigChangePath(name))
	if err != nil {
		return c, err
	}
	c.Created = time.UnixMilli(st.Ctime)
	c.EntityPath, err = DecodeConfigChangeNotification(data)
	return c, err
}

// DeleteConfigChange deletes one notification (a missing one is fine).
func (s *Session) DeleteConfigChange(ctx context.Context, name string) error {
	err := s.Delete(ctx, ConfigChangePath(name), AnyVersion)
	if errors.Is(err, ErrNoNode) {
		return nil
	}
	return err
}
