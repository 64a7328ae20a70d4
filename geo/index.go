package geo

import (
	"math"

	"github.com/paulmach/orb"
)

// DefaultCellDeg is the default grid cell size of an Index in degrees
// (about 445 m north-south, 280 m east-west at 51°N: a few fences per cell
// for typical site sizes).
const DefaultCellDeg = 0.004

// maxCellsPerFence is how many grid cells a fence's bounding box may cover
// before the fence goes to the list of large fences, which every query
// checks by bounding box.
const maxCellsPerFence = 64

// Index is a uniform grid over fence bounding boxes: a query for a point
// looks at one cell and returns the few fences whose bounding box contains
// the point, so thousands of fences cost little per fix. It is not safe
// for concurrent use; FenceEngine serialises access.
type Index struct {
	cell   float64
	cells  map[uint64][]int32
	fences []*Fence // slot -> fence (nil when free)
	free   []int32
	byID   map[string]int32
	large  []int32
	fcells map[int32][]uint64
}

// NewIndex returns an empty index with cells of cellDeg degrees (0 uses
// DefaultCellDeg).
func NewIndex(cellDeg float64) *Index {
	if !(cellDeg > 0) {
		cellDeg = DefaultCellDeg
	}
	return &Index{cell: cellDeg, cells: map[uint64][]int32{}, byID: map[string]int32{}, fcells: map[int32][]uint64{}}
}

func (ix *Index) key(x, y int64) uint64 {
	return uint64(uint32(int32(x)))<<32 | uint64(uint32(int32(y)))
}

func (ix *Index) coord(v float64) int64 { return int64(math.Floor(v / ix.cell)) }

// Len returns the number of fences in the index.
func (ix *Index) Len() int { return len(ix.byID) }

// Fence returns the fence with id, or nil.
func (ix *Index) Fence(id string) *Fence {
	if s, ok := ix.byID[id]; ok {
		return ix.fences[s]
	}
	return nil
}

// Add inserts f, replacing a fence with the same id.
func (ix *Index) Add(f *Fence) {
	ix.Remove(f.ID)
	var slot int32
	if n := len(ix.free); n > 0 {
		slot = ix.free[n-1]
		ix.free = ix.free[:n-1]
		ix.fences[slot] = f
	} else {
		slot = int32(len(ix.fences))
		ix.fences = append(ix.fences, f)
	}
	ix.byID[f.ID] = slot
	b := f.Bound()
	x0, x1 := ix.coord(b.Min[0]), ix.coord(b.Max[0])
	y0, y1 := ix.coord(b.Min[1]), ix.coord(b.Max[1])
	if (x1-x0+1)*(y1-y0+1) > maxCellsPerFence {
		ix.large = append(ix.large, slot)
		return
	}
	keys := make([]uint64, 0, (x1-x0+1)*(y1-y0+1))
	for x := x0; x <= x1; x++ {
		for y := y0; y <= y1; y++ {
			k := ix.key(x, y)
			ix.cells[k] = append(ix.cells[k], slot)
			keys = append(keys, k)
		}
	}
	ix.fcells[slot] = keys
}

// Remove deletes the fence with id and reports whether it was present.
func (ix *Index) Remove(id string) bool {
	slot, ok := ix.byID[id]
	if !ok {
		return false
	}
	delete(ix.byID, id)
	if keys, ok := ix.fcells[slot]; ok {
		for _, k := range keys {
			ix.cells[k] = removeSlot(ix.cells[k], slot)
			if len(ix.cells[k]) == 0 {
				delete(ix.cells, k)
			}
		}
		delete(ix.fcells, slot)
	} else {
		ix.large = removeSlot(ix.large, slot)
	}
	ix.fences[slot] = nil
	ix.free = append(ix.free, slot)
	return true
}

func removeSlot(s []int32, slot int32) []int32 {
	for i, v := range s {
		if v == slot {
			s[i] = s[len(s)-1]
			return s[:len(s)-1]
		}
	}
	return s
}

// Candidates appends to dst the fences whose bounding box contains p and
// returns it.
func (ix *Index) Candidates(p orb.Point, dst []*Fence) []*Fence {
	for _, s := range ix.cells[ix.key(ix.coord(p[0]), ix.coord(p[1]))] {
		if f := ix.fences[s]; f.bound.Contains(p) {
			dst = append(dst, f)
		}
	}
	for _, s := range ix.large {
		if f := ix.fences[s]; f.bound.Contains(p) {
			dst = append(dst, f)
		}
	}
	return dst
}

// Containing appends to dst the fences that contain p and returns it.
func (ix *Index) Containing(p orb.Point, dst []*Fence) []*Fence {
	n := len(dst)
	dst = ix.Candidates(p, dst)
	out := dst[:n]
	for _, f := range dst[n:] {
		if f.Contains(p) {
			out = append(out, f)
		}
	}
	return out
}
