package zkcoord

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// RegisterBroker creates the ephemeral /brokers/ids/<id> as Kafka's checked
// ephemeral: multi{create(path, nil, EPHEMERAL), setData(path, json, 0)}.
// It returns the broker epoch (the znode's czxid). If the node exists and
// is owned by this session (e.g. a retried create whose reply was lost) that
// is success; if another session owns it the error is a
// *BrokerIDRegisteredError ("broker.id N is already registered by
// HOST:PORT", errors.Is ErrBrokerIDRegistered).
func (s *Session) RegisterBroker(ctx context.Context, info BrokerInfo) (brokerEpoch int64, err error) {
	data, err := EncodeBrokerInfo(info)
	if err != nil {
		return 0, err
	}
	p := BrokerIDPath(info.ID)
	for attempt := 0; attempt < 5; attempt++ {
		res, err := s.Multi(ctx, CreateOp(p, nil, FlagEphemeral), SetDataOp(p, data, 0))
		if err == nil {
			if len(res) == 2 && res[1].Stat != nil {
				s.log.WithFields(logrus.Fields{"broker_id": info.ID, "broker_epoch": res[1].Stat.Czxid}).Info("registered broker")
				return res[1].Stat.Czxid, nil
			}
			return 0, fmt.Errorf("zkcoord: register broker %d: unexpected multi response", info.ID)
		}
		if errors.Is(err, ErrNoNode) {
			// /brokers/ids missing: create the parents, then retry.
			if err := s.EnsurePath(ctx, BrokerIDsPath); err != nil {
				return 0, err
			}
			continue
		}
		if !errors.Is(err, ErrNodeExists) {
			return 0, fmt.Errorf("zkcoord: register broker %d: %w", info.ID, err)
		}
		cur, st, gerr := s.Get(ctx, p)
		if errors.Is(gerr, ErrNoNode) {
			continue // owner vanished meanwhile: try again
		}
		if gerr != nil {
			return 0, fmt.Errorf("zkcoord: register broker %d: %w", info.ID, gerr)
		}
		if st.EphemeralOwner != 0 && st.EphemeralOwner == s.SessionID() {
			return st.Czxid, nil
		}
		owner := "unknown"
		if other, derr := DecodeBrokerInfo(info.ID, cur); derr == nil && other.Addr() != "" {
			owner = other.Addr()
		}
		return 0, &BrokerIDRegisteredError{BrokerID: info.ID, Owner: owner, OwnerSession: st.EphemeralOwner}
	}
	return 0, fmt.Errorf("zkcoord: register broker %d: znode kept changing", info.ID)
}

// EnsureBrokerRegistered registers the broker now and again after every
// session expiry (through OnNewSession). onRegistered, if not nil, is
// called after each re-registration with the new broker epoch (not for the
// first registration, whose epoch is returned). Re-registration retries
// transient errors with back-off until it succeeds or that session's ctx
// ends; a BrokerIDRegisteredError is also retried (the old owner may be a
// session that is about to expire). stop unregisters the hook (it does not
// delete the znode; Close does).
func (s *Session) EnsureBrokerRegistered(ctx context.Context, info BrokerInfo, onRegistered func(brokerEpoch int64)) (brokerEpoch int64, stop func(), err error) {
	epoch, err := s.RegisterBroker(ctx, info)
	if err != nil {
		return 0, nil, err
	}
	var once sync.Once
	remove := s.OnNewSession(func(hctx context.Context) {
		backoff := 100 * time.Millisecond
		for {
			e, err := s.RegisterBroker(hctx, info)
			if err == nil {
				if onRegistered != nil {
					onRegistered(e)
				}
				return
			}
			s.log.WithError(err).WithField("broker_id", info.ID).Warn("re-registering broker after new session failed; retrying")
			select {
			case <-hctx.Done():
				return
			case <-time.After(backoff):
			}
			if backoff < 2*time.Second {
				backoff *= 2
			}
		}
	})
	return epoch, func() { once.Do(remove) }, nil
}

// GetBroker reads /brokers/ids/<id> with Epoch = czxid (ErrNoNode if absent).
func (s *Session) GetBroker(ctx context.Context, id int32) (BrokerInfo, error) {
	data, st, err := s.Get(ctx, BrokerIDPath(id))
	if err != nil {
		return BrokerInfo{}, err
	}
	b, err := DecodeBrokerInfo(id, data)
	if err != nil {
		return BrokerInfo{}, err
	}
	b.Epoch = st.Czxid
	return b, nil
}

// GetBrokerIDs lists the registered broker ids, sorted.
func (s *Session) GetBrokerIDs(ctx context.Context) ([]int32, error) {
	children, _, err := s.Children(ctx, BrokerIDsPath)
	if errors.Is(err, ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return parseBrokerIDs(children), nil
}

func parseBrokerIDs(children []string) []int32 {
	ids := make([]int32, 0, len(children))
	for _, c := range children {
		if id, err := strconv.ParseInt(c, 10, 32); err == nil {
			ids = append(ids, int32(id))
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// GetBrokers reads every registered broker (Epoch = czxid), sorted by id.
// Brokers that disappear while being read are skipped. Reads are issued
// concurrently.
func (s *Session) GetBrokers(ctx context.Context) ([]BrokerInfo, error) {
	ids, err := s.GetBrokerIDs(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]BrokerInfo, len(ids))
	found := make([]bool, len(ids))
	err = parallel(ctx, len(ids), func(ctx context.Context, i int) error {
		b, err := s.GetBroker(ctx, ids[i])
		if errors.Is(err, ErrNoNode) {
			return nil
		}
		if err != nil {
			return err
		}
		out[i], found[i] = b, true
		return nil
	})
	if err != nil {
		return nil, err
	}
	res := out[:0]
	for i := range out {
		if found[i] {
			res = append(res, out[i])
		}
	}
	return res, nil
}

// maxParallelReads bounds concurrent in-flight reads of batched helpers
// (go-zookeeper pipelines them on one connection).
const maxParallelReads = 32

// parallel runs f(0..n-1) with bounded concurrency and returns the first error.
func parallel(ctx context.Context, n int, f func(ctx context.Context, i int) error) error {
	if n == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	sem := make(chan struct{}, maxParallelReads)
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f(ctx, i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
					cancel()
				}
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}
