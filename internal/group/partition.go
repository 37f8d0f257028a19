package group

import "unicode/utf16"

// DefaultPartitions is Kafka's offsets.topic.num.partitions default.
const DefaultPartitions = 50

// TopicName is the internal topic holding group metadata and committed offsets.
const TopicName = "__consumer_offsets"

// PartitionFor is the __consumer_offsets partition of a group: Kafka's rule
// abs(groupID.hashCode()) % partitions, with Java's String.hashCode over UTF-16 code units
// and Kafka's Utils.abs (which maps math.MinInt32 to 0). partitions must be positive.
func PartitionFor(groupID string, partitions int32) int32 {
	h := javaStringHashCode(groupID)
	if h == -1<<31 {
		h = 0
	} else if h < 0 {
		h = -h
	}
	return h % partitions
}

// javaStringHashCode is java.lang.String.hashCode: s[0]*31^(n-1) + ... + s[n-1] over the
// UTF-16 code units of s, in int32 arithmetic. Invalid UTF-8 bytes count as U+FFFD, as
// Java decodes them.
func javaStringHashCode(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			h = 31*h + r1
			h = 31*h + r2
			continue
		}
		h = 31*h + r
	}
	return h
}
