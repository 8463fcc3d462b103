package logstore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// maxSendfileChunk bounds one sendfile(2) call, as the kernel does anyway
// (0x7ffff000); smaller chunks keep a slow socket from holding the call.
const maxSendfileChunk = 1 << 30

// SendTo writes the region's bytes to dst with sendfile(2): from the page
// cache to the socket, without passing through user space. dst is a
// connection exposing its descriptor (a *net.TCPConn or *net.UnixConn); it
// may be non-blocking, as Go's sockets are: the call waits for writability
// through the runtime poller, honouring dst's write deadline.
//
// The region's file descriptor is held (not closed under the call) while
// bytes are sent; a region whose file was closed fails with os.ErrClosed. A
// file shorter than the region (truncated since the read) is an
// io.ErrUnexpectedEOF after the bytes that existed were sent: the caller
// must then drop the connection, since the frame it announced is short.
func (r Region) SendTo(dst syscall.Conn) (int64, error) {
	dstRaw, err := dst.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("sendfile: %w", err)
	}
	srcRaw, err := r.File.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("sendfile %s: %w", r.File.Name(), err)
	}
	var sent int64
	var opErr error
	ctlErr := srcRaw.Control(func(src uintptr) {
		off := r.Pos
		werr := dstRaw.Write(func(dfd uintptr) bool {
			for sent < r.Len {
				n, err := unix.Sendfile(int(dfd), int(src), &off, int(min(r.Len-sent, maxSendfileChunk)))
				if n > 0 {
					sent += int64(n)
				}
				switch {
				case errors.Is(err, unix.EAGAIN):
					return false // wait until the socket can take more
				case errors.Is(err, unix.EINTR):
					continue
				case err != nil:
					opErr = err
					return true
				case n == 0:
					opErr = io.ErrUnexpectedEOF
					return true
				}
			}
			return true
		})
		if opErr == nil {
			opErr = werr
		}
	})
	if ctlErr != nil {
		// Control fails only when the file is being closed.
		return sent, fmt.Errorf("sendfile %s: %w (%v)", r.File.Name(), os.ErrClosed, ctlErr)
	}
	if opErr != nil {
		return sent, fmt.Errorf("sendfile %s at %d+%d (sent %d): %w", r.File.Name(), r.Pos+sent, r.Len-sent, sent, opErr)
	}
	return sent, nil
}
