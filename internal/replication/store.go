package replication

import (
	"encoding/binary"
	"sync"

	"go.etcd.io/raft/v3/raftpb"
)

// EntryStore is a StateMachine that keeps the bulk of its entries' payloads in its own
// files instead of the node WAL (the single-write data path): each replica writes an
// entry's payload to its store when raft appends the entry, before it is committed, and
// the WAL records only a small descriptor of it. One group commit then syncs the WAL and
// every touched store in parallel.
//
// The host calls every method from the group's worker only, in raft log order, except Load
// (called once by AddGroup, before the group runs) and Sync, which the worker's syncer
// calls while the worker may be storing later entries.
type EntryStore interface {
	StateMachine
	// Prepare runs on the leader just before local proposal id (see ProposalID) is appended
	// to the raft log: it checks the payload against the state as appended so far and
	// returns the payload to append (payload itself or a replacement), or done=true with a
	// reply for the proposer when nothing is to be appended. When raft then refuses the
	// proposal, the host calls Unprepare.
	Prepare(id uint64, payload []byte) (out []byte, reply any, done bool)
	// Unprepare undoes the last Prepare, whose proposal raft refused.
	Unprepare()
	// Store writes the payloads of entries raft is appending, before the leader sends them
	// to its followers: the entries of the leader's own prepared proposals may be finalised
	// in place (their Data rewritten, same length), e.g. to give them offsets that depend on
	// their position in the log. ents are consecutive; when the first index is not past
	// the last stored one, the stored entries from that index on are replaced (raft's log
	// truncation). It returns the entries as the WAL is to record them: the same, or copies
	// whose Data is a descriptor that Load understands. The writes need not be durable
	// before Sync.
	Store(ents []raftpb.Entry) ([]raftpb.Entry, error)
	// Sync makes everything stored before the call durable. It may run concurrently with
	// Store and Apply.
	Sync() error
	// StoredResult is the result for the proposer of an entry Store wrote, once it is
	// durable here but not yet committed (for SubmitLocal); ok=false when there is none
	// before the entry applies.
	StoredResult(e raftpb.Entry) (result any, ok bool)
	// Load restores, in place, the payloads of the entries the WAL recorded past the state
	// machine's Applied index (their Data as Store returned it), and drops what it stored
	// past them. It returns how many leading entries it could restore: an entry whose
	// payload did not reach the disk before a crash, and every entry after it, are lost
	// locally (raft fetches them again from the leader).
	Load(ents []raftpb.Entry) (int, error)
}

// syncStores makes the stores touched by the rounds of a sync durable in parallel with
// the WAL commit (commit), and returns the first error.
func syncStores(stores []EntryStore, commit func() error) error {
	if len(stores) == 0 {
		return commit()
	}
	errs := make([]error, len(stores))
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Sync()
		}()
	}
	err := commit()
	wg.Wait()
	if err != nil {
		return err
	}
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// ProposalID is the id of the local proposal an entry's Data carries (0 when it has
// none): the first HeaderRoom bytes.
func ProposalID(data []byte) uint64 {
	if len(data) < HeaderRoom {
		return 0
	}
	return binary.BigEndian.Uint64(data)
}
