// Command hello stands in for the drill binary in imagebuild's tests: a
// static Go program small enough to build in a test.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Println("hello from the image", os.Args[1:])
}
