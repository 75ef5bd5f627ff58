package follow

import (
	"io"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/firedrill/firedrill/pkg/cmd/output"
	"github.com/firedrill/firedrill/pkg/log"
)

// Command is the part of the options of drill trigger and drill abort
// they share: how to reach the cluster, whether to follow the run, how to
// show it and where.
type Command struct {
	Cluster     Cluster
	Wait        bool
	Output      output.Format
	LogProgress bool
	Out, Err    io.Writer
	// Connect reaches the cluster; nil means follow.Connect.
	Connect func(Cluster) (client.Client, string, error)
	// Poll is how often the run is read; zero means DefaultPoll.
	Poll time.Duration
}

// AddCommandFlags adds the flags of Command: the cluster flags (AddFlags),
// --wait, whose help is waitHelp, and -o.
func AddCommandFlags(f *pflag.FlagSet, waitHelp string) {
	AddFlags(f)
	f.Bool("wait", true, waitHelp)
	output.AddFlag(f)
}

// CommandFromViper reads Command from the flags bound into v; the result
// goes to out, the progress to errOut.
func CommandFromViper(v *viper.Viper, out, errOut io.Writer) (Command, error) {
	format, err := output.Parse(v.GetString("output"))
	if err != nil {
		return Command{}, err
	}
	return Command{
		Cluster: FromViper(v), Wait: v.GetBool("wait"), Output: format,
		LogProgress: v.GetString("log-format") == string(log.FormatJSON), Out: out, Err: errOut,
	}, nil
}

// Dial reaches the cluster through Connect (or follow.Connect): a client
// and the namespace.
func (c *Command) Dial() (client.Client, string, error) {
	if c.Connect != nil {
		return c.Connect(c.Cluster)
	}
	return Connect(c.Cluster)
}

// Follow is the Options that follow run key through cl as c says.
func (c *Command) Follow(cl client.Reader, key types.NamespacedName) Options {
	return Options{Client: cl, Key: key, Out: c.Out, Err: c.Err, Output: c.Output, LogProgress: c.LogProgress, Poll: c.Poll}
}
