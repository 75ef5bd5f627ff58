//go:build !linux

package artifact

import "os"

// mapFile reads path into memory on platforms without the Linux mapping.
func mapFile(path string) ([]byte, func() error, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return b, func() error { return nil }, nil
}
