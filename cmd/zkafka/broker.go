package main

import (
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/zkafka/zkafka/broker"
)

func brokerCommand() *cli.Command {
	return &cli.Command{
		Name:      "broker",
		Usage:     "run a broker (like kafka-server-start.sh)",
		ArgsUsage: "CONFIG",
		Description: "Runs a broker configured by CONFIG, a Kafka server.properties file\n" +
			"(see config/server.properties). Stops cleanly on SIGINT or SIGTERM.\n\n" +
			"Example: zkafka broker config/server.properties --override broker.id=1",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "override", Usage: "`key=value` overriding the file's setting (repeatable)"},
			&cli.StringFlag{Name: "log-level", Value: "info", EnvVars: []string{"ZKAFKA_LOG_LEVEL"}, Usage: "`LEVEL` of the broker's log: error, warn, info, debug or trace"},
		},
		Action: runBroker,
	}
}

func runBroker(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageErrorf(c, "zkafka broker needs exactly one argument, the config file, e.g. zkafka broker config/server.properties")
	}
	cfg, err := broker.ParseProperties(c.Args().First(), c.StringSlice("override"))
	if err != nil {
		return cli.Exit(err.Error(), exitUsage)
	}
	level, err := logrus.ParseLevel(c.String("log-level"))
	if err != nil {
		return usageErrorf(c, "--log-level %q: use error, warn, info, debug or trace", c.String("log-level"))
	}
	log := newLogger(c.App.ErrWriter)
	log.SetLevel(level)
	for _, k := range cfg.Unknown {
		log.Warnf("The configuration '%s' was supplied but isn't a known config; ignoring it.", k)
	}
	if err := broker.Run(c.Context, cfg, log); err != nil {
		return failf("%s", brokerErrorMessage(err))
	}
	return nil
}

func newLogger(w io.Writer) *logrus.Logger {
	log := logrus.New()
	log.SetOutput(w)
	log.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, TimestampFormat: "2006-01-02 15:04:05.000"})
	return log
}

// brokerErrorMessage turns the errors users meet when starting a broker into
// one line that says what to do.
func brokerErrorMessage(err error) string {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Sprintf("broker stopped: %v: another process already listens on that port; find it with `ss -ltnp` (or `lsof -i :PORT`) and stop it, or change listeners", err)
	}
	return fmt.Sprintf("broker stopped: %v", err)
}
