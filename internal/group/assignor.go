package group

import "sort"

// Server-side assignors of consumer groups (KIP-848). Both are deterministic: members are
// given in member id order.

// assignUniform spreads the partitions of the subscribed topics evenly over the members
// subscribed to them, keeping partitions where they were (prev, the previous target) as
// long as that keeps the spread even: every partition still valid stays with its previous
// member, unassigned partitions go to the eligible member with the fewest partitions,
// then partitions move from a member to an eligible one with at least two fewer until no
// such move is left. With identical subscriptions the counts differ by at most one.
func assignUniform(members []string, subs map[string][]string, parts map[string]int32, prev map[string]tpset) map[string]tpset {
	out := make(map[string]tpset, len(members))
	count := map[string]int{}
	subscribed := map[string]map[string]bool{}
	eligible := map[string][]string{} // topic -> members, in id order
	for _, m := range members {
		out[m] = tpset{}
		subscribed[m] = map[string]bool{}
		for _, t := range subs[m] {
			if !subscribed[m][t] {
				subscribed[m][t] = true
				eligible[t] = append(eligible[t], m)
			}
		}
	}
	topics := make([]string, 0, len(eligible))
	for t := range eligible {
		if parts[t] > 0 {
			topics = append(topics, t)
		}
	}
	sort.Strings(topics)
	var all []TopicPartition
	for _, t := range topics {
		for p := int32(0); p < parts[t]; p++ {
			all = append(all, TopicPartition{Topic: t, Partition: p})
		}
	}
	owner := map[TopicPartition]string{}
	assign := func(tp TopicPartition, m string) {
		if o, ok := owner[tp]; ok {
			delete(out[o], tp)
			count[o]--
		}
		owner[tp] = m
		out[m][tp] = struct{}{}
		count[m]++
	}
	for _, m := range members {
		var keep []TopicPartition
		for tp := range prev[m] {
			if subscribed[m][tp.Topic] && tp.Partition >= 0 && tp.Partition < parts[tp.Topic] {
				keep = append(keep, tp)
			}
		}
		sortTPs(keep)
		for _, tp := range keep {
			if _, taken := owner[tp]; !taken {
				assign(tp, m)
			}
		}
	}
	for _, tp := range all {
		if _, ok := owner[tp]; ok {
			continue
		}
		best := ""
		for _, m := range eligible[tp.Topic] {
			if best == "" || count[m] < count[best] {
				best = m
			}
		}
		if best != "" {
			assign(tp, best)
		}
	}
	// Balance. Every move lowers the sum of squared counts, so this ends.
	for moved := true; moved; {
		moved = false
		for i := len(all) - 1; i >= 0; i-- {
			tp := all[i]
			o := owner[tp]
			best := ""
			for _, m := range eligible[tp.Topic] {
				if count[m] <= count[o]-2 && (best == "" || count[m] < count[best]) {
					best = m
				}
			}
			if best != "" {
				assign(tp, best)
				moved = true
			}
		}
	}
	return out
}

// assignRange is the range assignor: for each topic, its members (in id order) get
// consecutive ranges of partitions, the first ones one partition more when it does not
// divide evenly.
func assignRange(members []string, subs map[string][]string, parts map[string]int32) map[string]tpset {
	out := make(map[string]tpset, len(members))
	byTopic := map[string][]string{}
	for _, m := range members {
		out[m] = tpset{}
		seen := map[string]bool{}
		for _, t := range subs[m] {
			if !seen[t] {
				seen[t] = true
				byTopic[t] = append(byTopic[t], m)
			}
		}
	}
	for t, ms := range byTopic {
		n := int(parts[t])
		if n <= 0 {
			continue
		}
		per, extra := n/len(ms), n%len(ms)
		p := 0
		for i, m := range ms {
			k := per
			if i < extra {
				k++
			}
			for j := 0; j < k; j++ {
				out[m][TopicPartition{Topic: t, Partition: int32(p)}] = struct{}{}
				p++
			}
		}
	}
	return out
}
