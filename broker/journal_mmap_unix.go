//go:build unix

package broker

import (
	"os"
	"syscall"
)

// mapFile maps the first size bytes of f for reading and writing, shared
// with the file: what is copied there is in the kernel's page cache at
// once, as after a write, without a system call.
func mapFile(f *os.File, size int) ([]byte, error) {
	return syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
}

func unmapFile(b []byte) error { return syscall.Munmap(b) }

// dropPages takes the pages of b out of the process's memory. They stay in
// the page cache, dirty ones included, on their way to the file: the
// mapping otherwise adds every page written to the process's RSS.
func dropPages(b []byte) error { return syscall.Madvise(b, syscall.MADV_DONTNEED) }
