package broker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/zkafka/zkafka/broker/controller"
	"github.com/zkafka/zkafka/broker/group"
	"github.com/zkafka/zkafka/internal/goroutine"
	"github.com/zkafka/zkafka/logstore"
	"github.com/zkafka/zkafka/zkcoord"
)

// Broker is one zkafka broker: Kafka protocol listeners, the partitions it
// hosts, its ZooKeeper registration and the controller module.
type Broker struct {
	cfg Config
	log logrus.FieldLogger

	apis       map[int16]api
	goroutines goroutine.Group

	logs      *logstore.Manager
	zk        *zkcoord.Session
	clusterID string
	epoch     atomic.Int64 // broker epoch: czxid of /brokers/ids/<id>
	meta      *metadataCache
	replicas  *replicaManager
	groups    *group.Coordinator
	ctrl      *controller.Controller
	// producerIDs hands out idempotent producers' ids (InitProducerId).
	producerIDs *producerIDAllocator

	parkedFetches atomic.Int64 // fetches waiting for data (long polling)
	// Record bytes of fetch answers sent with sendfile(2), and those copied
	// through user space because the connection could not take sendfile.
	sendfileBytes atomic.Int64
	copiedBytes   atomic.Int64
}

// Run starts a broker and blocks until ctx is cancelled (SIGTERM), then shuts
// it down cleanly: listeners closed, logs flushed and closed with a clean
// shutdown marker, ZooKeeper registration removed at once.
func Run(ctx context.Context, cfg Config, log logrus.FieldLogger) error {
	if cfg.BrokerID >= 0 {
		log = log.WithField("broker_id", cfg.BrokerID)
	}
	b := &Broker{cfg: cfg, log: log, meta: newMetadataCache()}
	b.registerAPIs()

	lns, err := listen(cfg.Listeners)
	if err != nil {
		return err
	}
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()

	connectCtx, cancel := context.WithTimeout(ctx, cfg.ZooKeeperConnectionTimeout)
	b.zk, err = zkcoord.Connect(connectCtx, cfg.ZooKeeperConnect, cfg.ZooKeeperSessionTimeout, log.WithField("component", "zookeeper"))
	cancel()
	if err != nil {
		return fmt.Errorf("connect to ZooKeeper at %s: %w", cfg.ZooKeeperConnect, err)
	}
	defer b.zk.Close()

	if err := b.initCluster(ctx); err != nil {
		return err
	}
	cfg = b.cfg // with the broker id resolved
	log = b.log
	logCfg := b.logConfig()
	if b.logs, err = logstore.OpenManager(cfg.LogDirs, logCfg, log.WithField("component", "logstore")); err != nil {
		return fmt.Errorf("open log dirs: %w", err)
	}
	defer func() {
		if err := b.logs.Close(); err != nil {
			log.WithError(err).Error("closing logs")
		}
	}()
	topicConfig := func(topic string) (map[string]string, error) {
		// Not cancelled by SIGTERM: controlled shutdown still applies
		// LeaderAndIsr (and reads topic configs) after it.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ZooKeeperSessionTimeout)
		defer cancel()
		return b.zk.GetTopicConfig(ctx, topic)
	}
	b.replicas = newReplicaManager(cfg.BrokerID, b.logs, logCfg, topicConfig, log.WithField("component", "replica-manager"))
	b.replicas.repl = replicationConfig{lagTimeMax: cfg.ReplicaLagTimeMax, minInsyncReplicas: int(cfg.MinInsyncReplicas)}
	b.replicas.isr = zkISRStore{zk: b.zk}
	b.producerIDs = newProducerIDAllocator(func(ctx context.Context) (int64, int64, error) {
		ctx, cancel := context.WithTimeout(ctx, cfg.ZooKeeperSessionTimeout)
		defer cancel()
		blk, err := b.zk.AllocateProducerIDBlock(ctx, cfg.BrokerID)
		return blk.BlockStart, blk.BlockEnd, err
	})
	b.groups = b.newGroupCoordinator()
	b.replicas.leadershipChanged = func(tp logstore.TopicPartition) {
		if tp.Topic == offsetsTopic {
			b.goroutines.Go("group-ownership", b.groups.CheckOwnership)
		}
	}

	ctrlCfg := controller.DefaultConfig(cfg.BrokerID)
	ctrlCfg.ListenerName = b.interBrokerListener()
	ctrlCfg.DeleteTopicEnable = cfg.DeleteTopicEnable
	ctrlCfg.UncleanLeaderElectionEnable = cfg.UncleanLeaderElectionEnable
	ctrlCfg.ElectAfterRegistration = true
	ctrlCfg.AutoLeaderRebalanceEnable = cfg.AutoLeaderRebalanceEnable
	ctrlCfg.LeaderImbalancePerBrokerPercentage = cfg.LeaderImbalancePerBrokerPercentage
	ctrlCfg.LeaderImbalanceCheckInterval = cfg.LeaderImbalanceCheckInterval
	ctrl := controller.New(ctrlCfg, b.zk, log.WithField("component", "controller"))
	b.ctrl = ctrl

	// After a session expiry the broker registers again, then its
	// controller module stands for election (Kafka's order).
	stopRegistration, err := b.register(ctx, ctrl.BrokerRegistered)
	if err != nil {
		return err
	}
	defer stopRegistration()

	// Serving outlives ctx (SIGTERM) until the controlled shutdown is over.
	serveCtx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServing()
	b.replicas.fetchers = newFetcherManager(serveCtx, b.replicas, fetcherConfig{
		waitMax: cfg.ReplicaFetchWaitMax, minBytes: cfg.ReplicaFetchMinBytes, maxBytes: cfg.ReplicaFetchMaxBytes,
		responseMaxBytes: cfg.ReplicaFetchResponseMaxBytes, backoff: cfg.ReplicaFetchBackoff, socketTimeout: cfg.ReplicaSocketTimeout,
	}, &b.goroutines, log.WithField("component", "replica-fetcher"))
	b.goroutines.Go("isr-maintenance", func() { b.replicas.runISRMaintenance(serveCtx) })
	ctrlDone := make(chan error, 1)
	b.goroutines.Go("config-changes", func() { b.runConfigChangeListener(serveCtx) })
	b.goroutines.Go("controller", func() { ctrlDone <- ctrl.Run(serveCtx) })
	b.goroutines.Go("group-coordinator", func() { b.groups.Run(serveCtx) })
	b.goroutines.Go("log-manager", func() { b.logs.RunBackground(serveCtx, b.backgroundConfig()) })
	if cc, ok := b.cleanerConfig(); ok {
		b.goroutines.Go("log-cleaner", func() {
			if err := b.logs.RunCleaner(serveCtx, cc); err != nil {
				log.WithError(err).Error("log cleaner not started")
			}
		})
	}
	for i, ln := range lns {
		ln, name := ln, cfg.Listeners[i].Name
		b.goroutines.Go("listener", func() { b.serve(serveCtx, ln, name) })
	}
	log.WithFields(logrus.Fields{"listeners": endpointsString(cfg.Listeners), "cluster_id": b.clusterID}).Info("broker started")

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-ctrlDone:
		if ctx.Err() == nil {
			if err == nil {
				err = errors.New("controller module stopped unexpectedly")
			}
			runErr = fmt.Errorf("controller module: %w", err)
			log.WithError(err).Error("controller module stopped; shutting down")
		}
	}
	log.Info("shutting down")
	if runErr == nil && cfg.ControlledShutdownEnable {
		// Bounded by the retries; a second signal is not awaited (the
		// process is killed then).
		b.controlledShutdown(serveCtx)
		// If this broker is the controller, let the requests about the
		// moved leaderships reach the other brokers before it stops.
		flushCtx, cancel := context.WithTimeout(serveCtx, 5*time.Second)
		ctrl.FlushRequests(flushCtx)
		cancel()
	}
	stopServing()
	b.goroutines.Wait()
	log.Info("shut down")
	return runErr
}

