package group

import (
	"context"
	"fmt"
	"sync"
)

// MemStore is an in-memory Store for tests: every partition is a slice of records, Append
// is committed at once. Hooks let a test fail writes.
type MemStore struct {
	mu    sync.Mutex
	parts map[int32]*memPartition
	// failAppend, when set, is asked before each Append; a non-nil error fails the write
	// (nothing is written).
	failAppend func(partition int32, records []Record) error
	appends    int
}

type memPartition struct {
	start   int64 // offset of recs[0]
	recs    []Record
	appends int
}

// NewMemStore returns a store with partitions 0..partitions-1, all empty.
func NewMemStore(partitions int32) *MemStore {
	s := &MemStore{parts: map[int32]*memPartition{}}
	for p := range partitions {
		s.parts[p] = &memPartition{}
	}
	return s
}

func (s *MemStore) part(p int32) (*memPartition, error) {
	mp := s.parts[p]
	if mp == nil {
		return nil, fmt.Errorf("memstore: no partition %d", p)
	}
	return mp, nil
}

// Append implements Store.
func (s *MemStore) Append(ctx context.Context, partition int32, records []Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	mp, err := s.part(partition)
	if err != nil {
		return err
	}
	if s.failAppend != nil {
		if err := s.failAppend(partition, records); err != nil {
			return err
		}
	}
	s.appends++
	mp.appends++
	for _, r := range records {
		r.Offset = mp.start + int64(len(mp.recs))
		r.Key = append([]byte(nil), r.Key...)
		if r.Value != nil {
			r.Value = append([]byte{}, r.Value...)
		}
		mp.recs = append(mp.recs, r)
	}
	return nil
}

// Scan implements Store. fn runs without the store's lock held.
func (s *MemStore) Scan(ctx context.Context, partition int32, fn func(Record) error) error {
	recs, err := s.Records(partition)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// DeleteBefore implements Store.
func (s *MemStore) DeleteBefore(_ context.Context, partition int32, offset int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	mp, err := s.part(partition)
	if err != nil {
		return err
	}
	end := mp.start + int64(len(mp.recs))
	if offset > end {
		return fmt.Errorf("memstore: delete before %d beyond high watermark %d", offset, end)
	}
	if offset > mp.start {
		mp.recs = append([]Record(nil), mp.recs[offset-mp.start:]...)
		mp.start = offset
	}
	return nil
}

// HighWatermark implements Store.
func (s *MemStore) HighWatermark(partition int32) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mp, err := s.part(partition)
	if err != nil {
		return 0, err
	}
	return mp.start + int64(len(mp.recs)), nil
}

// Records returns a copy of the partition's records from its log start.
func (s *MemStore) Records(partition int32) ([]Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mp, err := s.part(partition)
	if err != nil {
		return nil, err
	}
	return append([]Record(nil), mp.recs...), nil
}

// LogStart is the partition's first offset.
func (s *MemStore) LogStart(partition int32) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if mp := s.parts[partition]; mp != nil {
		return mp.start
	}
	return 0
}

// Appends counts the successful Append calls so far (all partitions).
func (s *MemStore) Appends() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appends
}

// FailAppends makes every later Append ask f first (nil removes the hook).
func (s *MemStore) FailAppends(f func(partition int32, records []Record) error) {
	s.mu.Lock()
	s.failAppend = f
	s.mu.Unlock()
}
