package outbox

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"sort"
)

// The outbox file read without bbolt, for the check and the salvage: bbolt trusts its file (a page that is out of
// range or garbled panics, or faults on the memory map), so a damaged outbox is read here, where every offset is
// checked against the file and a damaged page is an error, never a crash. The on-disk format is bbolt's (stable
// since its 1.0): a page header {id u64, flags u16, count u16, overflow u32}, meta pages 0 and 1, branch
// elements {pos u32, ksize u32, pgid u64}, leaf elements {flags u32, pos u32, ksize u32, vsize u32}, buckets as
// leaf values {root u64, sequence u64} followed, for an inline bucket (root 0), by its page.

const (
	pageHeaderSize  = 16
	elementSize     = 16
	branchPage      = 0x01
	leafPage        = 0x02
	metaPage        = 0x04
	freelistPage    = 0x10
	bucketLeafFlag  = 0x01
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
	noFreelist      = ^uint64(0)
	bucketHeaderLen = 16
)

// rawMeta is the part of a meta page the reader needs.
type rawMeta struct {
	pageSize        int
	root, freelist  uint64
	highWater, txid uint64
}

// rawFile is an outbox file's bytes and its newest valid meta page.
type rawFile struct {
	data []byte
	meta rawMeta
	// metaProblems says what is wrong with a meta page bbolt would pass over for the other one.
	metaProblems []string
}

// pageError is a damaged page: where, and what is wrong with it.
type pageError struct {
	page uint64
	what string
}

func (e pageError) Error() string { return fmt.Sprintf("page %d: %s", e.page, e.what) }

// readRaw checks the meta pages and picks the newest valid one.
func readRaw(data []byte) (*rawFile, error) {
	if len(data) < 2*pageHeaderSize+128 {
		return nil, fmt.Errorf("%d bytes is too short for a bbolt file (it starts with two meta pages)", len(data))
	}
	var metas []rawMeta
	var problems []string
	// page 0's meta gives the page size; page 1 is at that offset
	first, err := parseMeta(data, 0)
	if err != nil {
		problems = append(problems, "meta page 0: "+err.Error())
	} else {
		metas = append(metas, first)
	}
	sizes := []int{first.pageSize}
	if err != nil { // page 0 cannot say where page 1 is: try the page sizes bbolt uses
		sizes = []int{4096, 8192, 16384, 65536}
	}
	for _, size := range sizes {
		if size <= 0 || size >= len(data) {
			continue
		}
		second, err := parseMeta(data, size)
		if err == nil && second.pageSize != size {
			err = fmt.Errorf("a page size of %d, but it is at offset %d", second.pageSize, size)
		}
		if err == nil {
			metas = append(metas, second)
			break
		}
		if len(sizes) == 1 {
			problems = append(problems, "meta page 1: "+err.Error())
		}
	}
	if len(metas) == 0 {
		return nil, fmt.Errorf("no valid meta page (%v): this is not an outbox, or its first pages are damaged",
			problems)
	}
	sort.Slice(metas, func(i, j int) bool { return metas[i].txid > metas[j].txid })
	f := &rawFile{data: data, meta: metas[0], metaProblems: problems}
	if need := f.meta.highWater * uint64(f.meta.pageSize); need > uint64(len(data)) {
		return nil, fmt.Errorf("the file has %d bytes but its meta page counts %d pages of %d bytes (%d bytes): "+
			"it was cut short", len(data), f.meta.highWater, f.meta.pageSize, need)
	}
	if f.meta.root >= f.meta.highWater || f.meta.root < 2 {
		return nil, fmt.Errorf("the root page %d is outside the file's %d pages", f.meta.root, f.meta.highWater)
	}
	return f, nil
}

