// Package tokenfile is how drill serve authenticates and authorizes API
// requests on one machine: bearer tokens listed in a file, each with the
// user it stands for and the rights it gives.
//
//	tokens:
//	  - user: ci
//	    token: "a long random string"  # or sha256: the token's SHA-256, hex
//	    rights: [read, trigger]
//
// The rights are read (list and get plans, runs and reports), trigger
// (start a run), abort (abort a run) and metrics (scrape /metrics). A
// *File is both the server's Authenticator and its Authorizer. Tokens are
// compared as SHA-256 digests in constant time, and a Token never prints:
// every formatting path shows <redacted>. A file that holds tokens in the
// clear must not be readable by other users (chmod 600).
package tokenfile
