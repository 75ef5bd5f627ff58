package exitcode

import (
	"errors"
	"fmt"
)

// Error asks main to exit with Code. The command has already told the
// user what went wrong, so main prints nothing more.
type Error struct {
	Code int
}

func (e *Error) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// Of maps an error returned by the command tree to a process exit
// code: 0 for nil, the code of an Error, and 2 for anything else (bad
// flags, broken environment).
func Of(err error) int {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 2
}

// IsReported says whether err was already shown to the user.
func IsReported(err error) bool {
	var e *Error
	return errors.As(err, &e)
}
