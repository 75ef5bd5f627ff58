// Package syncbuf provides a bytes.Buffer that one goroutine (a child
// process's output copier, a follower) writes while a test reads it.
package syncbuf