// logConfig is the log store configuration from the broker's log.* keys.
func (b *Broker) logConfig() logstore.Config {
	c := logstore.DefaultConfig()
	c.SegmentBytes = b.cfg.LogSegmentBytes
	c.RollTime = b.cfg.LogRollTime
	c.IndexMaxBytes = b.cfg.LogIndexSizeMaxBytes
	c.IndexIntervalBytes = b.cfg.LogIndexIntervalBytes
	c.MaxMessageBytes = b.cfg.MessageMaxBytes
	c.FlushIntervalMessages = b.cfg.LogFlushIntervalMessages
	c.FlushInterval = b.cfg.LogFlushInterval
	c.RetentionTime = b.cfg.LogRetentionTime // -1: no time limit
	c.RetentionBytes = max(b.cfg.LogRetentionBytes, -1)
	if b.cfg.LogCleanupDelete || b.cfg.LogCleanupCompact {
		c.CleanupDelete, c.CleanupCompact = b.cfg.LogCleanupDelete, b.cfg.LogCleanupCompact
	}
	c.DeleteRetention = b.cfg.LogCleanerDeleteRetention
	c.MinCleanableDirtyRatio = b.cfg.LogCleanerMinCleanableRatio
	c.MinCompactionLag = b.cfg.LogCleanerMinCompactionLag
	if b.cfg.LogCleanerMaxCompactionLag > 0 {
		c.MaxCompactionLag = b.cfg.LogCleanerMaxCompactionLag
	}
	c.FileDeleteDelay = max(b.cfg.LogSegmentDeleteDelay, time.Nanosecond) // 0 = at once (logstore's 0 means its default)
	c.ProducerIDExpiration = b.cfg.TransactionalIDExpiration
	c.EnsureDefaults()
	return c
}

