package pki

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// apiServiceIP is framework's: the first address of its service range.
const apiServiceIP = "10.96.0.1"

func TestNewPKI(t *testing.T) {
	dir := t.TempDir()
	p, err := New(dir, apiServiceIP, time.Now())
	require.NoError(t, err)

	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(p.CACert))
	data, err := os.ReadFile(p.CertFile)
	require.NoError(t, err)
	block, _ := pem.Decode(data)
	require.NotNil(t, block)
	cert, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	for _, host := range []string{"127.0.0.1", "localhost", apiServiceIP} {
		_, err := cert.Verify(x509.VerifyOptions{DNSName: host, Roots: pool})
		require.NoError(t, err, host)
	}

	tokens, err := os.ReadFile(p.TokenFile)
	require.NoError(t, err)
	require.Equal(t, p.Token+`,firedrill-e2e-admin,firedrill-e2e-admin,"system:masters"`+"\n", string(tokens))
	for _, f := range []string{p.KeyFile, p.SAKeyFile, p.SAPubFile} {
		info, err := os.Stat(f)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), filepath.Base(f))
	}
}
