package logstore

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

const deleteDirSuffix = "-delete"

// Manager owns a broker's log directories and the partition logs in them.
// It is safe for concurrent use.
type Manager struct {
	cfg    Config
	logger logrus.FieldLogger
	dirs   []*logDir

	mu     sync.RWMutex
	logs   map[TopicPartition]*Log
	closed bool

	ckptMu  sync.Mutex // serialises checkpoint writes
	bg      sync.WaitGroup
	stop    chan struct{}
	pending map[*time.Timer]struct{} // delayed directory removals, under mu
	cleaner cleanerState             // log cleaner bookkeeping (cleaner.go)
}

type logDir struct {
	path string
	lock *os.File // flock'd .lock: one process per log dir
}

// OpenManager locks every log dir (creating it if needed), loads every
// <topic>-<partition> directory in it, finishes the removal of *-delete
// directories in the background, and removes the clean-shutdown marker (so
// that a crash from now on triggers recovery on the next open). cfg is the
// default for every log (zero fields take Kafka's defaults).
func OpenManager(dirs []string, cfg Config, log logrus.FieldLogger) (*Manager, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("%w: no log dirs", ErrInvalidConfig)
	}
	if log == nil {
		l := logrus.New()
		l.SetOutput(os.Stderr)
		log = l
	}
	m := &Manager{
		cfg: cfg, logger: log.WithField("component", "logstore"),
		logs: map[TopicPartition]*Log{}, stop: make(chan struct{}), pending: map[*time.Timer]struct{}{},
	}
	for _, d := range dirs {
		if err := m.openDir(d); err != nil {
			m.closeAll(false)
			return nil, err
		}
	}
	return m, nil
}

func (m *Manager) openDir(path string) error {
	path = filepath.Clean(path)
	if err := os.MkdirAll(path, 0o755); err != nil {
		return fmt.Errorf("log dir %s: %w", path, err)
	}
	lock, err := os.OpenFile(filepath.Join(path, lockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("log dir %s: %w", path, err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		return fmt.Errorf("log dir %s: locked by another process: %w", path, err)
	}
	m.dirs = append(m.dirs, &logDir{path: path, lock: lock})

	marker := filepath.Join(path, CleanShutdownFile)
	_, err = os.Stat(marker)
	clean := err == nil
	rps := m.readCheckpoint(filepath.Join(path, RecoveryPointCheckpointFile))
	hws := m.readCheckpoint(filepath.Join(path, ReplicationCheckpointFile))
	starts := m.readCheckpoint(filepath.Join(path, LogStartOffsetCheckpointFile))
	cleaned := m.readCheckpoint(filepath.Join(path, CleanerOffsetCheckpointFile))
	ents, err := os.ReadDir(path)
	if err != nil {
		return fmt.Errorf("log dir %s: %w", path, err)
	}
	for _, e := range ents {
		name := e.Name()
		if !e.IsDir() {
			continue
		}
		if strings.HasSuffix(name, deleteDirSuffix) {
			m.removeLater(filepath.Join(path, name), 0)
			continue
		}
		tp, err := ParseTopicPartition(name)
		if err != nil { // *-future (replica moves) is not supported yet; lost+found, ...
			m.logger.Warnf("log dir %s: ignoring directory %s", path, name)
			continue
		}
		if other, dup := m.logs[tp]; dup {
			return fmt.Errorf("log dir %s: duplicate partition %s (also in %s)", path, tp, other.parent)
		}
		hw, ok := hws[tp]
		if !ok {
			hw = -1
		}
		start := time.Now()
		l, err := openLog(path, tp, m.cfg, m.logger, openOptions{recoveryPoint: rps[tp], highWatermark: hw, logStartOffset: starts[tp], clean: clean, cleanerOffset: cleaned[tp]})
		if err != nil {
			return err
		}
		m.logs[tp] = l
		m.logger.Debugf("loaded %s: %d segments, offsets [%d, %d) in %v", l.dir, l.NumSegments(), l.LogStartOffset(), l.LogEndOffset(), time.Since(start))
	}
	if clean {
		if err := os.Remove(marker); err != nil {
			return fmt.Errorf("log dir %s: %w", path, err)
		}
		return syncDir(path)
	}
	return nil
}

// readCheckpoint reads a checkpoint file; a missing or unreadable one is an
// empty map (a corrupt one is logged: recovery then starts at 0).
func (m *Manager) readCheckpoint(path string) map[TopicPartition]int64 {
	c, err := ReadCheckpointFile(path)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			m.logger.WithError(err).Warn("ignoring checkpoint file")
		}
		return map[TopicPartition]int64{}
	}
	return c
}

