package artifact

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"unsafe"
)

// FormatVersion is the artifact layout version written in every binary
// file's header (and, by the model, to layout.json).
const FormatVersion = 1

// Binary file header: magic, kind, rows, cols (all little-endian).
const (
	magic      = "FDRM"
	kindF32    = 'f'
	kindI32    = 'i'
	kindStr    = 's'
	headerSize = 16
)

func header(kind byte, rows, cols int) []byte {
	h := make([]byte, headerSize)
	copy(h, magic)
	h[4] = FormatVersion
	h[5] = kind
	binary.LittleEndian.PutUint32(h[8:], uint32(rows))
	binary.LittleEndian.PutUint32(h[12:], uint32(cols))
	return h
}

// EncodeF32 encodes a rows x cols float32 table, row-major.
func EncodeF32(rows, cols int, v []float32) []byte {
	b := header(kindF32, rows, cols)
	b = slices.Grow(b, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// EncodeI32 encodes a rows x cols int32 table, row-major.
func EncodeI32(rows, cols int, v []int32) []byte {
	b := header(kindI32, rows, cols)
	b = slices.Grow(b, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, uint32(x))
	}
	return b
}

// EncodeStrings encodes a string table: each string as its uvarint
// length and its bytes.
func EncodeStrings(v []string) []byte {
	b := header(kindStr, len(v), 1)
	for _, s := range v {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

// checkHeader validates a header and returns rows and cols.
func checkHeader(name string, b []byte, kind byte) (int, int, error) {
	if len(b) < headerSize || string(b[:4]) != magic {
		return 0, 0, fmt.Errorf("%w: %s: bad header", ErrCorrupt, name)
	}
	if b[4] != FormatVersion || b[5] != kind {
		return 0, 0, fmt.Errorf("%w: %s: unsupported version %d or kind %q", ErrCorrupt, name, b[4], b[5])
	}
	return int(binary.LittleEndian.Uint32(b[8:])), int(binary.LittleEndian.Uint32(b[12:])), nil
}

// littleEndian reports whether the host stores words little-endian, as the
// artifact does.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// viewAs reinterprets b as n 4-byte little-endian values without copying
// when the host is little-endian and b is suitably aligned. The result
// shares b's memory, which the model owns after Load.
func viewAs[T float32 | int32](b []byte, n int) ([]T, bool) {
	if n == 0 {
		return []T{}, true
	}
	if !littleEndian || uintptr(unsafe.Pointer(&b[0]))%4 != 0 || len(b) != 4*n {
		return nil, false
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&b[0])), n), true
}

// DecodeF32 checks a float32 table of wantCols columns (any when
// negative) and returns its body and row count. The body is a view of b
// when the host allows it.
func DecodeF32(name string, b []byte, wantCols int) ([]float32, int, error) {
	return decodeTable(name, b, kindF32, wantCols, math.Float32frombits)
}

// DecodeI32 is DecodeF32 for an int32 table.
func DecodeI32(name string, b []byte, wantCols int) ([]int32, int, error) {
	return decodeTable(name, b, kindI32, wantCols, func(u uint32) int32 { return int32(u) })
}

// decodeTable checks a 4-byte-element table and returns its body, viewed in
// place when aligned, or converted element by element with conv.
func decodeTable[T float32 | int32](name string, b []byte, kind byte, wantCols int, conv func(uint32) T) ([]T, int, error) {
	rows, cols, err := checkHeader(name, b, kind)
	if err != nil {
		return nil, 0, err
	}
	if wantCols >= 0 && cols != wantCols {
		return nil, 0, fmt.Errorf("%w: %s: %d columns, want %d", ErrCorrupt, name, cols, wantCols)
	}
	n := rows * cols
	if len(b) != headerSize+4*n {
		return nil, 0, fmt.Errorf("%w: %s: size %d, want %d", ErrCorrupt, name, len(b), headerSize+4*n)
	}
	body := b[headerSize:]
	if v, ok := viewAs[T](body, n); ok {
		return v, rows, nil
	}
	out := make([]T, n)
	for i := range out {
		out[i] = conv(binary.LittleEndian.Uint32(body[4*i:]))
	}
	return out, rows, nil
}

// DecodeStrings checks a string table and returns its strings, which
// share one backing string.
func DecodeStrings(name string, b []byte) ([]string, error) {
	rows, _, err := checkHeader(name, b, kindStr)
	if err != nil {
		return nil, err
	}
	body := b[headerSize:]
	if rows > len(body) {
		return nil, fmt.Errorf("%w: %s: %d strings in %d bytes", ErrCorrupt, name, rows, len(body))
	}
	// One backing string for all entries keeps the heap compact.
	all := string(body)
	out := make([]string, rows)
	off := 0
	for i := range out {
		n, w := binary.Uvarint(body[off:])
		if w <= 0 || uint64(len(body)-off-w) < n {
			return nil, fmt.Errorf("%w: %s: truncated at entry %d", ErrCorrupt, name, i)
		}
		off += w
		out[i] = all[off : off+int(n)]
		off += int(n)
	}
	if off != len(body) {
		return nil, fmt.Errorf("%w: %s: %d trailing bytes", ErrCorrupt, name, len(body)-off)
	}
	return out, nil
}
