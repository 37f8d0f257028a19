package wal

import (
	"fmt"
	"os"
)

// replayFile applies every record of one file to states and returns what the file holds
// per group and the offset where valid data ends. In the last file a torn or corrupt
// record ends the log (and the rest of the file is zeroed so it can never be read back
// as data); in an earlier file it is an error.
func replayFile(path string, seq uint64, last bool, states map[uint64]*GroupState) (*fileInfo, int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	fi := &fileInfo{seq: seq, maxIdx: map[uint64]uint64{}}
	off := 0
	for off < len(data) {
		rec, n, err := readFrame(data[off:])
		if err == nil && n > 0 {
			err = applyRecord(rec, states, fi)
		}
		if err != nil {
			if !last {
				return nil, 0, fmt.Errorf("%s at offset %d: %w", path, off, err)
			}
			if zerr := zeroTail(path, int64(off), int64(len(data))); zerr != nil {
				return nil, 0, zerr
			}
			break
		}
		if n == 0 {
			break
		}
		off += n
	}
	return fi, int64(off), nil
}

// zeroTail overwrites [from, to) with zeros and syncs, so a torn record cannot be
// mistaken for data once new records are written after it.
func zeroTail(path string, from, to int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.WriteAt(make([]byte, to-from), from); err != nil {
		return err
	}
	return f.Sync()
}

func state(states map[uint64]*GroupState, g uint64) *GroupState {
	st := states[g]
	if st == nil {
		st = &GroupState{}
		states[g] = st
	}
	return st
}

// applyRecord replays one record: entries replace any tail they overlap (raft's log
// truncation), a compaction drops entries at or below its index, a removal forgets the
// group.
func applyRecord(rec decoded, states map[uint64]*GroupState, fi *fileInfo) error {
	switch rec.typ {
	case recEntries:
		ents, err := decodeEntries(rec.payload)
		if err != nil || len(ents) == 0 {
			return err
		}
		st := state(states, rec.group)
		first := ents[0].Index
		if first <= st.Compaction.Index {
			// Entries overlapping the compaction point: keep only those after it.
			skip := st.Compaction.Index + 1 - first
			if skip >= uint64(len(ents)) {
				return nil
			}
			ents, first = ents[skip:], ents[skip].Index
		}
		if len(st.Entries) > 0 {
			base := st.Entries[0].Index
			switch {
			case first < base:
				st.Entries = st.Entries[:0]
			case first <= st.Entries[len(st.Entries)-1].Index+1:
				st.Entries = st.Entries[:first-base]
			default:
				return fmt.Errorf("%w: group %d entries jump from %d to %d", ErrCorrupt, rec.group, st.Entries[len(st.Entries)-1].Index, first)
			}
		}
		st.Entries = append(st.Entries, ents...)
		if last := ents[len(ents)-1].Index; last > fi.maxIdx[rec.group] {
			fi.maxIdx[rec.group] = last
		}
	case recHardState:
		hs, err := decodeHardState(rec.payload)
		if err != nil {
			return err
		}
		state(states, rec.group).HardState = hs
	case recCompact:
		c, err := decodeCompact(rec.payload)
		if err != nil {
			return err
		}
		st := state(states, rec.group)
		if c.Index < st.Compaction.Index {
			return nil
		}
		st.Compaction = c
		for len(st.Entries) > 0 && st.Entries[0].Index <= c.Index {
			st.Entries = st.Entries[1:]
		}
	case recRemove:
		delete(states, rec.group)
	default:
		return fmt.Errorf("%w: unknown record type %d", ErrCorrupt, rec.typ)
	}
	return nil
}
