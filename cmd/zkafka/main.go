// Command zkafka runs a zkafka broker and the Kafka-style tools that go with
// it: topics, console-producer, console-consumer, consumer-groups. Flags mirror Kafka 2.4's
// kafka-*.sh scripts; each subcommand lives in its own file and only turns
// flags into a Config before calling into a package.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/segmentio/kafka-go"
	"github.com/urfave/cli/v2"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // the command ran and failed
	exitUsage  = 2 // the command line is wrong: bad or missing flags, unknown command
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one zkafka command line and returns its exit code; it never
// calls os.Exit, so tests run it in-process.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := newApp(stdin, stdout, stderr)
	app.Metadata = map[string]any{"args": args[1:]} // for messages quoting the command line
	err := app.RunContext(ctx, permuteArgs(app, args))
	return reportError(err, stderr)
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:  "zkafka",
		Usage: "a Kafka-compatible broker coordinated by ZooKeeper, and its tools",
		Commands: []*cli.Command{
			brokerCommand(),
			topicsCommand(),
			consoleProducerCommand(),
			consoleConsumerCommand(),
			dumpLogCommand(),
			consumerGroupsCommand(),
			configsCommand(),
			leaderElectionCommand(),
			preferredReplicaElectionCommand(),
			reassignPartitionsCommand(),
			perfCommand(),
		},
		Reader:                    stdin,
		Writer:                    stdout,
		ErrWriter:                 stderr,
		Suggest:                   true,
		DisableSliceFlagSeparator: true, // --config a=b,c and --property key.separator=, stay whole
		HideVersion:               true,
		ExitErrHandler:            func(*cli.Context, error) {}, // run maps errors to exit codes
		OnUsageError:              onUsageError,
		Action:                    unknownCommand,
	}
	for _, c := range app.Commands {
		c.OnUsageError = onUsageError
	}
	return app
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// usageError is a wrong command line: exit code 2, one line, and a hint.
type usageError struct {
	msg  string
	hint string
}

func (e *usageError) Error() string { return e.msg }

// usageErrorf builds a usageError whose hint points at the command's help.
func usageErrorf(c *cli.Context, format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...), hint: helpHint(c)}
}

func helpHint(c *cli.Context) string {
	name := "zkafka"
	if c != nil {
		var path []string
		for _, ctx := range c.Lineage() {
			if ctx.Command != nil && ctx.Command.Name != "" && ctx.Command.Name != c.App.Name {
				path = append([]string{ctx.Command.Name}, path...)
			}
		}
		if len(path) > 0 {
			name += " " + strings.Join(path, " ")
		}
	}
	return fmt.Sprintf("Run '%s --help' for usage.", name)
}

// failure is a command that ran and failed: its message is printed as is.
type failure struct{ msg string }

func (e *failure) Error() string { return e.msg }

func failf(format string, args ...any) error { return &failure{msg: fmt.Sprintf(format, args...)} }

// onUsageError replaces urfave's "Incorrect Usage" + full help with its
// first line, a "did you mean" suggestion and a one-line hint.
func onUsageError(c *cli.Context, err error, _ bool) error {
	msg := "Incorrect Usage: " + err.Error()
	if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: "); ok && cli.SuggestFlag != nil {
		flags := c.App.Flags
		if c.Command != nil && c.Command.Name != "" {
			flags = c.Command.Flags
		}
		if s := cli.SuggestFlag(flags, strings.TrimLeft(name, "-"), false); s != "" {
			msg += "\n" + fmt.Sprintf(cli.SuggestDidYouMeanTemplate, s)
		}
	}
	return &usageError{msg: msg, hint: helpHint(c)}
}

// unknownCommand is the root action: without arguments it shows help, with
// one it says the command does not exist and suggests the closest.
func unknownCommand(c *cli.Context) error {
	if !c.Args().Present() {
		_ = cli.ShowAppHelp(c)
		return cli.Exit("", exitUsage)
	}
	name := c.Args().First()
	msg := fmt.Sprintf("zkafka: '%s' is not a zkafka command.", name)
	if cli.SuggestCommand != nil {
		msg += " " + cli.SuggestCommand(c.App.Commands, name)
	}
	return &usageError{msg: msg, hint: "Run 'zkafka --help' for the list of commands."}
}

// reportError prints err (if any) to stderr and returns the exit code.
func reportError(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	var ue *usageError
	var ec cli.ExitCoder
	switch {
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, ue.msg)
		if ue.hint != "" {
			fmt.Fprintln(stderr, ue.hint)
		}
		return exitUsage
	case errors.As(err, &ec):
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(stderr, msg)
		}
		return ec.ExitCode()
	default:
		fmt.Fprintln(stderr, err)
		return exitFailed
	}
}

// permuteArgs moves a subcommand's positional arguments after its flags, so
// that "zkafka broker server.properties --override k=v" parses like
// kafka-server-start.sh (Go's flag package stops at the first positional).
func permuteArgs(app *cli.App, args []string) []string {
	if len(args) < 3 {
		return args
	}
	// The command, and its subcommand for commands that have some (perf
	// produce): flags are permuted after the deepest one named.
	cmd, depth := findCommand(app.Commands, args[1]), 2
	for cmd != nil && len(cmd.Subcommands) > 0 && depth < len(args) {
		sub := findCommand(cmd.Subcommands, args[depth])
		if sub == nil {
			break
		}
		cmd, depth = sub, depth+1
	}
	if cmd == nil {
		return args
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		if _, isBool := f.(*cli.BoolFlag); isBool {
			continue
		}
		for _, n := range f.Names() {
			takesValue[n] = true
		}
	}
	var flags, positional []string
	rest := args[depth:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		switch {
		case a == "--":
			positional = append(positional, rest[i+1:]...)
			i = len(rest)
		case strings.HasPrefix(a, "-") && a != "-":
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") && takesValue[name] && i+1 < len(rest) {
				i++
				flags = append(flags, rest[i])
			}
		default:
			positional = append(positional, a)
		}
	}
	out := append(slices.Clone(args[:depth]), flags...)
	if len(positional) > 0 {
		out = append(append(out, "--"), positional...)
	}
	return out
}

// brokerReachError turns "cannot connect" errors into one line that says
// what to do; other errors pass through.
func brokerReachError(err error, bootstrap string) error {
	var dnsErr *net.DNSError
	var netErr net.Error
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, kafka.BrokerNotAvailable) || errors.Is(err, syscall.EHOSTUNREACH) || errors.As(err, &dnsErr) ||
		(errors.As(err, &netErr) && netErr.Timeout()) {
		return fmt.Errorf("cannot reach broker at %s: is `zkafka broker` running? (start one with `make run`)", bootstrap)
	}
	return err
}
