package blockstm

import (
	"encoding/binary"
	"slices"
	"strings"
)

// sortKeys returns the order of the distinct keys, byte-wise: keys[idx[0]]
// < keys[idx[1]] < .... Sorting a write set is on the block's critical
// path, and state keys share long prefixes (a module name, a record type)
// that make comparison sorts slow. So each key's first 16 bytes are copied,
// zero-padded, into a small pointer-free item and the items are sorted by
// an LSD radix sort that skips byte positions where all keys agree; where
// prefixes differ their order is the keys' order (a padding zero sorts
// before any byte, as the end of a shorter key does), and runs of keys
// with equal prefixes are then sorted by comparing the whole keys.
// The scratch memory comes from buf, which may be nil.
func sortKeys(keys []string, buf *sortBuf) []int32 {
	if buf == nil {
		buf = &sortBuf{}
	}
	buf.items = resize(buf.items, len(keys))
	buf.tmp = resize(buf.tmp, len(keys))
	buf.idx = resize(buf.idx, len(keys))
	items := buf.items
	for i, k := range keys {
		var p [16]byte
		copy(p[:], k)
		items[i] = sortItem{hi: binary.BigEndian.Uint64(p[:8]), lo: binary.BigEndian.Uint64(p[8:]), i: int32(i)}
	}
	if len(items) > 1 {
		radixSort(items, buf.tmp)
	}
	for i := 0; i < len(items); {
		j := i + 1
		for j < len(items) && items[j].hi == items[i].hi && items[j].lo == items[i].lo {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(items[i:j], func(a, b sortItem) int { return strings.Compare(keys[a.i], keys[b.i]) })
		}
		i = j
	}
	idx := buf.idx
	for i, it := range items {
		idx[i] = it.i
	}
	return idx
}

// sortBuf is scratch memory for building sorted write sets, kept by a
// worker from block to block.
type sortBuf struct {
	items, tmp []sortItem
	idx        []int32
	keys       []string   // snapshotPart's locations
	vals       []*mvEntry // and their last versions
}

// reset drops the references to the block's data.
func (b *sortBuf) reset() {
	clear(b.keys)
	clear(b.vals)
	b.keys, b.vals = b.keys[:0], b.vals[:0]
}

type sortItem struct {
	hi, lo uint64
	i      int32
}

// digit is byte pos (0 the most significant) of the item's prefix.
func (it *sortItem) digit(pos int) byte {
	if pos < 8 {
		return byte(it.hi >> (56 - 8*pos))
	}
	return byte(it.lo >> (56 - 8*(pos-8)))
}

// radixSort sorts items by (hi, lo), stably, using tmp as scratch.
func radixSort(items, tmp []sortItem) {
	src, dst := items, tmp
	for pos := 15; pos >= 0; pos-- {
		var count [256]int
		for k := range src {
			count[src[k].digit(pos)]++
		}
		if count[src[0].digit(pos)] == len(src) {
			continue // every item has the same byte here
		}
		sum := 0
		for b := range count {
			count[b], sum = sum, sum+count[b]
		}
		for k := range src {
			b := src[k].digit(pos)
			dst[count[b]] = src[k]
			count[b]++
		}
		src, dst = dst, src
	}
	if &src[0] != &items[0] {
		copy(items, src)
	}
}