// Config returns the manager's default log configuration, for callers that
// build a per-topic Config from it.
func (m *Manager) Config() Config { return m.cfg }

// Dirs returns the log dirs.
func (m *Manager) Dirs() []string {
	out := make([]string, len(m.dirs))
	for i, d := range m.dirs {
		out[i] = d.path
	}
	return out
}

// GetOrCreate returns tp's log, creating it in the log dir holding the fewest
// partitions. cfg (nil = the manager's Config) is applied to a new log; for
// an existing one it replaces the log's config when non-nil.
func (m *Manager) GetOrCreate(tp TopicPartition, cfg *Config) (*Log, error) {
	c := m.cfg
	if cfg != nil {
		c = *cfg
		c.EnsureDefaults()
		if err := c.Validate(); err != nil {
			return nil, fmt.Errorf("create log %s: %w", tp, err)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("create log %s: %w", tp, ErrClosed)
	}
	if l, ok := m.logs[tp]; ok {
		if cfg != nil {
			return l, l.SetConfig(c)
		}
		return l, nil
	}
	if err := validTopicPartition(tp); err != nil {
		return nil, fmt.Errorf("create log %s: %w", tp, err)
	}
	count := map[string]int{}
	for _, l := range m.logs {
		count[l.parent]++
	}
	dir := m.dirs[0].path
	for _, d := range m.dirs[1:] {
		if count[d.path] < count[dir] {
			dir = d.path
		}
	}
	l, err := openLog(dir, tp, c, m.logger, openOptions{highWatermark: -1, clean: true})
	if err != nil {
		return nil, err
	}
	if err := syncDir(dir); err != nil {
		l.close(false)
		return nil, err
	}
	m.logs[tp] = l
	m.logger.Infof("created log for partition %s in %s", tp, dir)
	return l, nil
}

// validTopicPartition applies Kafka's topic name rules (legal characters
// [a-zA-Z0-9._-], at most 249 long, not "." or "..") and partition >= 0.
func validTopicPartition(tp TopicPartition) error {
	t := tp.Topic
	if t == "" || t == "." || t == ".." || len(t) > 249 {
		return fmt.Errorf("%w: illegal topic name %q", ErrInvalidConfig, t)
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: illegal character %q in topic name %q", ErrInvalidConfig, c, t)
		}
	}
	if tp.Partition < 0 {
		return fmt.Errorf("%w: negative partition %d", ErrInvalidConfig, tp.Partition)
	}
	return nil
}

// Get returns tp's log if it exists.
func (m *Manager) Get(tp TopicPartition) (*Log, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	l, ok := m.logs[tp]
	return l, ok
}

// Partitions lists the partitions with a log, sorted by topic and partition.
func (m *Manager) Partitions() []TopicPartition {
	m.mu.RLock()
	out := make([]TopicPartition, 0, len(m.logs))
	for tp := range m.logs {
		out = append(out, tp)
	}
	m.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}

// Delete closes tp's log (without flushing), renames its directory to
// <topic>-<partition>.<32 hex>-delete and removes that directory after
// Config.FileDeleteDelay in the background. Removals still pending at Close
// are finished by the next OpenManager.
func (m *Manager) Delete(tp TopicPartition) error {
	m.mu.Lock()
	l, ok := m.logs[tp]
	if ok {
		delete(m.logs, tp)
	}
	m.mu.Unlock()
	if !ok {
		return nil
	}
	l.close(false)
	target := filepath.Join(l.parent, deleteDirName(tp))
	if err := os.Rename(l.dir, target); err != nil {
		return fmt.Errorf("delete log %s: %w", tp, err)
	}
	if err := syncDir(l.parent); err != nil {
		return fmt.Errorf("delete log %s: %w", tp, err)
	}
	m.logger.Infof("deleted log for partition %s; removing %s in %v", tp, target, m.cfg.FileDeleteDelay)
	m.removeLater(target, m.cfg.FileDeleteDelay)
	return nil
}

// deleteDirName is Kafka's Log.logDeleteDirName: the topic is cut so the
// name stays within 255 bytes.
func deleteDirName(tp TopicPartition) string {
	var id [16]byte
	rand.Read(id[:])
	suffix := fmt.Sprintf("-%d.%s%s", tp.Partition, hex.EncodeToString(id[:]), deleteDirSuffix)
	return tp.Topic[:min(len(tp.Topic), 255-len(suffix))] + suffix
}

