package lazyfs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Mount is the filesystem mounted at a directory.
type Mount struct {
	fs     *FS
	dir    string
	server *fuse.Server
}

// Mount mounts f at dir with the mount(2) system call (no fusermount
// needed; the caller needs CAP_SYS_ADMIN and /dev/fuse). Kernel caching of
// names and attributes is on: every change goes through the kernel, so
// its caches stay right, and a new mount starts without them.
func (f *FS) Mount(dir string) (*Mount, error) {
	timeout := time.Second
	root := &fnode{fs: f, n: f.root}
	server, err := fs.Mount(dir, root, &fs.Options{
		MountOptions: fuse.MountOptions{
			DirectMountStrict: true,
			FsName:            "lazyfs",
			Name:              "lazyfs",
			MaxWrite:          1 << 20,
		},
		EntryTimeout:    &timeout,
		AttrTimeout:     &timeout,
		NegativeTimeout: &timeout,
		UID:             uint32(os.Getuid()),
		GID:             uint32(os.Getgid()),
	})
	if err != nil {
		return nil, fmt.Errorf("lazyfs: mount %s: %w", dir, err)
	}
	return &Mount{fs: f, dir: dir, server: server}, nil
}

// Unmount unmounts, retrying while the kernel still holds the mount busy
// (files of a killed process are released asynchronously), then detaching
// it lazily.
func (m *Mount) Unmount() error {
	var err error
	for range 50 {
		if err = m.server.Unmount(); err == nil {
			m.server.Wait()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	if derr := syscall.Unmount(m.dir, syscall.MNT_DETACH); derr != nil {
		return fmt.Errorf("lazyfs: unmount %s: %w (detach: %w)", m.dir, err, derr)
	}
	m.server.Wait()
	return nil
}

// ErrNotUsable wraps the reason FUSE cannot be used here.
var ErrNotUsable = errors.New("lazyfs: FUSE not usable")

// Usable reports why FUSE cannot be mounted here (wrapping ErrNotUsable),
// or nil: it mounts and unmounts an empty filesystem in a temporary
// directory.
func Usable() error {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return fmt.Errorf("%w: %w", ErrNotUsable, err)
	}
	dir, err := os.MkdirTemp("", "lazyfs-probe-")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotUsable, err)
	}
	defer os.Remove(dir)
	m, err := New().Mount(dir)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotUsable, err)
	}
	if err := m.Unmount(); err != nil {
		return fmt.Errorf("%w: %w", ErrNotUsable, err)
	}
	return nil
}

// fnode is one file or directory as the FUSE layer sees it.
type fnode struct {
	fs.Inode
	fs *FS
	n  *node
}

var (
	_ fs.NodeLookuper  = (*fnode)(nil)
	_ fs.NodeGetattrer = (*fnode)(nil)
	_ fs.NodeSetattrer = (*fnode)(nil)
	_ fs.NodeOpener    = (*fnode)(nil)
	_ fs.NodeCreater   = (*fnode)(nil)
	_ fs.NodeReader    = (*fnode)(nil)
	_ fs.NodeWriter    = (*fnode)(nil)
	_ fs.NodeFsyncer   = (*fnode)(nil)
	_ fs.NodeFlusher   = (*fnode)(nil)
	_ fs.NodeMkdirer   = (*fnode)(nil)
	_ fs.NodeUnlinker  = (*fnode)(nil)
	_ fs.NodeRmdirer   = (*fnode)(nil)
	_ fs.NodeRenamer   = (*fnode)(nil)
	_ fs.NodeReaddirer = (*fnode)(nil)
	_ fs.NodeStatfser  = (*fnode)(nil)
)

func (f *fnode) child(ctx context.Context, c *node, out *fuse.EntryOut) *fs.Inode {
	f.fs.attr(c, &out.Attr)
	mode := uint32(syscall.S_IFREG)
	if c.dir {
		mode = syscall.S_IFDIR
	}
	return f.NewInode(ctx, &fnode{fs: f.fs, n: c}, fs.StableAttr{Mode: mode, Ino: c.ino})
}

