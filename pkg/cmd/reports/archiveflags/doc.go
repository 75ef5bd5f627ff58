// Package archiveflags is the command line and configuration of the report
// archive, shared by drill run and drill reports: --archive (a directory,
// or oci://host/repository), the registry credentials and --report-dir,
// the old name of --archive that drill run still accepts.
package archiveflags
