// Command eddy is the operator's tool for eddy applications:
//
//	eddy status <url>                 the status endpoint of a running instance, as tables
//	eddy lag    -brokers … -app <id>  the consumer lag of an application's group, per partition
//	eddy topics -brokers … -app <id>  an application's internal topics, their configs and sizes
//	eddy reset  -brokers … -app <id>  start an application over: input offsets, internal topics, local state
//	eddy store  list|dump -state-dir … -app <id>  a stopped instance's local state, read only
//	eddy sql    [-brokers …] [-f file | -e statements]  the SQL shell (the embedded broker without -brokers)
//
// Each command takes -help. Exit codes: 0 done, 1 it failed (the message says why and what
// to do), 2 the command line was wrong.
//
// Install it with go install github.com/eddy-streams/eddy/cmd/eddy@latest.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// errUsage marks a wrong command line: exit code 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// command is one subcommand.
type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"status", "show the status endpoint of a running instance as tables", cmdStatus},
	{"lag", "show the consumer lag of an application's group, per input partition", cmdLag},
	{"topics", "list an application's internal topics with their configs and sizes", cmdTopics},
	{"reset", "reset an application: its input offsets, its internal topics, its local state", cmdReset},
	{"store", "read a stopped instance's local state: list its stores, dump one's keys and values", cmdStore},
	{"savepoint", "take a savepoint of an application, running or stopped; list, verify and dump savepoints", cmdSavepoint},
	{"sql", "a Flink SQL shell: tables over topics, continuous queries, INSERT INTO jobs", cmdSQL},
}

// run runs the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			fmt.Fprintf(stderr, "eddy %s: %v\n", c.name, err)
			return 2
		default:
			fmt.Fprintf(stderr, "eddy %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "eddy: no command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "eddy: the operator's tool for eddy applications\n\nUsage: eddy <command> [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun eddy <command> -help for a command's flags.")
}

// newFlags is a subcommand's flag set, which writes its usage to stderr.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("eddy "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: eddy %s %s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, turning a flag error into a usage error.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}

// clusterFlags are the flags of the commands that talk to the brokers.
type clusterFlags struct {
	brokers string
	app     string
	timeout time.Duration

	tls                    bool
	tlsCA                  string
	saslMechanism          string
	saslUser, saslPassword string
}

func (c *clusterFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&c.brokers, "brokers", os.Getenv("KAFKA_BOOTSTRAP"), "the brokers, comma-separated (default $KAFKA_BOOTSTRAP)")
	fs.StringVar(&c.app, "app", "", "the application id (its consumer group, and its internal topics' prefix)")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "how long to wait for the brokers")
	c.addSecurity(fs)
}

// addSecurity adds the TLS and SASL flags.
func (c *clusterFlags) addSecurity(fs *flag.FlagSet) {
	fs.BoolVar(&c.tls, "tls", false, "connect over TLS (the system's roots; -tls-ca for another CA)")
	fs.StringVar(&c.tlsCA, "tls-ca", "", "a PEM file of the CA that signed the brokers' certificates (implies -tls)")
	fs.StringVar(&c.saslMechanism, "sasl-mechanism", "", "authenticate with SASL: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	fs.StringVar(&c.saslUser, "sasl-user", "", "the SASL user")
	fs.StringVar(&c.saslPassword, "sasl-password", os.Getenv("EDDY_SASL_PASSWORD"), "the SASL password (default $EDDY_SASL_PASSWORD, which keeps it off the command line)")
}

func (c *clusterFlags) check() error {
	if strings.TrimSpace(c.brokers) == "" {
		return fmt.Errorf("%w: no brokers: give -brokers host:port (or set KAFKA_BOOTSTRAP)", errUsage)
	}
	if c.app == "" {
		return fmt.Errorf("%w: no application: give -app <application id>", errUsage)
	}
	return c.checkSecurity()
}

// checkSecurity checks the SASL flags.
func (c *clusterFlags) checkSecurity() error {
	switch c.saslMechanism {
	case "":
		if c.saslUser != "" {
			return fmt.Errorf("%w: -sasl-user without -sasl-mechanism: give PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", errUsage)
		}
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if c.saslUser == "" || c.saslPassword == "" {
			return fmt.Errorf("%w: -sasl-mechanism %s needs -sasl-user and a password (-sasl-password or $EDDY_SASL_PASSWORD)", errUsage, c.saslMechanism)
		}
	default:
		return fmt.Errorf("%w: -sasl-mechanism %q: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", errUsage, c.saslMechanism)
	}
	return nil
}

func (c *clusterFlags) seeds() []string {
	var out []string
	for _, b := range strings.Split(c.brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}
