package blockstm

// bump hands out slices of Ts from chunks kept from block to block, sparing
// the allocator and the GC. Nothing it hands out is reused before reset,
// which runs once no worker of the block is left: other workers may still
// read what one of them published. Not safe for concurrent use.
type bump[T any] struct {
	chunks  [][]T
	ci, off int // the next free element is chunks[ci][off]
}

const bumpChunk = 256

// take returns n zero Ts, with capacity n so that appending to the result
// cannot overwrite the next one.
func (b *bump[T]) take(n int) []T {
	if n > bumpChunk {
		return make([]T, n)
	}
	if b.ci < len(b.chunks) && b.off+n > bumpChunk {
		b.ci, b.off = b.ci+1, 0
	}
	if b.ci == len(b.chunks) {
		b.chunks = append(b.chunks, make([]T, bumpChunk))
	}
	s := b.chunks[b.ci][b.off : b.off+n : b.off+n]
	b.off += n
	return s
}

// one returns a pointer to a zero T.
func (b *bump[T]) one() *T { return &b.take(1)[0] }

// reset zeroes what was handed out, dropping its references, and makes
// it available again.
func (b *bump[T]) reset() {
	for i := 0; i < b.ci; i++ {
		clear(b.chunks[i])
	}
	if b.ci < len(b.chunks) {
		clear(b.chunks[b.ci][:b.off])
	}
	b.ci, b.off = 0, 0
}

// workerMem is what one worker allocates during a block: the published
// read sets and written locations of its incarnations, and its scratch
// buffers.
type workerMem struct {
	keys    bump[mvKey] // the locations this worker created
	reads   bump[readDesc]
	locs    bump[*mvKey]
	recs    bump[recorded]
	scratch map[string]wentry // an incarnation's write set
	rs      []readDesc        // an incarnation's read set, before it is recorded
	sort    sortBuf           // for its part of the write set
}

func (m *workerMem) reset() {
	m.keys.reset()
	m.reads.reset()
	m.locs.reset()
	m.recs.reset()
	clear(m.scratch)
	clear(m.rs)
	m.rs = m.rs[:0]
	m.sort.reset()
}
