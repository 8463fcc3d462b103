# zkafka. Targets run as root on Debian; Go is expected on PATH or at /usr/local/go.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin

.PHONY: build run stop test clean

build:
	go build -o bin/zkafka ./cmd/zkafka

# ZooKeeper on 127.0.0.1:2181 (if none is there) + brokers 1-3 on 127.0.0.1:9092-9094.
run:
	scripts/run.sh

stop:
	scripts/stop.sh

test:
	scripts/test.sh

# Removes the binary and ./data (topics, logs); stop first.
clean:
	rm -rf bin data
