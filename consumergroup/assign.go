package consumergroup

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf16"

	"github.com/zkafka/zkafka/zkcoord"
)

// TopicPartition names one partition of a topic.
type TopicPartition = zkcoord.TopicPartition

// Assignment strategies (partition.assignment.strategy). Kafka treats any
// value other than "roundrobin" as range; Config.Validate is stricter.
const (
	StrategyRange      = "range"
	StrategyRoundRobin = "roundrobin"
)

// ThreadID is Kafka's consumer thread id text: "<consumerID>-<n>".
func ThreadID(consumerID string, n int32) string { return fmt.Sprintf("%s-%d", consumerID, n) }

// ConsumerOfThread strips the "-<n>" suffix of a thread id.
func ConsumerOfThread(threadID string) string {
	if i := strings.LastIndexByte(threadID, '-'); i > 0 {
		return threadID[:i]
	}
	return threadID
}

// AssignmentContext is what Kafka's AssignmentContext reads from ZooKeeper
// for one rebalance: my topics, the sorted thread ids per topic across the
// group, the sorted partitions of every topic any member consumes, and the
// sorted member ids.
type AssignmentContext struct {
	ConsumerID         string
	MyTopics           map[string]int32    // my subscription, wildcards resolved: topic → streams
	ConsumersForTopic  map[string][]string // topic → thread ids, sorted as strings
	PartitionsForTopic map[string][]int32  // topic → partitions, ascending
	Consumers          []string            // member ids, sorted
}

// NewAssignmentContext builds the context from the group's members (with
// their registrations), the topic list for resolving wildcard
// subscriptions, and the partitions of every topic that exists (a
// subscribed topic missing from it has no partitions). A member whose
// subscription cannot be resolved (bad regex) subscribes to nothing.
func NewAssignmentContext(consumerID string, members []zkcoord.ConsumerMember, allTopics []string, topicPartitions map[string][]int32, excludeInternal bool) AssignmentContext {
	ac := AssignmentContext{
		ConsumerID:         consumerID,
		MyTopics:           map[string]int32{},
		ConsumersForTopic:  map[string][]string{},
		PartitionsForTopic: map[string][]int32{},
	}
	for _, m := range members {
		ac.Consumers = append(ac.Consumers, m.ID)
		sub, _ := ResolveSubscription(m.Registration, allTopics, excludeInternal)
		for topic, streams := range sub {
			for i := int32(0); i < streams; i++ {
				ac.ConsumersForTopic[topic] = append(ac.ConsumersForTopic[topic], ThreadID(m.ID, i))
			}
		}
		if m.ID == consumerID {
			ac.MyTopics = sub
		}
	}
	sort.Strings(ac.Consumers)
	for topic, threads := range ac.ConsumersForTopic {
		sort.Strings(threads)
		ps := slices.Clone(topicPartitions[topic])
		slices.Sort(ps)
		ac.PartitionsForTopic[topic] = ps
	}
	return ac
}

// InternalTopic is the only internal topic Kafka 2.4 has.
const InternalTopic = "__consumer_offsets"

// WhitelistRegexp compiles a white/black list as Kafka's TopicFilter does
// (commas become '|', spaces and surrounding quotes are dropped) and, as
// Java's Matcher.matches(), anchors it to the whole topic name.
func WhitelistRegexp(expr string) (*regexp.Regexp, error) {
	e := strings.TrimSpace(expr)
	e = strings.ReplaceAll(e, ",", "|")
	e = strings.ReplaceAll(e, " ", "")
	e = strings.TrimLeft(e, `"'`)
	e = strings.TrimRight(e, `"'`)
	re, err := regexp.Compile("^(?:" + e + ")$")
	if err != nil {
		return nil, fmt.Errorf("invalid topic regex %q: %w", expr, err)
	}
	return re, nil
}

// ResolveSubscription turns a registration into topic → streams: static
// subscriptions as they are, white_list/black_list ones by matching every
// topic in allTopics against the regex (internal topics excluded when
// excludeInternal), as Kafka's WildcardTopicCount does.
func ResolveSubscription(reg zkcoord.ConsumerRegistration, allTopics []string, excludeInternal bool) (map[string]int32, error) {
	out := map[string]int32{}
	switch reg.Pattern {
	case zkcoord.ConsumerPatternWhiteList, zkcoord.ConsumerPatternBlackList:
		for expr, streams := range reg.Subscription {
			re, err := WhitelistRegexp(expr)
			if err != nil {
				return out, err
			}
			white := reg.Pattern == zkcoord.ConsumerPatternWhiteList
			for _, t := range allTopics {
				if excludeInternal && t == InternalTopic {
					continue
				}
				if re.MatchString(t) == white {
					out[t] = streams
				}
			}
		}
	default:
		for t, streams := range reg.Subscription {
			out[t] = streams
		}
	}
	return out, nil
}

