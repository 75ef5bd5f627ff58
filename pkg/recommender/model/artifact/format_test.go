package artifact

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecodeRejectsInconsistentFiles(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
	}{
		{"a short header", []byte("FDR")},
		{"a wrong magic", append([]byte("XXXX"), make([]byte, 12)...)},
		{"a body shorter than the header says", EncodeF32(4, 4, make([]float32, 16))[:40]},
		{"a string table with a bad length", append(header(kindStr, 2, 1), 0x7f, 'a')},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, errF := DecodeF32("x", tt.b, -1)
			_, errS := DecodeStrings("x", tt.b)
			require.ErrorIs(t, errF, ErrCorrupt)
			require.ErrorIs(t, errS, ErrCorrupt)
		})
	}
}