// attr fills a's fields from n; f.mu must be held.
func (f *FS) attr(n *node, a *fuse.Attr) {
	a.Ino = n.ino
	a.Mode = n.mode
	a.Nlink = 1
	if n.dir {
		a.Mode |= syscall.S_IFDIR
		a.Nlink = 2
	} else {
		a.Mode |= syscall.S_IFREG
		a.Size = uint64(len(n.data))
		a.Blocks = (a.Size + 511) / 512
	}
	a.Blksize = 4096
	a.SetTimes(nil, &n.mtime, &n.mtime)
	a.Owner = fuse.Owner{Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())}
}

func (f *fnode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.fs.down {
		return nil, syscall.EIO
	}
	c, ok := f.n.children[name]
	if !ok {
		return nil, syscall.ENOENT
	}
	return f.child(ctx, c, out), 0
}

func (f *fnode) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.fs.down {
		return syscall.EIO
	}
	f.fs.attr(f.n, &out.Attr)
	return 0
}

func (f *fnode) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.fs.down {
		return syscall.EIO
	}
	if size, ok := in.GetSize(); ok {
		if f.n.dir {
			return syscall.EISDIR
		}
		if errno := f.fs.truncate(f.n, int64(size)); errno != 0 {
			return errno
		}
	}
	if mode, ok := in.GetMode(); ok {
		f.n.mode = mode & 0o7777
	}
	if mtime, ok := in.GetMTime(); ok {
		f.n.mtime = mtime
	}
	f.fs.attr(f.n, &out.Attr)
	return 0
}

func (f *fnode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.fs.down {
		return nil, 0, syscall.EIO
	}
	if flags&syscall.O_TRUNC != 0 && flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		if errno := f.fs.truncate(f.n, 0); errno != 0 {
			return nil, 0, errno
		}
	}
	return nil, 0, 0
}

func (f *fnode) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	c, errno := f.fs.add(f.n, name, false, mode)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	return f.child(ctx, c, out), nil, 0, 0
}

func (f *fnode) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.fs.down {
		return nil, syscall.EIO
	}
	if off >= int64(len(f.n.data)) {
		return fuse.ReadResultData(nil), 0
	}
	n := copy(dest, f.n.data[off:])
	return fuse.ReadResultData(dest[:n]), 0
}

func (f *fnode) Write(ctx context.Context, fh fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if errno := f.fs.write(f.n, data, off); errno != 0 {
		return 0, errno
	}
	return uint32(len(data)), 0
}

// Fsync serves fsync and fdatasync of files, and fsync of directories.
func (f *fnode) Fsync(ctx context.Context, fh fs.FileHandle, flags uint32) syscall.Errno {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	return f.fs.fsync(f.n)
}

// Flush (close) persists nothing.
func (f *fnode) Flush(ctx context.Context, fh fs.FileHandle) syscall.Errno {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.fs.down {
		return syscall.EIO
	}
	return 0
}

func (f *fnode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	c, errno := f.fs.add(f.n, name, true, mode)
	if errno != 0 {
		return nil, errno
	}
	return f.child(ctx, c, out), 0
}

func (f *fnode) Unlink(ctx context.Context, name string) syscall.Errno {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	return f.fs.remove(f.n, name, false)
}

func (f *fnode) Rmdir(ctx context.Context, name string) syscall.Errno {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	return f.fs.remove(f.n, name, true)
}

func (f *fnode) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	to, ok := newParent.(*fnode)
	if !ok {
		return syscall.EXDEV
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	return f.fs.rename(f.n, name, to.n, newName, flags)
}

func (f *fnode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.fs.down {
		return nil, syscall.EIO
	}
	entries := make([]fuse.DirEntry, 0, len(f.n.children))
	for name, c := range f.n.children {
		mode := uint32(syscall.S_IFREG)
		if c.dir {
			mode = syscall.S_IFDIR
		}
		entries = append(entries, fuse.DirEntry{Name: name, Mode: mode, Ino: c.ino})
	}
	return fs.NewListDirStream(entries), 0
}

// Statfs reports plenty of room: the JetStream server sizes its limits
// from it.
func (f *fnode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	const blocks = 1 << 28 // 1 TiB of 4 KiB blocks
	out.Blocks, out.Bfree, out.Bavail = blocks, blocks, blocks
	out.Files, out.Ffree = 1<<20, 1<<20
	out.Bsize, out.Frsize, out.NameLen = 4096, 4096, 255
	return 0
}
