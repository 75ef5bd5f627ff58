package follow_test

import (
	"bytes"
	"testing"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/firedrill/firedrill/pkg/cmd/follow"
	"github.com/firedrill/firedrill/pkg/cmd/output"
)

// TestCommandFromFlags: the flags AddCommandFlags adds, read back by
// CommandFromViper, as drill trigger and drill abort read them.
func TestCommandFromFlags(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		logFormat string
		want      follow.Command
		wantErr   string
	}{
		{name: "the defaults follow the run and print text", want: follow.Command{Wait: true, Output: output.Text}},
		{name: "every flag", args: []string{"--kubeconfig", "kc", "--context", "prod", "-n", "recsys", "--wait=false", "-o", "json"},
			want: follow.Command{Cluster: follow.Cluster{Kubeconfig: "kc", Context: "prod", Namespace: "recsys"}, Output: output.JSON}},
		{name: "--log-format json logs the progress", logFormat: "json", want: follow.Command{Wait: true, Output: output.Text, LogProgress: true}},
		{name: "an output that is not one", args: []string{"-o", "xml"}, wantErr: "xml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := pflag.NewFlagSet("drill", pflag.ContinueOnError)
			follow.AddCommandFlags(f, "follow the run")
			require.Equal(t, "follow the run", f.Lookup("wait").Usage)
			require.NoError(t, f.Parse(tt.args))
			v := viper.New()
			require.NoError(t, v.BindPFlags(f))
			v.Set("log-format", tt.logFormat)
			var out, errOut bytes.Buffer
			got, err := follow.CommandFromViper(v, &out, &errOut)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Same(t, &out, got.Out)
			require.Same(t, &errOut, got.Err)
			got.Out, got.Err = nil, nil
			require.Equal(t, tt.want, got)
		})
	}
}

// TestCommandDialAndFollow: Dial goes through Connect when one is given,
// and Follow carries the command's output settings.
func TestCommandDialAndFollow(t *testing.T) {
	c := fake.NewClientBuilder().Build()
	var asked follow.Cluster
	var out, errOut bytes.Buffer
	cmd := follow.Command{Cluster: follow.Cluster{Namespace: "recsys"}, Output: output.JSON, LogProgress: true, Out: &out, Err: &errOut, Poll: 7,
		Connect: func(cl follow.Cluster) (client.Client, string, error) { asked = cl; return c, "recsys", nil }}
	got, ns, err := cmd.Dial()
	require.NoError(t, err)
	require.Equal(t, "recsys", ns)
	require.Equal(t, c, got)
	require.Equal(t, follow.Cluster{Namespace: "recsys"}, asked)

	key := types.NamespacedName{Namespace: "recsys", Name: "nightly-x7k2p"}
	require.Equal(t, follow.Options{Client: c, Key: key, Out: &out, Err: &errOut, Output: output.JSON, LogProgress: true, Poll: 7}, cmd.Follow(c, key))
}