// removeLater removes path after delay on a tracked goroutine.
func (m *Manager) removeLater(path string, delay time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.bg.Add(1)
	var t *time.Timer
	t = time.AfterFunc(delay, func() {
		defer m.bg.Done()
		m.mu.Lock()
		delete(m.pending, t)
		m.mu.Unlock()
		if err := os.RemoveAll(path); err != nil {
			m.logger.WithError(err).Errorf("removing deleted log directory %s", path)
		}
	})
	m.pending[t] = struct{}{}
}

// Flush flushes every log and writes the checkpoints.
func (m *Manager) Flush() error {
	var errs []error
	for _, l := range m.snapshot() {
		if err := l.Flush(); err != nil && !errors.Is(err, ErrClosed) {
			errs = append(errs, err)
		}
	}
	errs = append(errs, m.CheckpointRecoveryPoints(), m.CheckpointLogStartOffsets())
	return errors.Join(errs...)
}

func (m *Manager) snapshot() []*Log {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*Log, 0, len(m.logs))
	for _, l := range m.logs {
		out = append(out, l)
	}
	return out
}

// CheckpointRecoveryPoints writes recovery-point-offset-checkpoint and
// replication-offset-checkpoint (high watermarks) in every log dir. The
// broker calls it periodically (log.flush.offset.checkpoint.interval.ms);
// Flush and Close call it too.
func (m *Manager) CheckpointRecoveryPoints() error {
	m.ckptMu.Lock()
	defer m.ckptMu.Unlock()
	rps := map[string]map[TopicPartition]int64{}
	hws := map[string]map[TopicPartition]int64{}
	for _, d := range m.dirs {
		rps[d.path], hws[d.path] = map[TopicPartition]int64{}, map[TopicPartition]int64{}
	}
	for _, l := range m.snapshot() {
		rps[l.parent][l.tp] = l.RecoveryPoint()
		hws[l.parent][l.tp] = l.HighWatermark()
	}
	var errs []error
	for _, d := range m.dirs {
		errs = append(errs,
			WriteCheckpointFile(filepath.Join(d.path, RecoveryPointCheckpointFile), rps[d.path]),
			WriteCheckpointFile(filepath.Join(d.path, ReplicationCheckpointFile), hws[d.path]))
	}
	return errors.Join(errs...)
}

// CheckpointLogStartOffsets writes log-start-offset-checkpoint in every log
// dir: as Kafka, only partitions whose log start offset is above their first
// segment's base offset are listed (the others start at that base). The
// broker calls it periodically
// (log.flush.start.offset.checkpoint.interval.ms); Flush and Close call it
// too.
func (m *Manager) CheckpointLogStartOffsets() error {
	m.ckptMu.Lock()
	defer m.ckptMu.Unlock()
	starts := map[string]map[TopicPartition]int64{}
	for _, d := range m.dirs {
		starts[d.path] = map[TopicPartition]int64{}
	}
	for _, l := range m.snapshot() {
		if ls := l.LogStartOffset(); ls > l.segments()[0].base {
			starts[l.parent][l.tp] = ls
		}
	}
	var errs []error
	for _, d := range m.dirs {
		errs = append(errs, WriteCheckpointFile(filepath.Join(d.path, LogStartOffsetCheckpointFile), starts[d.path]))
	}
	return errors.Join(errs...)
}

// Close flushes and closes every log (trimming the indexes), writes the
// checkpoints and, in each log dir where everything closed cleanly, the
// clean-shutdown marker; then it releases the log dir locks.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true // no GetOrCreate or delayed removal from now on
	m.mu.Unlock()
	err := m.closeAll(true)
	if err != nil {
		return fmt.Errorf("close log manager: %w", err)
	}
	return nil
}

func (m *Manager) closeAll(clean bool) error {
	logs := m.snapshot()
	var errs []error
	failed := map[string]bool{}
	for _, l := range logs {
		if err := l.close(clean); err != nil {
			errs = append(errs, err)
			failed[l.parent] = true
		}
	}
	if clean {
		if err := errors.Join(m.CheckpointRecoveryPoints(), m.CheckpointLogStartOffsets(), m.CheckpointCleanerOffsets()); err != nil {
			errs = append(errs, err)
			for _, d := range m.dirs {
				failed[d.path] = true
			}
		}
	}
	m.mu.Lock()
	m.closed = true
	for t := range m.pending {
		if t.Stop() {
			m.bg.Done()
		}
	}
	m.pending = nil
	m.mu.Unlock()
	m.bg.Wait()
	for _, d := range m.dirs {
		if clean && !failed[d.path] {
			if err := writeFileAtomic(filepath.Join(d.path, CleanShutdownFile), nil); err != nil {
				errs = append(errs, err)
			}
		}
		d.lock.Close() // releases the flock
	}
	return errors.Join(errs...)
}
