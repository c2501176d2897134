#pragma once
/**
 * @file admin_cli.h
 * `hanko trust list`, `hanko registry add|list|remove` and `hanko audit verify` (docs/cli.md).
 * Private to server/.
 */
namespace hanko::server {

/** `hanko trust list ...`; returns the exit code. */
int cmd_trust(int argc, char** argv);
/** `hanko registry add|list|remove ...`; returns the exit code. */
int cmd_registry(int argc, char** argv);
/** `hanko audit verify FILE`: 0 chain intact, 1 broken (names the first bad line), 3 unusable file. */
int cmd_audit(int argc, char** argv);
/** `hanko extend --level L [--config F] [--data D] [--out F] BUNDLE`: raises a signature (B-T, B-LT, B-LTA). */
int cmd_extend(int argc, char** argv);
/** `hanko archive renew --due [--as-of T] | export --id ID --out DIR | purge --id ID` (docs/cli.md). */
int cmd_archive(int argc, char** argv);

}  // namespace hanko::server
