package broker

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/zkafka/zkafka/zkcoord"
)

// configChangeListener follows /config/changes as Kafka's
// ZkNodeChangeNotificationListener does for DynamicConfigManager: it
// processes every notification newer than the last one it processed, in
// sequence order (at startup, all of those present), hands each to handle,
// and deletes notifications older than ConfigChangeExpiration. It re-reads
// and re-watches after ZooKeeper session loss. Its state is owned by the
// goroutine running run.
type configChangeListener struct {
	zk     *zkcoord.Session
	handle func(ctx context.Context, c zkcoord.ConfigChange)
	log    logrus.FieldLogger
	now    func() time.Time

	lastExecuted int64                // sequence of the last processed notification, -1 = none
	created      map[string]time.Time // ctimes seen, for purging
}

func newConfigChangeListener(zk *zkcoord.Session, handle func(context.Context, zkcoord.ConfigChange), log logrus.FieldLogger) *configChangeListener {
	return &configChangeListener{zk: zk, handle: handle, log: log, now: time.Now, lastExecuted: -1, created: map[string]time.Time{}}
}

// pendingConfigChanges returns, in order, the notifications (sorted names)
// whose sequence is above lastExecuted.
func pendingConfigChanges(sorted []string, lastExecuted int64) []string {
	var out []string
	for _, n := range sorted {
		if seq, ok := zkcoord.SequenceNumber(n, zkcoord.ConfigChangePrefix); ok && seq > lastExecuted {
			out = append(out, n)
		}
	}
	return out
}

// expiredConfigChanges returns the notifications created more than
// ConfigChangeExpiration before now (Kafka's purgeObsoleteNotifications).
func expiredConfigChanges(created map[string]time.Time, now time.Time) []string {
	var out []string
	for n, t := range created {
		if now.Sub(t) > zkcoord.ConfigChangeExpiration {
			out = append(out, n)
		}
	}
	return zkcoord.SortConfigChanges(out)
}

// run processes notifications until ctx ends.
func (l *configChangeListener) run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for {
		names, watch, err := l.zk.ConfigChangeNamesW(ctx)
		if err == nil {
			err = l.process(ctx, names)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			l.log.WithError(err).Warn("cannot read config change notifications; retrying")
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		select {
		case <-ctx.Done():
			return
		case <-watch: // children changed, or the watch was lost with the session
		}
	}
}

// process handles the new notifications among names and purges expired
// ones. An error reading a notification stops the round without moving
// past it (it is retried); a notification gone meanwhile is skipped.
func (l *configChangeListener) process(ctx context.Context, names []string) error {
	present := map[string]bool{}
	for _, n := range names {
		present[n] = true
	}
	for n := range l.created {
		if !present[n] {
			delete(l.created, n)
		}
	}
	for _, n := range pendingConfigChanges(names, l.lastExecuted) {
		c, err := l.zk.GetConfigChange(ctx, n)
		switch {
		case errors.Is(err, zkcoord.ErrNoNode):
			l.log.WithField("notification", n).Warn("config change notification vanished before it was read")
		case err != nil && c.Created.IsZero():
			return err
		case err != nil:
			l.created[n] = c.Created
			l.log.WithError(err).WithField("notification", n).Error("cannot decode config change notification; skipped")
		default:
			l.created[n] = c.Created
			l.handle(ctx, c)
		}
		l.lastExecuted = c.Seq
	}
	for _, n := range names { // processed in an earlier run of this broker
		if _, ok := l.created[n]; !ok {
			c, err := l.zk.GetConfigChange(ctx, n)
			if err == nil || !c.Created.IsZero() {
				l.created[n] = c.Created
			}
		}
	}
	for _, n := range expiredConfigChanges(l.created, l.now()) {
		if err := l.zk.DeleteConfigChange(ctx, n); err != nil {
			return err
		}
		delete(l.created, n)
		l.log.WithField("notification", n).Debug("purged expired config change notification")
	}
	return nil
}

// runConfigChangeListener follows /config/changes until ctx ends.
func (b *Broker) runConfigChangeListener(ctx context.Context) {
	newConfigChangeListener(b.zk, b.handleConfigChange, b.log.WithField("component", "config-changes")).run(ctx)
}

// handleConfigChange applies one notification (DynamicConfigManager's
// handlers): a topic's config is re-read and applied to every local log of
// the topic. zkafka has no dynamic broker configs or quotas, so broker,
// client and user changes are logged and ignored.
func (b *Broker) handleConfigChange(ctx context.Context, c zkcoord.ConfigChange) {
	log := b.log.WithField("entity", c.EntityPath)
	switch c.EntityType() {
	case zkcoord.ConfigTypeTopic:
		topic := c.Entity()
		overrides, err := b.zk.GetTopicConfig(ctx, topic)
		if err != nil {
			log.WithError(err).Error("cannot read topic config; logs keep their current config")
			return
		}
		n, err := b.replicas.applyTopicConfig(topic, overrides)
		if err != nil {
			log.WithError(err).Error("cannot apply topic config")
			return
		}
		log.WithFields(logrus.Fields{"config": overrides, "logs": n}).Info("applied topic config change")
	case zkcoord.ConfigTypeBroker:
		if e := c.Entity(); e == zkcoord.DefaultConfigEntity || e == strconv.Itoa(int(b.cfg.BrokerID)) {
			log.Warn("dynamic broker configs are not supported by zkafka; change ignored")
		}
	default:
		log.Info("client and user quotas are not supported by zkafka; config change ignored")
	}
}

// applyTopicConfig sets the log configuration of every local log of topic:
// the broker's with the topic's overrides. It returns how many logs it
// changed.
func (rm *replicaManager) applyTopicConfig(topic string, overrides map[string]string) (int, error) {
	cfg := applyTopicConfigs(rm.logCfg, overrides)
	n := 0
	var firstErr error
	for _, tp := range rm.logs.Partitions() {
		if tp.Topic != topic {
			continue
		}
		l, ok := rm.logs.Get(tp)
		if !ok {
			continue
		}
		if err := l.SetConfig(cfg); err != nil {
			firstErr = cmpOr(firstErr, err)
			continue
		}
		n++
	}
	// min.insync.replicas is the partition's, checked by acks=all. It is
	// remembered first, so a LeaderAndIsr that read the topic config from
	// ZooKeeper before this change cannot put the old value back.
	minInsync := minInsyncOf(overrides, rm.repl.minInsyncReplicas)
	rm.mu.Lock()
	if rm.minInsyncChanged == nil {
		rm.minInsyncChanged = map[string]int{}
	}
	rm.minInsyncChanged[topic] = minInsync
	var parts []*partition
	for tp, p := range rm.partitions {
		if tp.Topic == topic {
			parts = append(parts, p)
		}
	}
	rm.mu.Unlock()
	for _, p := range parts {
		p.mu.Lock()
		p.minInsync = minInsync
		p.notifyLocked()
		p.mu.Unlock()
	}
	return n, firstErr
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
