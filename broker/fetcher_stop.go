package broker

// stopAll ends all follower fetching for good: a broker whose controlled
// shutdown succeeded must not catch up and be put back into the ISRs it
// was just removed from (2.4 has that race until the fetchers stop; later
// Kafka versions keep shutting-down brokers out of ISRs).
func (m *fetcherManager) stopAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stopped = true
	for id, f := range m.fetchers {
		f.cancel()
		delete(m.fetchers, id)
	}
}
