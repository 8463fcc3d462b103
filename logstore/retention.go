package logstore

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// deletedSuffix marks a segment file scheduled for deletion (Kafka's
// Log.DeletedFileSuffix).
const deletedSuffix = ".deleted"

// DeleteOldSegments applies Kafka 2.4's Log.deleteOldSegments at time now.
// For a log with CleanupDelete, oldest segments are deleted while:
// retention.ms is breached (now minus the segment's largest timestamp, or
// its .log mtime when it has none, exceeds RetentionTime; negative =
// never), retention.bytes is breached (the log stays at least RetentionBytes
// large without the segment; negative = never), or the segment lies
// entirely below the log start offset. A compact-only log applies the last
// rule only. Each rule deletes a prefix of the log and never a segment
// holding offsets at or above the high watermark, nor an empty active
// segment; when every segment is deletable the log first rolls a new empty
// segment at LogEndOffset (the log never has no segment). The log start
// offset moves up to the new first segment's base.
//
// Deleted segments are renamed .deleted at once, so reads never see them
// again; their files are closed and removed after FileDeleteDelay (regions
// already handed out keep working until then).
func (l *Log) DeleteOldSegments(now time.Time) (deleted int, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return 0, fmt.Errorf("retention on %s: %w", l.tp, ErrClosed)
	}
	cfg := l.cfg
	var errs []error
	run := func(pred func(s, next *segment) bool, reason string) {
		n, err := l.deleteWhileLocked(pred, reason)
		deleted += n
		errs = append(errs, err)
	}
	if cfg.CleanupDelete && cfg.RetentionTime >= 0 {
		limit := cfg.RetentionTime.Milliseconds()
		nowMs := now.UnixMilli()
		run(func(s, _ *segment) bool { return nowMs-s.largestTimestamp() > limit },
			fmt.Sprintf("retention time %dms breach", limit))
	}
	if cfg.CleanupDelete && cfg.RetentionBytes >= 0 {
		if diff := l.Size() - cfg.RetentionBytes; diff >= 0 {
			run(func(s, _ *segment) bool {
				if diff-s.size.Load() < 0 {
					return false
				}
				diff -= s.size.Load()
				return true
			}, fmt.Sprintf("retention size in bytes %d breach", cfg.RetentionBytes))
		}
	}
	logStart := l.logStart.Load()
	run(func(_, next *segment) bool { return next != nil && next.base <= logStart },
		fmt.Sprintf("log start offset %d breach", logStart))
	if err := errors.Join(errs...); err != nil {
		return deleted, fmt.Errorf("retention on %s: %w", l.tp, err)
	}
	return deleted, nil
}

// largestTimestamp is Kafka's LogSegment.largestTimestamp: the largest batch
// timestamp, or the .log file's modification time when there is none.
func (s *segment) largestTimestamp() int64 {
	if ts := s.maxTs.Load(); ts >= 0 {
		return ts
	}
	if fi, err := s.f.Stat(); err == nil {
		return fi.ModTime().UnixMilli()
	}
	return time.Now().UnixMilli() // unknown: treat as new
}

// deleteWhileLocked deletes the longest prefix of segments satisfying pred
// (next is nil for the last segment) whose offsets all lie below the high
// watermark, as Kafka's deletableSegments + deleteSegments; it rolls first
// when every segment goes, and raises the log start offset to the new first
// segment's base.
func (l *Log) deleteWhileLocked(pred func(s, next *segment) bool, reason string) (int, error) {
	segs := l.segments()
	hw := l.hw.Load()
	n := 0
	for ; n < len(segs); n++ {
		s := segs[n]
		var next *segment
		upper := l.leo.Load()
		if n+1 < len(segs) {
			next, upper = segs[n+1], segs[n+1].base
		}
		if hw < upper || (next == nil && s.size.Load() == 0) || !pred(s, next) {
			break
		}
	}
	if n == 0 {
		return 0, nil
	}
	dead := segs[:n]
	bases := make([]string, n)
	for i, s := range dead {
		bases[i] = fmt.Sprint(s.base)
	}
	l.logger.Infof("deleting segments with base offsets [%s] due to %s", strings.Join(bases, ","), reason)
	if n == len(segs) {
		if _, err := l.roll(l.leo.Load()); err != nil {
			return 0, err
		}
		segs = l.segments()
	}
	keep := append([]*segment(nil), segs[n:]...)
	l.segs.Store(&keep)
	err := l.deleteSegmentsLocked(dead)
	if rerr := l.raiseLogStartLocked(keep[0].base); err == nil {
		err = rerr
	}
	return n, err
}

// deleteSegmentsLocked renames the files of segments already taken out of
// the published list to *.deleted and schedules their removal after
// FileDeleteDelay. Open file handles (and regions handed out) stay valid
// until then.
func (l *Log) deleteSegmentsLocked(dead []*segment) error {
	var errs []error
	for _, s := range dead {
		for _, p := range s.paths() {
			if err := os.Rename(p, p+deletedSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	if err := syncDir(l.dir); err != nil {
		errs = append(errs, err)
	}
	l.deleteLater(dead, l.cfg.FileDeleteDelay)
	return errors.Join(errs...)
}

func (s *segment) paths() []string { return []string{s.logPath, s.oi.path, s.ti.path} }

// removeDeleted closes a segment renamed by deleteSegmentsLocked and removes
// its files.
func (s *segment) removeDeleted() error {
	err := s.close(false)
	for _, p := range s.paths() {
		if rerr := os.Remove(p + deletedSuffix); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
			err = rerr
		}
	}
	return err
}

// deleteLater removes dead after delay on a timer tracked by l.bg. Called
// with l.mu held on an open log, so l.bg.Add never races close's Wait.
func (l *Log) deleteLater(dead []*segment, delay time.Duration) {
	l.delMu.Lock()
	defer l.delMu.Unlock()
	if l.pendingDel == nil {
		l.pendingDel = map[*time.Timer][]*segment{}
	}
	l.bg.Add(1)
	var t *time.Timer
	t = time.AfterFunc(delay, func() {
		defer l.bg.Done()
		l.delMu.Lock()
		_, mine := l.pendingDel[t]
		delete(l.pendingDel, t)
		l.delMu.Unlock()
		if mine {
			l.removeSegments(dead)
		}
	})
	l.pendingDel[t] = dead
}

func (l *Log) removeSegments(dead []*segment) {
	for _, s := range dead {
		if err := s.removeDeleted(); err != nil {
			l.logger.WithError(err).Errorf("removing deleted segment %s", s.logPath)
		}
	}
}

// finishPendingDeletes runs, at close, the removals whose delay has not
// expired; removals already running finish on their own (close waits l.bg).
func (l *Log) finishPendingDeletes() {
	l.delMu.Lock()
	var now [][]*segment
	for t, dead := range l.pendingDel {
		if t.Stop() {
			delete(l.pendingDel, t)
			now = append(now, dead)
			l.bg.Done()
		}
	}
	l.delMu.Unlock()
	for _, dead := range now {
		l.removeSegments(dead)
	}
}
