package logstore

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t testing.TB) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return s.(*net.TCPConn), c.(*net.TCPConn)
}

func TestRegionSendTo(t *testing.T) {
	l := openTestLog(t, t.TempDir(), Config{})
	for i := 0; i < 50; i++ {
		mustAppend(t, l, makeBatch(t, batchSpec{n: 10, valueSize: 1000, ts: 1}))
	}
	res, err := l.Read(7, 1<<30, l.LogEndOffset(), true)
	if err != nil {
		t.Fatal(err)
	}
	want, err := res.AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	src, dst := tcpPair(t)
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(dst, res.Size))
		got <- b
	}()
	// The socket buffer is far smaller than the region: sendfile must wait
	// for writability through the poller and resume where it stopped.
	src.SetWriteBuffer(4096)
	var sent int64
	for _, rg := range res.Regions {
		n, err := rg.SendTo(src)
		if err != nil {
			t.Fatal(err)
		}
		sent += n
	}
	if sent != res.Size {
		t.Fatalf("sent %d, want %d", sent, res.Size)
	}
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("received %d bytes differing from the log's %d", len(b), len(want))
	}
}

func TestRegionSendToReadsTheFileAtSendTime(t *testing.T) {
	// sendfile takes the bytes from the file when it runs, not from a copy
	// made earlier: overwrite the file after building the region and the
	// peer sees the new bytes.
	f, err := os.Create(t.TempDir() + "/f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Write(bytes.Repeat([]byte("a"), 100))
	rg := Region{File: f, Pos: 10, Len: 50}
	f.WriteAt(bytes.Repeat([]byte("b"), 100), 0)
	src, dst := tcpPair(t)
	if n, err := rg.SendTo(src); err != nil || n != 50 {
		t.Fatalf("SendTo = %d, %v", n, err)
	}
	b := make([]byte, 50)
	if _, err := io.ReadFull(dst, b); err != nil || !bytes.Equal(b, bytes.Repeat([]byte("b"), 50)) {
		t.Fatalf("peer got %q, %v", b, err)
	}
}

func TestRegionSendToShortOrClosedFile(t *testing.T) {
	f, err := os.Create(t.TempDir() + "/f")
	if err != nil {
		t.Fatal(err)
	}
	f.Write(make([]byte, 100))
	src, dst := tcpPair(t)
	go io.Copy(io.Discard, dst)
	n, err := Region{File: f, Pos: 60, Len: 100}.SendTo(src)
	if n != 40 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("region past EOF: SendTo = %d, %v; want 40, ErrUnexpectedEOF", n, err)
	}
	f.Close()
	if _, err := (Region{File: f, Pos: 0, Len: 10}).SendTo(src); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("closed file: err = %v, want os.ErrClosed", err)
	}
}
