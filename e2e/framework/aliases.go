package framework

import "github.com/firedrill/firedrill/e2e/framework/podnet"

// The names below moved to subpackages of framework; they stay here because
// the e2e tests use them through framework.

// LoopbackImage is podnet.LoopbackImage.
func LoopbackImage(ip string) (string, error) { return podnet.LoopbackImage(ip) }