func parseMeta(data []byte, at int) (rawMeta, error) {
	if at+pageHeaderSize+64 > len(data) {
		return rawMeta{}, fmt.Errorf("beyond the end of the file")
	}
	if flags := binary.LittleEndian.Uint16(data[at+8:]); flags != metaPage {
		return rawMeta{}, fmt.Errorf("flags %#x, expected a meta page", flags)
	}
	m := data[at+pageHeaderSize:]
	if binary.LittleEndian.Uint32(m[0:]) != boltMagic {
		return rawMeta{}, fmt.Errorf("no bbolt magic number")
	}
	if v := binary.LittleEndian.Uint32(m[4:]); v != boltVersion {
		return rawMeta{}, fmt.Errorf("format version %d, expected %d", v, boltVersion)
	}
	h := fnv.New64a()
	h.Write(m[:56])
	if h.Sum64() != binary.LittleEndian.Uint64(m[56:]) {
		return rawMeta{}, fmt.Errorf("checksum mismatch")
	}
	return rawMeta{
		pageSize: int(binary.LittleEndian.Uint32(m[8:])),
		root:     binary.LittleEndian.Uint64(m[16:]),
		freelist: binary.LittleEndian.Uint64(m[32:]), highWater: binary.LittleEndian.Uint64(m[40:]),
		txid: binary.LittleEndian.Uint64(m[48:]),
	}, nil
}

// page returns page id's bytes (with its overflow pages), checked against the file.
func (f *rawFile) page(id uint64) ([]byte, error) {
	if id < 2 || id >= f.meta.highWater {
		return nil, pageError{id, fmt.Sprintf("outside the file's %d pages", f.meta.highWater)}
	}
	start := id * uint64(f.meta.pageSize)
	head := f.data[start : start+pageHeaderSize]
	if got := binary.LittleEndian.Uint64(head); got != id {
		return nil, pageError{id, fmt.Sprintf("its header says page %d", got)}
	}
	overflow := uint64(binary.LittleEndian.Uint32(head[12:]))
	end := start + (1+overflow)*uint64(f.meta.pageSize)
	if id+1+overflow > f.meta.highWater || end > uint64(len(f.data)) {
		return nil, pageError{id, fmt.Sprintf("%d overflow pages run past the end of the file", overflow)}
	}
	return f.data[start:end], nil
}

// entry is one key of a bucket: a value, or a nested bucket's header.
type entry struct {
	key, value []byte
	bucket     bool
}

// walker visits the pages of buckets, collecting the damage it meets instead of stopping at it.
type walker struct {
	f       *rawFile
	visited map[uint64]bool
	damage  []error
}

// pageEntries lists the keys of page id's subtree in order (the top-level buckets, from the meta page's root).
func (w *walker) pageEntries(id uint64) []entry {
	var out []entry
	w.pageEach(id, &stream{fn: func(e entry) { out = append(out, e) }})
	return out
}

// each calls fn with a bucket's keys in order, holding none of them: root is its root page, or 0 with inline
// holding its inline page. Damaged pages are recorded and skipped; what they held is lost.
func (w *walker) each(root uint64, inline []byte, fn func(entry)) {
	s := &stream{fn: fn}
	if root == 0 {
		w.leafOrBranch(0, inline, true, s)
		return
	}
	w.pageEach(root, s)
}

// stream hands a walk's keys on, remembering the last for the order checks.
type stream struct {
	fn   func(entry)
	last []byte
	n    int
}

func (s *stream) emit(e entry) {
	s.fn(e)
	s.last = e.key
	s.n++
}

// pageEach walks page id's subtree; it returns the first key it holds (nil when none could be read).
func (w *walker) pageEach(id uint64, s *stream) []byte {
	if w.visited[id] {
		w.damage = append(w.damage, pageError{id, "reached twice: the tree has a cycle or a shared page"})
		return nil
	}
	w.visited[id] = true
	p, err := w.f.page(id)
	if err != nil {
		w.damage = append(w.damage, err)
		return nil
	}
	for o := uint64(1); o < uint64(len(p)/w.f.meta.pageSize); o++ {
		w.visited[id+o] = true // its overflow pages are in use too
	}
	return w.leafOrBranch(id, p, false, s)
}