// backgroundConfig is the log manager's schedule from the broker's keys; an
// interval of 0 disables the task.
func (b *Broker) backgroundConfig() logstore.BackgroundConfig {
	iv := func(d time.Duration) time.Duration {
		if d <= 0 {
			return -1
		}
		return d
	}
	return logstore.BackgroundConfig{
		RetentionCheckInterval:            iv(b.cfg.LogRetentionCheckInterval),
		FlushCheckInterval:                iv(b.cfg.LogFlushSchedulerInterval),
		RecoveryCheckpointInterval:        iv(b.cfg.LogFlushOffsetCheckpointInterval),
		LogStartCheckpointInterval:        iv(b.cfg.LogFlushStartOffsetCheckpointInterval),
		ProducerIDExpirationCheckInterval: iv(b.cfg.ProducerIDExpirationCheckInterval),
	}
}

// initCluster creates Kafka's top-level znodes, gets or creates the cluster
// id, and checks it against meta.properties in every log dir (a log dir of
// another cluster is refused, as in Kafka 2.4).
func (b *Broker) initCluster(ctx context.Context) error {
	if err := b.zk.CreateTopLevelPaths(ctx); err != nil {
		return fmt.Errorf("create top-level znodes: %w", err)
	}
	id, err := b.zk.GetOrCreateClusterID(ctx)
	if err != nil {
		return fmt.Errorf("cluster id: %w", err)
	}
	b.clusterID = id
	stored := int32(-1) // broker.id found in meta.properties
	for _, dir := range b.cfg.LogDirs {
		mp, err := logstore.ReadMetaProperties(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return err
		case mp.ClusterID != "" && mp.ClusterID != id:
			return fmt.Errorf("log dir %s belongs to cluster %s but ZooKeeper at %s holds cluster %s: point log.dirs or zookeeper.connect at the right cluster", dir, mp.ClusterID, b.cfg.ZooKeeperConnect, id)
		case stored >= 0 && mp.BrokerID != stored:
			return fmt.Errorf("log dirs disagree on broker.id (%d and %d in %s): each log dir belongs to one broker", stored, mp.BrokerID, dir)
		}
		stored = mp.BrokerID
	}
	if err := b.resolveBrokerID(ctx, stored); err != nil {
		return err
	}
	for _, dir := range b.cfg.LogDirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create log dir: %w", err)
		}
		if err := logstore.WriteMetaProperties(dir, b.cfg.BrokerID, id); err != nil {
			return err
		}
	}
	return nil
}

// resolveBrokerID settles broker.id as Kafka does: the configured id must
// match the one in meta.properties; with none configured the stored one is
// used, or a new one is generated from the version of /brokers/seqid (above
// reserved.broker.max.id) when broker.id.generation.enable is on.
func (b *Broker) resolveBrokerID(ctx context.Context, stored int32) error {
	switch {
	case b.cfg.BrokerID >= 0 && stored >= 0 && stored != b.cfg.BrokerID:
		return fmt.Errorf("configured broker.id %d does not match broker.id %d stored in meta.properties of %s: fix broker.id or log.dirs", b.cfg.BrokerID, stored, strings.Join(b.cfg.LogDirs, ","))
	case b.cfg.BrokerID >= 0:
		return nil
	case stored >= 0:
		b.cfg.BrokerID = stored
	case !b.cfg.BrokerIDGenerationEnable:
		return errors.New("broker.id is not set and broker.id.generation.enable=false: set broker.id in the config file")
	default:
		st, err := b.zk.Set(ctx, zkcoord.BrokerSeqIDPath, nil, -1)
		if err != nil {
			return fmt.Errorf("generate broker.id from %s: %w", zkcoord.BrokerSeqIDPath, err)
		}
		b.cfg.BrokerID = st.Version + b.cfg.ReservedBrokerMaxID
		b.log.WithField("broker_id", b.cfg.BrokerID).Info("generated broker.id")
	}
	b.log = b.log.WithField("broker_id", b.cfg.BrokerID)
	return nil
}

