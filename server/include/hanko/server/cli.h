#pragma once
/**
 * @file cli.h
 * The `hanko` command line (docs/cli.md). Exit codes: 0 success (verify:
 * TOTAL-PASSED), 1 TOTAL-FAILED, 2 INDETERMINATE, 3 unusable input or usage
 * error, 4 a remote service (TSA) failed, 5 internal error. Errors are one
 * line on stderr.
 */
namespace hanko::server {

int run_cli(int argc, char** argv);

}  // namespace hanko::server
