// Package browser runs the tests' real browser: Debian's chromium,
// headless, driven by chromedp, with a recorder of what a page requested
// and logged. Without chromium a test fails naming the package to install,
// unless FIREDRILL_NO_BROWSER=1 says on purpose that the machine has none.
package browser