// register creates the broker's ephemeral /brokers/ids/<id> registration,
// and registers it again after every ZooKeeper session expiry (go-zookeeper
// does not recreate ephemeral nodes). It returns a function that stops the
// re-registration.
func (b *Broker) register(ctx context.Context, registeredAgain func()) (stop func(), err error) {
	info := zkcoord.BrokerInfo{ID: b.cfg.BrokerID, JMXPort: -1, Rack: b.cfg.Rack}
	for _, ep := range b.cfg.AdvertisedListeners {
		proto := ep.Name
		if p, ok := b.cfg.ListenerSecurityProtocolMap[ep.Name]; ok {
			proto = p
		}
		info.Endpoints = append(info.Endpoints, zkcoord.EndPoint{ListenerName: ep.Name, Host: ep.Host, Port: ep.Port, SecurityProtocol: proto})
	}
	onAgain := func(epoch int64) {
		b.epoch.Store(epoch)
		b.log.WithField("broker_epoch", epoch).Info("registered again in ZooKeeper after session expiry")
		registeredAgain()
	}
	epoch, stop, err := b.zk.EnsureBrokerRegistered(ctx, info, onAgain)
	var reg *zkcoord.BrokerIDRegisteredError
	if errors.As(err, &reg) && len(info.Endpoints) > 0 && reg.Owner == info.Endpoints[0].Addr() {
		// The registration names our own address, whose port we hold: it is
		// an earlier run of this broker killed before its ZooKeeper session
		// ended. Wait for the session to expire instead of failing.
		if err = b.waitForStaleRegistration(ctx, reg); err == nil {
			epoch, stop, err = b.zk.EnsureBrokerRegistered(ctx, info, onAgain)
		}
	}
	if err != nil {
		if errors.Is(err, zkcoord.ErrBrokerIDRegistered) {
			return nil, err
		}
		return nil, fmt.Errorf("register broker: %w", err)
	}
	b.epoch.Store(epoch)
	b.log.WithField("broker_epoch", epoch).Info("registered in ZooKeeper")
	return stop, nil
}

// waitForStaleRegistration waits until the registration of an earlier run of
// this broker disappears with its ZooKeeper session, for at most twice the
// session timeout (plus a margin); after that the caller's error stands.
func (b *Broker) waitForStaleRegistration(ctx context.Context, reg *zkcoord.BrokerIDRegisteredError) error {
	b.log.WithField("session", fmt.Sprintf("0x%x", reg.OwnerSession)).Warnf(
		"broker.id %d is still registered at %s by an earlier run of this broker; waiting for its ZooKeeper session to expire",
		reg.BrokerID, reg.Owner)
	ctx, cancel := context.WithTimeout(ctx, 2*b.cfg.ZooKeeperSessionTimeout+5*time.Second)
	defer cancel()
	path := zkcoord.BrokerIDPath(reg.BrokerID)
	for {
		exists, _, ev, err := b.zk.ExistsW(ctx, path)
		if err != nil {
			return err
		}
		if !exists {
			return nil
		}
		select {
		case <-ev:
		case <-ctx.Done():
			return reg
		}
	}
}

func (b *Broker) brokerEpoch() int64 { return b.epoch.Load() }

// interBrokerListener is the listener the controller uses to reach brokers:
// inter.broker.listener.name, else PLAINTEXT, else the first one.
func (b *Broker) interBrokerListener() string {
	if b.cfg.InterBrokerListenerName != "" {
		return b.cfg.InterBrokerListenerName
	}
	for _, ep := range b.cfg.AdvertisedListeners {
		if ep.Name == "PLAINTEXT" {
			return ep.Name
		}
	}
	if len(b.cfg.AdvertisedListeners) > 0 {
		return b.cfg.AdvertisedListeners[0].Name
	}
	return "PLAINTEXT"
}

func endpointsString(eps []Endpoint) string {
	s := ""
	for i, ep := range eps {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprintf("%s://%s", ep.Name, net.JoinHostPort(ep.Host, strconv.Itoa(int(ep.Port))))
	}
	return s
}
