#pragma once
/**
 * @file admin_cli.h
 * `hanko trust list` and `hanko registry add|list|remove` (docs/cli.md).
 * Private to server/.
 */
namespace hanko::server {

/** `hanko trust list ...`; returns the exit code. */
int cmd_trust(int argc, char** argv);
/** `hanko registry add|list|remove ...`; returns the exit code. */
int cmd_registry(int argc, char** argv);

}  // namespace hanko::server
