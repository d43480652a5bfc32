// Package codify adopts drift into infrastructure code. Deleting an
// unmanaged resource is one answer; often the right one is to write it
// down: plumb knows exactly which resources no code declares and which
// attributes drifted, so it can write the minimal change, which reviewers
// accept far more readily than a runbook.
//
// Unmanaged resources become import blocks plus the configuration
// Terraform generates for them with the real provider, cleaned of
// defaults, computed values and nulls, with references instead of literal
// ids. Changed attributes are written into the existing resource blocks,
// keeping every comment and the file's formatting, unless the value comes
// from a variable or a module. Missing resources, when asked, become
// removed blocks. Nothing is proposed before terraform plan, in a scratch
// copy of the root module, shows the imports and no other change: what
// does not converge is left out and named.
//
// The package reads findings (a JSON report, the findings store), runs
// Terraform and builds the files, the patch and the pull request content;
// the command line in cmd/plumb only wires flags to it.
package codify
