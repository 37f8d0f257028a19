package group

// Kafka error codes the coordinator answers with. The package speaks Kafka's numeric codes
// so that the protocol layer can put them into responses as they are (internal/kafka
// checks them against kerr).
const (
	ErrNone                      int16 = 0
	ErrUnknownServerError        int16 = -1
	ErrUnknownTopicOrPartition   int16 = 3
	ErrRequestTimedOut           int16 = 7
	ErrOffsetMetadataTooLarge    int16 = 12
	ErrCoordinatorLoadInProgress int16 = 14
	ErrCoordinatorNotAvailable   int16 = 15
	ErrNotCoordinator            int16 = 16
	ErrIllegalGeneration         int16 = 22
	ErrInconsistentGroupProtocol int16 = 23
	ErrInvalidGroupID            int16 = 24
	ErrUnknownMemberID           int16 = 25
	ErrInvalidSessionTimeout     int16 = 26
	ErrRebalanceInProgress       int16 = 27
	ErrInvalidCommitOffsetSize   int16 = 28
	ErrNonEmptyGroup             int16 = 68
	ErrGroupIDNotFound           int16 = 69
	ErrMemberIDRequired          int16 = 79
	ErrGroupMaxSizeReached       int16 = 81
	ErrFencedInstanceID          int16 = 82
	ErrGroupSubscribedToTopic    int16 = 86
	ErrUnsupportedVersion        int16 = 35
	ErrInvalidRequest            int16 = 42
	ErrFencedMemberEpoch         int16 = 110
	ErrUnreleasedInstanceID      int16 = 111
	ErrStaleMemberEpoch          int16 = 113
)