// Assign runs the named strategy ("roundrobin", anything else = range, as
// in Kafka) and returns the whole group's decision: partition → thread id.
// Range covers only the topics in ctx.MyTopics (as Kafka's RangeAssignor);
// round-robin covers every topic of the group.
func Assign(strategy string, ctx AssignmentContext) map[TopicPartition]string {
	if strategy == StrategyRoundRobin {
		return AssignRoundRobin(ctx)
	}
	return AssignRange(ctx)
}

// AssignRange is Kafka's RangeAssignor: per topic, partitions ascending and
// threads sorted as strings; thread i gets n = P/T partitions starting at
// n*i + min(i, P%T), plus one if i < P%T.
func AssignRange(ctx AssignmentContext) map[TopicPartition]string {
	out := map[TopicPartition]string{}
	for topic := range ctx.MyTopics {
		threads := ctx.ConsumersForTopic[topic]
		parts := ctx.PartitionsForTopic[topic]
		if len(threads) == 0 {
			continue
		}
		per, extra := len(parts)/len(threads), len(parts)%len(threads)
		for i, th := range threads {
			start := per*i + min(i, extra)
			n := per
			if i < extra {
				n++
			}
			for _, p := range parts[start : start+n] {
				out[TopicPartition{Topic: topic, Partition: p}] = th
			}
		}
	}
	return out
}

// AssignRoundRobin is Kafka 0.10's RoundRobinAssignor: all thread ids of
// the group de-duplicated and sorted; all topic-partitions ordered by the
// Java hashCode of "[topic,partition]" (stable); each partition goes to the
// next thread in circular order that subscribes to its topic.
func AssignRoundRobin(ctx AssignmentContext) map[TopicPartition]string {
	out := map[TopicPartition]string{}
	seen := map[string]bool{}
	var threads []string
	subscribed := map[string]map[string]bool{}
	for topic, ths := range ctx.ConsumersForTopic {
		subscribed[topic] = map[string]bool{}
		for _, th := range ths {
			subscribed[topic][th] = true
			if !seen[th] {
				seen[th] = true
				threads = append(threads, th)
			}
		}
	}
	if len(threads) == 0 {
		return out
	}
	sort.Strings(threads)
	tps := RoundRobinOrder(ctx.PartitionsForTopic)
	next := 0
	for _, tp := range tps {
		subs := subscribed[tp.Topic]
		if len(subs) == 0 {
			continue
		}
		for !subs[threads[next%len(threads)]] {
			next++
		}
		out[tp] = threads[next%len(threads)]
		next++
	}
	return out
}

// RoundRobinOrder lists every topic-partition sorted by the Java
// String.hashCode of "[topic,partition]" (signed compare, stable over the
// topic/partition order for equal hashes).
func RoundRobinOrder(partitions map[string][]int32) []TopicPartition {
	var tps []TopicPartition
	for topic, ps := range partitions {
		for _, p := range ps {
			tps = append(tps, TopicPartition{Topic: topic, Partition: p})
		}
	}
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].Topic != tps[j].Topic {
			return tps[i].Topic < tps[j].Topic
		}
		return tps[i].Partition < tps[j].Partition
	})
	hash := make(map[TopicPartition]int32, len(tps))
	for _, tp := range tps {
		hash[tp] = JavaStringHash(kafkaTPString(tp))
	}
	sort.SliceStable(tps, func(i, j int) bool { return hash[tps[i]] < hash[tps[j]] })
	return tps
}

// kafkaTPString is Kafka's TopicAndPartition.toString: "[topic,partition]".
func kafkaTPString(tp TopicPartition) string { return fmt.Sprintf("[%s,%d]", tp.Topic, tp.Partition) }

// JavaStringHash is java.lang.String.hashCode: s[0]*31^(n-1) + ... over
// UTF-16 code units, in 32-bit two's complement.
func JavaStringHash(s string) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(s)) {
		h = 31*h + int32(u)
	}
	return h
}

// Mine filters a group-wide assignment to one consumer's partitions.
func Mine(assignment map[TopicPartition]string, consumerID string) map[TopicPartition]string {
	out := map[TopicPartition]string{}
	for tp, th := range assignment {
		if ConsumerOfThread(th) == consumerID {
			out[tp] = th
		}
	}
	return out
}