// leafOrBranch reads one page's elements, and a branch's children; an inline page has no id of its own. It
// returns the first key the page's subtree holds.
func (w *walker) leafOrBranch(id uint64, p []byte, inline bool, s *stream) (first []byte) {
	if len(p) < pageHeaderSize {
		w.damage = append(w.damage, pageError{id, "shorter than a page header"})
		return nil
	}
	flags, count := binary.LittleEndian.Uint16(p[8:]), int(binary.LittleEndian.Uint16(p[10:]))
	if pageHeaderSize+count*elementSize > len(p) {
		w.damage = append(w.damage, pageError{id, fmt.Sprintf("%d elements do not fit in the page", count)})
		return nil
	}
	from := s.n // the keys this page's subtree has handed on are those after from
	for i := range count {
		at := pageHeaderSize + i*elementSize
		el := p[at : at+elementSize]
		switch flags {
		case branchPage:
			if inline {
				w.damage = append(w.damage, pageError{id, "an inline bucket with a branch page"})
				return first
			}
			key, ok := slice(p, at+int(binary.LittleEndian.Uint32(el)), int(binary.LittleEndian.Uint32(el[4:])), 0)
			if !ok {
				w.damage = append(w.damage, pageError{id, fmt.Sprintf("element %d points outside the page", i)})
				continue
			}
			// bbolt finds a key by these separators: one out of order sends lookups to the wrong page
			outOfOrder := s.n > from && bytes.Compare(s.last, key.key) >= 0
			childFirst := w.pageEach(binary.LittleEndian.Uint64(el[8:]), s)
			if outOfOrder || (childFirst != nil && bytes.Compare(childFirst, key.key) < 0) {
				w.damage = append(w.damage, pageError{id, fmt.Sprintf("element %d's key is out of order", i)})
			}
			if first == nil {
				first = childFirst
			}
		case leafPage:
			kv, ok := slice(p, at+int(binary.LittleEndian.Uint32(el[4:])), int(binary.LittleEndian.Uint32(el[8:])),
				int(binary.LittleEndian.Uint32(el[12:])))
			if !ok {
				w.damage = append(w.damage, pageError{id, fmt.Sprintf("element %d points outside the page", i)})
				continue
			}
			kv.bucket = binary.LittleEndian.Uint32(el)&bucketLeafFlag != 0
			if s.n > from && bytes.Compare(s.last, kv.key) >= 0 {
				w.damage = append(w.damage, pageError{id, fmt.Sprintf("element %d's key is out of order", i)})
			}
			s.emit(kv)
			if first == nil {
				first = kv.key
			}
		default:
			w.damage = append(w.damage, pageError{id, fmt.Sprintf("flags %#x, expected a branch or leaf page", flags)})
			return nil
		}
	}
	return first
}

// maxDepth bounds a lookup's descent: bbolt's trees are a few levels deep; a damaged one may loop.
const maxDepth = 64

