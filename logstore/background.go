package logstore

import (
	"context"
	"errors"
	"math"
	"time"
)

// Kafka 2.4 defaults of the log manager's schedule.
const (
	DefaultRetentionCheckInterval     = 5 * time.Minute              // log.retention.check.interval.ms
	DefaultFlushCheckInterval         = time.Duration(math.MaxInt64) // log.flush.scheduler.interval.ms (Long.MaxValue: never)
	DefaultRecoveryCheckpointInterval = 60 * time.Second             // log.flush.offset.checkpoint.interval.ms
	DefaultLogStartCheckpointInterval = 60 * time.Second             // log.flush.start.offset.checkpoint.interval.ms
	// DefaultProducerIDExpirationCheckInterval is Kafka 2.4's
	// LogManager.ProducerIdExpirationCheckIntervalMs (a constant there; the
	// broker key producer.id.expiration.check.interval.ms came in Kafka 3.4).
	DefaultProducerIDExpirationCheckInterval = 10 * time.Minute
	backgroundInitialDelay                   = 30 * time.Second // Kafka's LogManager.InitialTaskDelayMs
)

// BackgroundConfig is the schedule of Manager.RunBackground. A zero field
// takes Kafka's default; a negative one disables the task.
type BackgroundConfig struct {
	RetentionCheckInterval     time.Duration // retention pass (ApplyRetention)
	FlushCheckInterval         time.Duration // flush of logs whose flush.ms elapsed (FlushDue)
	RecoveryCheckpointInterval time.Duration // CheckpointRecoveryPoints
	LogStartCheckpointInterval time.Duration // CheckpointLogStartOffsets
	// ProducerIDExpirationCheckInterval: RemoveExpiredProducers.
	ProducerIDExpirationCheckInterval time.Duration
}

func (c *BackgroundConfig) ensureDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.RetentionCheckInterval, DefaultRetentionCheckInterval)
	def(&c.FlushCheckInterval, DefaultFlushCheckInterval)
	def(&c.RecoveryCheckpointInterval, DefaultRecoveryCheckpointInterval)
	def(&c.LogStartCheckpointInterval, DefaultLogStartCheckpointInterval)
	def(&c.ProducerIDExpirationCheckInterval, DefaultProducerIDExpirationCheckInterval)
}

// RunBackground runs the log manager's periodic work, as Kafka's LogManager
// schedules it, until ctx is done: the retention pass every
// RetentionCheckInterval, the flush of logs whose FlushInterval (flush.ms)
// elapsed every FlushCheckInterval, and the recovery-point (with high
// watermarks) and log-start-offset checkpoints every
// RecoveryCheckpointInterval and LogStartCheckpointInterval, and the expiry
// of idle producer ids every ProducerIDExpirationCheckInterval. Each task first
// runs after min(its interval, 30 s) (Kafka's initial task delay). Tasks run
// one at a time on the calling goroutine; errors are logged, per log where
// they belong to one, and never stop the loop. It returns after the pass in
// progress when ctx is done.
func (m *Manager) RunBackground(ctx context.Context, cfg BackgroundConfig) {
	cfg.ensureDefaults()
	type task struct {
		name     string
		interval time.Duration
		next     time.Time
		run      func(now time.Time)
	}
	logErr := func(what string) func(error) {
		return func(err error) {
			if err != nil && !errors.Is(err, ErrClosed) {
				m.logger.WithError(err).Errorf("%s failed", what)
			}
		}
	}
	start := time.Now()
	var tasks []*task
	add := func(name string, interval time.Duration, run func(now time.Time)) {
		if interval <= 0 || interval == time.Duration(math.MaxInt64) {
			return
		}
		tasks = append(tasks, &task{name, interval, start.Add(min(interval, backgroundInitialDelay)), run})
	}
	add("retention", cfg.RetentionCheckInterval, func(now time.Time) { m.ApplyRetention(now) })
	add("flush", cfg.FlushCheckInterval, func(now time.Time) { m.FlushDue(now) })
	add("recovery-point checkpoint", cfg.RecoveryCheckpointInterval, func(time.Time) {
		logErr("recovery point checkpoint")(m.CheckpointRecoveryPoints())
	})
	add("log-start-offset checkpoint", cfg.LogStartCheckpointInterval, func(time.Time) {
		logErr("log start offset checkpoint")(m.CheckpointLogStartOffsets())
	})
	add("producer id expiration", cfg.ProducerIDExpirationCheckInterval, func(now time.Time) { m.RemoveExpiredProducers(now) })
	if len(tasks) == 0 {
		<-ctx.Done()
		return
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		next := tasks[0]
		for _, t := range tasks[1:] {
			if t.next.Before(next.next) {
				next = t
			}
		}
		timer.Reset(time.Until(next.next))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		now := time.Now()
		next.run(now)
		next.next = now.Add(next.interval)
	}
}

// ApplyRetention runs DeleteOldSegments(now) on every log (Kafka's
// LogManager.cleanupLogs) and returns the number of segments deleted. A
// failing log is logged and does not stop the pass; the errors are also
// returned, joined.
func (m *Manager) ApplyRetention(now time.Time) (deleted int, err error) {
	var errs []error
	for _, l := range m.snapshot() {
		n, err := l.DeleteOldSegments(now)
		deleted += n
		if err != nil && !errors.Is(err, ErrClosed) {
			l.logger.WithError(err).Error("retention pass failed")
			errs = append(errs, err)
		}
	}
	return deleted, errors.Join(errs...)
}

// FlushDue flushes every log whose FlushInterval (flush.ms) has elapsed
// since its last flush (Kafka's LogManager.flushDirtyLogs). Errors are
// logged per log and returned, joined.
func (m *Manager) FlushDue(now time.Time) error {
	var errs []error
	for _, l := range m.snapshot() {
		iv := l.Config().FlushInterval
		if iv <= 0 || now.UnixNano()-l.lastFlush.Load() < int64(iv) {
			continue
		}
		if err := l.Flush(); err != nil && !errors.Is(err, ErrClosed) {
			l.logger.WithError(err).Error("scheduled flush failed")
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RemoveExpiredProducers runs Log.RemoveExpiredProducers(now) on every log
// (Kafka's per-log PeriodicProducerExpirationCheck, here one pass over all
// logs) and returns the number of producer ids dropped.
func (m *Manager) RemoveExpiredProducers(now time.Time) int {
	n := 0
	for _, l := range m.snapshot() {
		n += l.RemoveExpiredProducers(now)
	}
	return n
}
