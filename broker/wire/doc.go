// Package wire frames the Kafka protocol on top of franz-go's kmsg codecs.
//
// kmsg encodes and decodes message bodies only; this package owns what is
// around them: the 4-byte size prefix, request headers (v1, and v2 with a tag
// section for flexible versions), response headers (v0, and v1 with a tag
// section for flexible versions except ApiVersions, which always answers with
// header v0), and a small blocking client used for broker-to-broker traffic
// (controller requests, replica fetches) and tests.
//
// Nothing here panics on input: every malformed frame yields an error.
package wire