// lookup finds key's value in a bucket by its separators, as bbolt would, marking nothing visited: the check
// matches its indexes this way instead of holding one of them in memory. A damaged page on the way (the walk
// reports it) finds nothing.
func (w *walker) lookup(root uint64, inline, key []byte) ([]byte, bool) {
	p := inline
	for range maxDepth {
		if root != 0 {
			var err error
			if p, err = w.f.page(root); err != nil {
				return nil, false
			}
		}
		if len(p) < pageHeaderSize {
			return nil, false
		}
		flags, count := binary.LittleEndian.Uint16(p[8:]), int(binary.LittleEndian.Uint16(p[10:]))
		if pageHeaderSize+count*elementSize > len(p) || count == 0 {
			return nil, false
		}
		broken := false
		keyAt := func(i int) []byte {
			el := p[pageHeaderSize+i*elementSize:]
			pos, size := pageHeaderSize+i*elementSize+int(binary.LittleEndian.Uint32(el)), el[4:]
			if flags == leafPage {
				pos, size = pageHeaderSize+i*elementSize+int(binary.LittleEndian.Uint32(el[4:])), el[8:]
			}
			e, ok := slice(p, pos, int(binary.LittleEndian.Uint32(size)), 0)
			broken = broken || !ok
			return e.key
		}
		switch {
		case flags == leafPage:
			i := sort.Search(count, func(i int) bool { return bytes.Compare(keyAt(i), key) >= 0 })
			if broken || i == count || !bytes.Equal(keyAt(i), key) {
				return nil, false
			}
			at := pageHeaderSize + i*elementSize
			el := p[at:]
			e, ok := slice(p, at+int(binary.LittleEndian.Uint32(el[4:])), int(binary.LittleEndian.Uint32(el[8:])),
				int(binary.LittleEndian.Uint32(el[12:])))
			return e.value, ok && binary.LittleEndian.Uint32(el)&bucketLeafFlag == 0
		case flags == branchPage && inline == nil:
			// the last child whose separator is at most key (the first when key is below them all)
			i := max(sort.Search(count, func(i int) bool { return bytes.Compare(keyAt(i), key) > 0 })-1, 0)
			if broken {
				return nil, false
			}
			root = binary.LittleEndian.Uint64(p[pageHeaderSize+i*elementSize+8:])
		default:
			return nil, false
		}
	}
	return nil, false
}

func slice(p []byte, pos, ksize, vsize int) (entry, bool) {
	if pos < 0 || ksize < 0 || vsize < 0 || pos+ksize+vsize > len(p) {
		return entry{}, false
	}
	return entry{key: p[pos : pos+ksize], value: p[pos+ksize : pos+ksize+vsize]}, true
}

// bucket finds a top-level bucket's root and inline page.
func (w *walker) bucket(top []entry, name string) (root uint64, inline []byte, found bool) {
	for _, e := range top {
		if !e.bucket || string(e.key) != name {
			continue
		}
		if len(e.value) < bucketHeaderLen {
			w.damage = append(w.damage, fmt.Errorf("bucket %s: a header of %d bytes", name, len(e.value)))
			return 0, nil, false
		}
		root = binary.LittleEndian.Uint64(e.value)
		if root == 0 {
			inline = e.value[bucketHeaderLen:]
		}
		return root, inline, true
	}
	return 0, nil, false
}

// checkFreelist checks the freelist page bbolt reads when it opens the file: a page it lists as free while the
// tree uses it would be overwritten by the next commit.
func (f *rawFile) checkFreelist(used map[uint64]bool) error {
	if f.meta.freelist == noFreelist {
		return nil
	}
	p, err := f.page(f.meta.freelist)
	if err != nil {
		return fmt.Errorf("freelist %w", err)
	}
	if flags := binary.LittleEndian.Uint16(p[8:]); flags != freelistPage {
		return pageError{f.meta.freelist, fmt.Sprintf("flags %#x, expected the freelist", flags)}
	}
	count, at := uint64(binary.LittleEndian.Uint16(p[10:])), pageHeaderSize
	if count == 0xFFFF { // the real count is the first element
		count, at = binary.LittleEndian.Uint64(p[pageHeaderSize:]), pageHeaderSize+8
	}
	if uint64(at)+count*8 > uint64(len(p)) {
		return pageError{f.meta.freelist, fmt.Sprintf("%d free page ids do not fit in the page", count)}
	}
	for i := range count {
		id := binary.LittleEndian.Uint64(p[uint64(at)+i*8:])
		if id < 2 || id >= f.meta.highWater {
			return pageError{f.meta.freelist, fmt.Sprintf("free page id %d is outside the file", id)}
		}
		if used[id] || id == f.meta.freelist {
			return pageError{f.meta.freelist, fmt.Sprintf("it lists page %d as free, but the outbox uses it", id)}
		}
	}
	return nil
}
