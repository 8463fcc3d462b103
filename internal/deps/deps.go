// Package deps pins the project's dependencies while the packages that use
// them are being written. Remove once every dependency is imported for real.
package deps

import (
	_ "github.com/go-zookeeper/zk"
	_ "github.com/klauspost/compress/zstd"
	_ "github.com/pierrec/lz4/v4"
	_ "github.com/segmentio/kafka-go"
	_ "github.com/sirupsen/logrus"
	_ "github.com/twmb/franz-go/pkg/kgo"
	_ "github.com/twmb/franz-go/pkg/kmsg"
	_ "github.com/urfave/cli/v2"
	_ "golang.org/x/sys/unix"
)
