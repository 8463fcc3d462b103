package broker

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// writerHarness runs a connection's writeLoop on one end of a pipe.
func writerHarness(t *testing.T) (queue chan *pending, peer net.Conn) {
	t.Helper()
	local, peer := net.Pipe()
	log := logrus.New()
	log.SetOutput(io.Discard)
	c := &conn{nc: local, log: log}
	queue = make(chan *pending, maxInFlightPerConn)
	done := make(chan struct{})
	go func() { c.writeLoop(queue); close(done) }()
	t.Cleanup(func() { close(queue); peer.Close(); local.Close(); <-done })
	return queue, peer
}

func readWithin(t *testing.T, peer net.Conn, n int, d time.Duration) []byte {
	t.Helper()
	peer.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, n)
	if _, err := io.ReadFull(peer, buf); err != nil {
		t.Fatalf("answer not sent: %v", err)
	}
	return buf
}

// An answer that is ready is flushed before the writer waits for the next
// request's (a long poll that has not finished).
func TestWriterFlushesBeforeWaiting(t *testing.T) {
	queue, peer := writerHarness(t)
	ready := &pending{done: make(chan struct{}), frame: []byte("answer-1")}
	close(ready.done)
	parked := &pending{done: make(chan struct{})} // finishes only when the test ends
	t.Cleanup(func() { close(parked.done) })
	queue <- ready
	queue <- parked
	if got := readWithin(t, peer, 8, 10*time.Second); string(got) != "answer-1" {
		t.Fatalf("got %q", got)
	}
}

// An answer followed by a request without one (acks=0) is still flushed.
func TestWriterFlushesBeforeNoAnswer(t *testing.T) {
	queue, peer := writerHarness(t)
	ready := &pending{done: make(chan struct{}), frame: []byte("answer-1")}
	close(ready.done)
	none := &pending{done: make(chan struct{})}
	close(none.done)
	queue <- ready
	queue <- none
	if got := readWithin(t, peer, 8, 10*time.Second); string(got) != "answer-1" {
		t.Fatalf("got %q", got)
	}
}
