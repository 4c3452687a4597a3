package backends

import "io"

// ReadBlock fills buf from r. It stops when buf is full (eof false, even
// if r said io.EOF with its last bytes: the next read tells), when r ends
// before (eof true, err nil) or when r fails (err). Unlike io.ReadFull, it
// never reports an error of r as the end of the data: a request body cut
// short before its Content-Length fails with io.ErrUnexpectedEOF, which
// io.ReadFull would return as if the data had simply been short.
func ReadBlock(r io.Reader, buf []byte) (n int, eof bool, err error) {
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		switch {
		case err == io.EOF:
			return n, n < len(buf), nil
		case err != nil:
			return n, false, err
		}
	}
	return n, false, nil
}
