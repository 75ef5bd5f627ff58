// Package version implements `drill version`.
package version
