package action

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestSecretNeverPrints(t *testing.T) {
	s := NewSecret("hunter2")
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("call", "token", s)
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(map[string]any{"token": s})
	raw := buf.String()
	require.NoError(t, err)
	for _, out := range []string{
		fmt.Sprint(s), fmt.Sprintf("%s %v %+v %#v %q %x", s, s, s, s, s, s), raw, logged.String(),
		fmt.Sprintf("%+v", struct{ Token Secret }{s}),
	} {
		require.NotContains(t, out, "hunter2")
		require.Contains(t, out, "redacted")
	}
	require.Equal(t, "hunter2", s.Reveal())
}

func TestCommand(t *testing.T) {
	tests := []struct {
		name       string
		action     v1alpha1.Action
		vars       map[string]string
		wantErr    string
		wantOutput string
		maxTime    time.Duration
	}{
		{name: "a command's output and environment are kept", action: v1alpha1.Action{
			Command: []string{"sh", "-c", `echo "step=$FIREDRILL_STEP greeting=$GREETING"`},
			Env:     []v1alpha1.EnvVar{{Name: "GREETING", Value: "hello"}},
		}, wantOutput: "step=kill greeting=hello\n"},
		{name: "a secret from the environment is redacted in output", action: v1alpha1.Action{
			Command: []string{"sh", "-c", `echo "token is $TOKEN"`},
			Env:     []v1alpha1.EnvVar{{Name: "TOKEN", FromEnv: "MY_TOKEN"}},
		}, vars: map[string]string{"MY_TOKEN": "s3cr3t"}, wantOutput: "token is <redacted>\n"},
		{name: "a missing environment variable is an error before running", action: v1alpha1.Action{
			Command: []string{"true"}, Env: []v1alpha1.EnvVar{{Name: "TOKEN", FromEnv: "NOT_SET"}},
		}, wantErr: "TOKEN: environment variable NOT_SET is not set"},
		{name: "a failing command is an error with its last line", action: v1alpha1.Action{
			Command: []string{"sh", "-c", "echo first; echo 'dns switch refused' >&2; exit 3"},
		}, wantErr: "failed (exit code 3): exit status 3: dns switch refused"},
		{name: "a command that hangs is killed with its children at the timeout", action: v1alpha1.Action{
			Command: []string{"sh", "-c", "sleep 30 & sleep 30; wait"}, Timeout: &metav1.Duration{Duration: 300 * time.Millisecond},
		}, wantErr: "timed out after 300ms", maxTime: 3 * time.Second},
		{name: "a program that does not exist is an error", action: v1alpha1.Action{
			Command: []string{"/nonexistent/runbook"},
		}, wantErr: "no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Runner{LookupEnv: env(tt.vars)}
			start := time.Now()
			res, err := r.Run(context.Background(), &tt.action, map[string]string{"FIREDRILL_STEP": "kill"})
			if tt.maxTime > 0 {
				require.Less(t, time.Since(start), tt.maxTime)
			}
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantOutput, res.Output)
			require.Equal(t, 0, res.ExitCode)
			require.False(t, res.Finished.Before(res.Started))
		})
	}
}

func TestWebhook(t *testing.T) {
	var gotAuth, gotBody, gotMethod string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotMethod = r.Header.Get("Authorization"), r.Method
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		if strings.Contains(gotBody, "fail") {
			http.Error(w, "flag service says no to Bearer tok3n", http.StatusConflict)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	r := &Runner{LookupEnv: env(map[string]string{"FLAGS_TOKEN": "Bearer tok3n"})}
	hook := func(body string) *v1alpha1.Action {
		return &v1alpha1.Action{Webhook: &v1alpha1.Webhook{URL: srv.URL + "/flags/x", Method: "PUT", Body: body,
			Headers: []v1alpha1.EnvVar{{Name: "Authorization", FromEnv: "FLAGS_TOKEN"}}}}
	}

	res, err := r.Run(context.Background(), hook(`{"enabled":false}`), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status)
	require.Equal(t, "Bearer tok3n", gotAuth)
	require.Equal(t, "PUT", gotMethod)
	require.JSONEq(t, `{"enabled":false}`, gotBody)

	res, err = r.Run(context.Background(), hook(`fail`), nil)
	require.ErrorContains(t, err, "answered 409 Conflict: flag service says no to <redacted>")
	require.NotContains(t, err.Error(), "tok3n")
	require.Equal(t, http.StatusConflict, res.Status)

	_, err = r.Run(context.Background(), &v1alpha1.Action{Webhook: &v1alpha1.Webhook{URL: "http://127.0.0.1:1/x"}}, nil)
	require.ErrorContains(t, err, "connection refused")
}
